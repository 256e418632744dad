"""Which filter assertions can never be True, and why (shared by the schema rules).

OpenLDAP 2.5 (servers/slapd/filter.c get_filter()/get_ssa(), mra.c): an assertion on an attribute
type the schema does not have, a substring assertion on a type without SUBSTR matching rule, an
equality assertion on a type without EQUALITY rule, and an objectClass value that names no
object class all evaluate to Undefined: the search succeeds and never returns an entry through
that assertion. Checked against slapd with the postfix-book schema in
tests/integration/test_lint_server.py. Active Directory lists no matching rules in its schema;
its documentation ("Active Directory: LDAP Syntax Filters": "The wildcard character '*' is
allowed, except when the <AD Attribute> is a DN attribute ... only the equality operator is
allowed") rules out substrings on DN attributes, which is also what lint assumes without a server.
Samba AD is the exception (checked against Samba 4.17: `(memberOf=cn=Domain Admins,cn=Users,dc=*)`
finds the domain's admins): against Samba the assertion is not dead; rule dn-substring-samba warns.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ldapdiag.directory import filters as f
from ldapdiag.lint import filterwalk
from ldapdiag.lint.context import LintContext, Use
from ldapdiag.lint.schema import DN_SYNTAX, NAME_AND_OPTIONAL_UID_SYNTAX, Schema

# DN-valued attributes of the standard schemas (RFC 4519 member, uniqueMember, owner, roleOccupant,
# seeAlso; RFC 4524 manager, secretary; OpenLDAP's memberof overlay and AD memberOf; AD
# distinguishedName, directReports, managedBy): EQUALITY distinguishedNameMatch, no SUBSTR.
KNOWN_DN_ATTRIBUTES = frozenset(
    {
        "member",
        "memberof",
        "uniquemember",
        "owner",
        "roleoccupant",
        "seealso",
        "manager",
        "secretary",
        "distinguishedname",
        "directreports",
        "managedby",
    }
)


@dataclass(frozen=True)
class Dead:
    """One assertion that is always Undefined."""

    code: str
    node: f.Filter
    reason: str


def dead_assertions(ctx: LintContext, node: f.Filter) -> list[Dead]:
    """Every assertion of `node` that can never be True, by the schema (or the known DN types)."""
    schema = ctx.server.schema if ctx.server is not None else None
    rules_listed = ctx.server.matching_rules_listed if ctx.server is not None else False
    samba = ctx.server is not None and ctx.server.is_samba
    result = []
    for leaf in filterwalk.assertions(node):
        dead = _judge(leaf, schema, rules_listed)
        if dead is not None and samba and dead.code == "substring-never-matches":
            continue  # Samba matches it (rule dn-substring-samba says why it is still wrong)
        if dead is not None:
            result.append(dead)
    return result


def _judge(leaf: f.Filter, schema: Schema | None, rules_listed: bool) -> Dead | None:
    name = filterwalk.attribute(leaf)
    if name is None:
        return None
    if schema is not None:
        attr = schema.attribute(name)
        if attr is None:
            return Dead(
                "schema-unknown-attribute", leaf, f"the server's schema has no attribute type {name!r}"
            )
        if (
            isinstance(leaf, f.Equality)
            and name.lower() == "objectclass"
            and not schema.knows_object_class(leaf.value.decode("utf-8", "replace"))
        ):
            value = leaf.value.decode("utf-8", "replace")
            if "%" not in value:
                return Dead(
                    "schema-unknown-objectclass", leaf, f"the server's schema has no object class {value!r}"
                )
        if rules_listed:
            return _matching(leaf, name, schema)
    if isinstance(leaf, f.Substrings) and name.lower() in KNOWN_DN_ATTRIBUTES:
        return Dead(
            "substring-never-matches",
            leaf,
            f"{name} holds DNs, and DN values have no substring matching (only equality; Samba AD "
            "alone matches them as strings)",
        )
    return None


def _matching(leaf: f.Filter, name: str, schema: Schema) -> Dead | None:
    display = schema.primary_name(name)
    if isinstance(leaf, f.Substrings) and schema.substr(name) is None:
        syntax = schema.syntax(name)
        kind = " holds DNs and" if syntax in (DN_SYNTAX, NAME_AND_OPTIONAL_UID_SYNTAX) else ""
        equality = schema.equality(name)
        rule = f" (only EQUALITY {equality})" if equality else ""
        return Dead(
            "substring-never-matches",
            leaf,
            f"{display}{kind} has no SUBSTR matching rule in the server's schema{rule}",
        )
    if isinstance(leaf, f.Equality) and schema.equality(name) is None:
        return Dead(
            "equality-never-matches", leaf, f"{display} has no EQUALITY matching rule in the server's schema"
        )
    return None


def problems(ctx: LintContext, code: str) -> Iterator[tuple[Use, f.Filter, Dead, bool]]:
    """(filter setting, parsed filter, dead assertion, whether the whole filter never matches)."""
    for use in ctx.filters():
        node = filterwalk.parse(use.value)
        if not isinstance(node, f.Filter):
            continue
        dead = dead_assertions(ctx, node)
        if not dead:
            continue
        ids = {id(item.node) for item in dead}
        samba = ctx.server is not None and ctx.server.is_samba
        dead_value: filterwalk.Truth = "false" if samba else "undefined"  # Samba: unknown attrs are False
        whole = filterwalk.never_matches(node, lambda leaf, ids=ids: id(leaf) in ids, dead_value)  # type: ignore[misc]
        for item in dead:
            if item.code == code:
                yield use, node, item, whole
