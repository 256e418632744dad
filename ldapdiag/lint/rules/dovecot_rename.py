"""dovecot-rename: pass_attrs renames the login to a value the user_filter cannot find again.

dovecot 2.3.19.1: a `user` field from the passdb replaces the login (auth_request_set_field(),
"user"), and the userdb lookup of the same IMAP/POP3 login runs with the NEW name
(auth-master-connection.c master_input_request(); FACTS.md, checked: the DMS docs' Basic Setup
with `uid=user` and `(mail=%u)` breaks IMAP login in the userdb). LMTP delivery does no passdb
lookup and keeps working, which hides the problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ldapdiag.directory import filters as f
from ldapdiag.lint import filterwalk
from ldapdiag.lint.context import LintContext
from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.tokens import dovecot_tokens, dovecot_variable

CODES = ("dovecot-rename",)
SERVER = False
DESCRIPTION = "pass_attrs renames the user to a value the user_filter cannot find"

_LDAP_REF = re.compile(r"^%\{ldap:([^}:]+)(?::[^}]*)?\}$")


def renamed_from(pass_attrs: str) -> tuple[str, str] | None:
    """(the attribute whose value becomes the new login, the pass_attrs item), or None.

    db_ldap_set_attrs(): `attr=field`, `attr=field=template` (template `%$` is attr's value),
    `=field=%{ldap:attr}`; a bare `attr` names field `attr`.
    """
    for item in (part.strip(" ") for part in pass_attrs.split(",")):
        if not item or item.startswith("!"):
            continue
        attr, _, rest = item.partition("=")
        field, _, template = rest.partition("=")
        if (field or attr) != "user":
            continue
        if attr and (not template or template in ("%$", "%{ldap_value}")):
            return attr, item
        match = _LDAP_REF.match(template)
        if match:
            return match.group(1), item
        return None  # a computed name: not judged
    return None


def looked_up_by(user_filter: str) -> dict[str, str]:
    """Attributes the filter compares with the whole login or its local part: {attr: variable}."""
    node = filterwalk.parse(user_filter)
    found: dict[str, str] = {}
    if not isinstance(node, f.Filter):
        return found
    for leaf in filterwalk.assertions(node):
        if not isinstance(leaf, f.Equality):
            continue
        tokens = dovecot_tokens(leaf.value.decode("utf-8", "replace"))
        if len(tokens) != 1 or tokens[0].text != leaf.value.decode("utf-8", "replace"):
            continue
        name = dovecot_variable(tokens[0])
        if name in ("user", "username"):
            found[(filterwalk.attribute(leaf) or "").lower()] = name
    return found


def check(ctx: LintContext) -> Iterator[LintProblem]:
    if ctx.dovecot is None or ctx.dms_version >= 16:
        return  # DMS v16 ignores DOVECOT_PASS_ATTRS (dms-v16-ignored)
    for attrs in ctx.uses("dovecot", ("pass_attrs",)):
        renamed = renamed_from(attrs.value)
        if renamed is None:
            continue
        attr, item = renamed
        for use in ctx.uses("dovecot", ("user_filter",)):
            compared = looked_up_by(use.value)
            if attr.lower() in compared:
                continue
            yield attrs.problem(
                "error",
                "dovecot-rename",
                f"{attrs.name}: '{item}' renames the login to its {attr} value, and the userdb lookup "
                f"of the same login then runs with that name: {use.name} = {use.value} cannot find "
                f"'{attr}' values (e.g. alice@example.org becomes 'alice', and the filter searches for "
                "'alice'): IMAP/POP3 logins fail in the userdb while LMTP delivery still works",
                f"look the user up by the same attribute (e.g. ({attr}=%u) or ({attr}=%n)), or drop "
                f"'{item}' from DOVECOT_PASS_ATTRS",
            )
