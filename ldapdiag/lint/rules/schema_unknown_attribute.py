"""schema-unknown-attribute: attribute types the server's schema does not have.

In filters the assertion is Undefined (slapd: never True, no error); in the attributes a search
asks for (postfix result_attribute & co., dovecot pass_attrs/user_attrs, saslauthd
ldap_password_attr) the server simply returns nothing for it (RFC 4511 4.5.1.8). Needs --server.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ldapdiag.lint.context import LintContext, Use
from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.rules._never import never_matching

CODES = ("schema-unknown-attribute",)
SERVER = True
DESCRIPTION = "attributes the server's schema does not know (filters, result and attrs lists)"

_POSTFIX_LISTS = (
    "result_attribute",
    "special_result_attribute",
    "terminal_result_attribute",
    "leaf_result_attribute",
)
_LDAP_REF = re.compile(r"%[-0-9.]*[LUEXRHNMDT]*\{ldap:([^}:]+)")
_SPECIAL = frozenset({"*", "+", "1.1", ""})
_CRITICAL_FIELDS = frozenset({"password", "user"})


def check(ctx: LintContext) -> Iterator[LintProblem]:
    if ctx.server is None or ctx.server.schema is None:
        return
    yield from never_matching(
        ctx, "schema-unknown-attribute", "check the spelling against the server's schema"
    )
    yield from _requested(ctx)


def _requested(ctx: LintContext) -> Iterator[LintProblem]:
    schema = ctx.server.schema  # type: ignore[union-attr]
    assert schema is not None
    for use in ctx.uses("postfix", _POSTFIX_LISTS):
        names = [n for n in re.split(r"[,\s]+", use.value) if n not in _SPECIAL]
        unknown = [n for n in names if schema.attribute(n) is None]
        if not unknown:
            continue
        only = use.key == "result_attribute" and len(unknown) == len(names)
        effect = "the table never returns a value" if only else "those values are never returned"
        yield _problem(use, "error" if only else "warning", unknown, effect)
    for use in ctx.uses("dovecot", ("pass_attrs", "user_attrs")):
        for attr, field in _dovecot_attrs(use.value):
            if schema.attribute(attr) is not None:
                continue
            critical = use.key == "pass_attrs" and field in _CRITICAL_FIELDS
            effect = f"the {field or attr} field is never set"
            if critical and field == "password":
                effect += ": dovecot finds no password and every login fails"
            yield _problem(use, "error" if critical and field == "password" else "warning", [attr], effect)
    for use in ctx.uses("saslauthd", ("ldap_password_attr",)):
        if use.value and schema.attribute(use.value) is None:
            yield _problem(use, "error", [use.value], "saslauthd finds no password to compare")


def _problem(use: Use, level: str, names: list[str], effect: str) -> LintProblem:
    listed = ", ".join(repr(n) for n in names)
    return use.problem(
        level,  # type: ignore[arg-type]
        "schema-unknown-attribute",
        f"{use.name}: the server's schema has no attribute type {listed}: {effect}",
        "check the spelling against the server's schema",
    )


def _dovecot_attrs(attrlist: str) -> Iterator[tuple[str, str]]:
    """(LDAP attribute, dovecot field) pairs of pass_attrs/user_attrs (db_ldap_set_attrs())."""
    for item in (part.strip(" ") for part in attrlist.split(",")):
        if not item:
            continue
        attr, _, rest = item.lstrip("!").partition("=")
        field, _, template = rest.partition("=")
        if attr:
            yield attr, field or attr
        for ref in _LDAP_REF.findall(template):
            yield ref, field
