"""`%` templates of postfix's network tables: query_filter, search_base, result_format.

Mirrors global/db_common.c (postfix 3.7.11): db_common_parse() collects, over all templates of
one table, which parts of the key a template needs; db_common_expand() then fills a template,
or answers "skip" when the key (or a result value) lacks a part some template of the table needs
(the query is suppressed for every template, not only the one that uses it). Quoting mirrors
dict_ldap.c's rfc2253_quote() (search base) and rfc2254_quote() (filter).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

Quote = Callable[[str], str]

KEY_DOMAIN = 1  # DB_COMMON_KEY_DOMAIN
KEY_USER = 2  # DB_COMMON_KEY_USER
VALUE_DOMAIN = 4  # DB_COMMON_VALUE_DOMAIN
VALUE_USER = 8  # DB_COMMON_VALUE_USER
KEY_PARTIAL = 16  # DB_COMMON_KEY_PARTIAL

_FILTER_SPECIALS = frozenset("*()\\")
_DN_SPECIALS = frozenset(' \t"#+,;<>\\')


class TemplateError(ValueError):
    """A template postfix refuses with a fatal error (the text is postfix's)."""


def _quote(text: str, specials: frozenset[str]) -> str:
    if specials.isdisjoint(text):
        return text
    out: list[str] = []
    for char in text:
        if char in specials:
            out.append(f"\\{ord(char):02X}")
        else:
            out.append(char)
    return "".join(out)


def quote_filter_value(text: str) -> str:
    """rfc2254_quote(): `* ( ) \\` as `\\2A \\28 \\29 \\5C` (uppercase hex); nothing else."""
    return _quote(text, _FILTER_SPECIALS)


def quote_dn_value(text: str) -> str:
    """rfc2253_quote(): space, tab, `" # + , ; < > \\` as `\\XX`; nothing else (not `=`)."""
    return _quote(text, _DN_SPECIALS)


@dataclass
class TemplateContext:
    """DB_COMMON_CTX: what the templates of one table need from keys and values."""

    table: str  # the dict name, e.g. /etc/postfix/ldap-users.cf
    flags: int = 0
    nparts: int = 0  # highest %1..%9 used
    warnings: list[str] = field(default_factory=list)  # log lines: `warning: ...`

    def parse(self, template: str, query: bool) -> bool:
        """db_common_parse(): record the template's needs; True when it depends on the key/value."""
        dynamic = False
        index = 0
        while index < len(template):
            if template[index] != "%":
                index += 1
                continue
            code = template[index + 1 : index + 2]
            index += 2
            if code == "%":
                continue
            if code == "u":
                self.flags |= (KEY_USER | KEY_PARTIAL) if query else VALUE_USER
            elif code == "d":
                self.flags |= (KEY_DOMAIN | KEY_PARTIAL) if query else VALUE_DOMAIN
            elif code in ("s", "S"):
                pass
            elif code == "U":
                self.flags |= KEY_PARTIAL | KEY_USER
            elif code and code in "123456789":
                self.nparts = max(self.nparts, int(code))
                self.flags |= KEY_PARTIAL | KEY_DOMAIN
            elif code == "D":
                self.flags |= KEY_PARTIAL | KEY_DOMAIN
            else:
                kind = "query" if query else "result"
                raise TemplateError(f"db_common_parse: {self.table}: Invalid {kind} template: {template}")
            dynamic = True
        return dynamic

    def expand(
        self, template: str, value: str, key: str | None = None, quote: Quote | None = None
    ) -> str | None:
        """db_common_expand(): the filled template, or None when the key/value cannot fill it.

        `value` is the lookup key for a query template (key None), or a result value for the
        result template (key = the lookup key). Warnings postfix logs go to `self.warnings`.
        """
        if value == "":
            if key is not None:
                self.warnings.append(
                    f'warning: table "ldap:{self.table}": empty lookup result for: "{key}" -- ignored'
                )
            else:
                self.warnings.append(f'warning: table "ldap:{self.table}": empty query string -- ignored')
            return None
        parts = self._parts(value, key)
        if parts is None:
            return None
        vdomain, kdomain = parts
        labels: list[str] = []
        if self.nparts > 0:
            source = kdomain if key is not None else vdomain
            labels = [label for label in (source or "").split(".") if label]  # argv_split(): no empty labels
            if len(labels) < self.nparts:
                return None
        return self._fill(template, value, key, vdomain, kdomain, labels, quote or (lambda text: text))

    def _parts(self, value: str, key: str | None) -> tuple[str | None, str | None] | None:
        """The domains of value and key (text after the last `@`), or None to skip."""
        vdomain: str | None = None
        kdomain: str | None = None
        if key is not None:
            if self.flags & (VALUE_DOMAIN | VALUE_USER) and "@" in value:
                vdomain = value.rsplit("@", 1)[1]
            if (not vdomain and self.flags & VALUE_DOMAIN) or (
                vdomain is not None and value.rfind("@") == 0 and self.flags & VALUE_USER
            ):
                return None
            if self.flags & (KEY_DOMAIN | KEY_USER) and "@" in key:
                kdomain = key.rsplit("@", 1)[1]
            if (not kdomain and self.flags & KEY_DOMAIN) or (
                kdomain is not None and key.rfind("@") == 0 and self.flags & KEY_USER
            ):
                self.warnings.append(
                    f"warning: db_common_expand: {self.table}: lookup key '{value}' skipped after query"
                )
                return None
        else:
            if self.flags & (KEY_DOMAIN | KEY_USER) and "@" in value:
                vdomain = value.rsplit("@", 1)[1]
            if (not vdomain and self.flags & KEY_DOMAIN) or (
                vdomain is not None and value.rfind("@") == 0 and self.flags & KEY_USER
            ):
                return None
        return vdomain, kdomain

    def _fill(
        self,
        template: str,
        value: str,
        key: str | None,
        vdomain: str | None,
        kdomain: str | None,
        labels: list[str],
        quote: Quote,
    ) -> str:
        if "%" not in template:  # a static search_base: nothing to fill
            return template
        if template.count("%") == 1 and "%s" in template:  # e.g. (mail=%s), the result_format %s
            before, after = template.split("%s")
            return before + quote(value) + after

        def user(text: str, domain: str | None) -> str:
            return text[: len(text) - len(domain) - 1] if domain is not None else text

        out: list[str] = []
        index = 0
        while index < len(template):
            percent = template.find("%", index)
            if percent < 0:
                out.append(template[index:])
                break
            out.append(template[index:percent])
            code = template[percent + 1 : percent + 2]
            index = percent + 2
            if code == "%":
                out.append("%")
            elif code == "s":
                out.append(quote(value))
            elif code == "u":
                out.append(quote(user(value, vdomain)))
            elif code == "d":
                out.append(quote(vdomain or ""))
            elif code == "S":
                out.append(quote(key if key is not None else value))
            elif code == "U":
                out.append(quote(user(key, kdomain) if key is not None else user(value, vdomain)))
            elif code == "D":
                out.append(quote((kdomain if key is not None else vdomain) or ""))
            elif code and code in "123456789":
                out.append(quote(labels[len(labels) - int(code)]))
        return "".join(out)
