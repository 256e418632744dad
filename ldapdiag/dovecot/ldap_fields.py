"""pass_attrs / user_attrs: which LDAP attributes dovecot asks for and the fields it makes of them.

Mirrors dovecot 2.3.19.1 src/auth/db-ldap.c `db_ldap_set_attrs()` (the attribute map: `attr`,
`attr=field`, `attr=field=template`, `=field=template`, `!attr`; a template without `%` gets `%$`
appended; templates' `%{ldap:x}` attributes are requested too) and
`db_ldap_result_iterate_next()` / `db_ldap_result_return_value()` / `db_ldap_field_expand()`
(templates expanded with `%$` = the attribute's first value, `%{ldap:attr[:default]}`,
`%{ldap_dn}`; attribute names case-insensitive).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from ldapdiag.directory.directory import Entry
from ldapdiag.dovecot.var_expand import UnsupportedExpansion, Variable, var_expand

_LDAP_FUNC = re.compile(r"%[-0-9.]*[LUEXRHNMDT]*\{ldap:([^}:]*)")


@dataclass(frozen=True)
class LdapField:
    """One attribute-map entry (struct ldap_field)."""

    ldap_attr: str  # "" for a static `=field=template`
    name: str  # the dovecot field name (may contain %variables)
    template: str | None  # None: the attribute's values as they are
    skip: bool = False  # `!attr`: requested, not a field


@dataclass(frozen=True)
class AttrMap:
    """The parsed attrs setting: the fields and the attribute names sent in the search."""

    fields: tuple[LdapField, ...]
    attributes: tuple[str, ...] | None  # None: no attrs setting, every attribute is requested
    errors: tuple[str, ...] = ()  # "Invalid attrs entry" errors dovecot logs


@dataclass(unsafe_hash=True, slots=True)  # never changed once made; not frozen: see postfix/tables.py
class FieldValue:
    """One field the iteration yields: its name and values (empty: the attribute is missing)."""

    name: str
    values: tuple[str, ...]
    warnings: tuple[str, ...] = ()


@lru_cache(maxsize=64)  # the settings are parsed for every lookup; AttrMap is immutable
def parse_attrs(attrlist: str, skip_field: str | None = None) -> AttrMap:
    """db_ldap_set_attrs(): the attribute map; `skip_field` is auth_bind's "password"."""
    if attrlist == "":
        return AttrMap((), None)
    fields: list[LdapField] = []
    names: list[str] = []
    errors: list[str] = []
    for item in (part for part in attrlist.split(",") if part):
        data = item.lstrip(" ")
        if data.startswith("@") or "@" in data.split("=", 1)[0] or "%{ldap_ptr:" in data:
            raise UnsupportedExpansion(f"attrs entry {data!r}: LDAP sub-queries are not emulated by ldapdiag")
        if "=" not in data:
            ldap_attr = name = data
        else:
            ldap_attr, name = data.split("=", 1)
        template: str | None = None
        if "=" in name:
            name, template = name.split("=", 1)
            names += _LDAP_FUNC.findall(template)
            if "%" not in template:
                template += "%$"
        elif ldap_attr == "":
            template = ""
        if name == "":
            errors.append(f"Invalid attrs entry: {data}")
            continue
        if skip_field is not None and name == skip_field:
            continue
        skip = False
        if name.startswith("!") and name == ldap_attr:
            ldap_attr, name, skip = ldap_attr[1:], "", True
        fields.append(LdapField(ldap_attr, name, template, skip))
        if ldap_attr:
            names.append(ldap_attr)
    return AttrMap(tuple(fields), tuple(names), tuple(errors))


@dataclass
class _Lookup:
    entry: Entry
    warnings: list[str]

    def values(self, attribute: str) -> tuple[str, ...] | None:
        """The attribute's values (case-insensitive name), None when the server did not send it."""
        wanted = attribute.lower()
        found = [(name, values) for name, values in self.entry.raw if name.lower() == wanted]
        if not found:
            return None
        return tuple(v.split(b"\0", 1)[0].decode("utf-8", "surrogateescape") for v in found[0][1])

    def ldap(self, data: str) -> str:
        """db_ldap_field_expand(): `%{ldap:attr[:default]}`."""
        attribute, colon, default = data.partition(":")
        values = self.values(attribute)
        if not values:
            return default if colon else ""
        if len(values) > 1:
            self.warnings.append(f"Multiple values found for '{attribute}': dovecot uses the first one")
        return values[0]


class FieldIterator:
    """db_ldap_result_iterate_init() .. _next(): one field at a time, so that a `user` field set
    by the caller changes %u/%n/%d for the templates that follow, as in dovecot."""

    def __init__(self, attr_map: AttrMap, entry: Entry, skip_null_values: bool) -> None:
        self.fields = [f for f in attr_map.fields if not f.skip]
        self.lookup = _Lookup(entry, [])
        self.skip_null_values = skip_null_values
        self.index = 0

    def next(self, table: Callable[[str | None, str], tuple[Variable, ...]]) -> FieldValue | None:
        """The next field's name and values, or None at the end."""
        while self.index < len(self.fields):
            field = self.fields[self.index]
            self.index += 1
            result = self._one(field, table)
            if self.skip_null_values and not result.values:
                continue
            return result
        return None

    def _one(self, field: LdapField, table: Callable[[str | None, str], tuple[Variable, ...]]) -> FieldValue:
        self.lookup.warnings = []
        found = self.lookup.values(field.ldap_attr) if field.ldap_attr else None
        values: tuple[str, ...] = found or ()
        if field.template is not None and not (not values and field.ldap_attr):
            if len(values) > 1:
                self.lookup.warnings.append(
                    f"Multiple values found for '{field.name}': dovecot uses the first one"
                )
            expansion = var_expand(
                field.template, table(values[0] if values else None, field.template), self._funcs()
            )
            if not expansion.ok:
                self.lookup.warnings.append(f"Failed to expand template {field.template}: {expansion.error}")
            values = (expansion.text,)
        name = field.name
        if "%" in name:
            expansion = var_expand(name, table(None, name), self._funcs())
            if not expansion.ok:
                self.lookup.warnings.append(f"Failed to expand {field.name}: {expansion.error}")
            name = expansion.text
        return FieldValue(name, values, tuple(self.lookup.warnings))

    def _funcs(self) -> dict[str, Callable[[str], str | None]]:
        return {"ldap": self.lookup.ldap, "ldap_dn": lambda _data: self.lookup.entry.dn}


def requested(attr_map: AttrMap) -> Sequence[str]:
    """The attribute list of the search request (empty: all user attributes)."""
    return attr_map.attributes or ()
