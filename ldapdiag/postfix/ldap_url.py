"""LDAP URLs in special_result_attribute values, as dict_ldap_get_values() uses them.

postfix calls ldap_url_parse() (OpenLDAP libldap/url.c) and searches the URL's DN, scope and
filter on its own connection (the URL's host is ignored), with url_attrs() deciding the
attributes. Only the parts postfix uses are parsed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ldapdiag.directory.servers import skip_url_prefix

# libldap's LDAP_URL_ERR_* codes (ldap.h); postfix prints them with ldap_err2string().
URL_ERR_BADENCLOSURE = 4
URL_ERR_BADURL = 5
URL_ERR_BADSCOPE = 8
_SCOPES = {"base": 0, "one": 1, "onelevel": 1, "sub": 2, "subtree": 2}
_HEX = re.compile(rb"%([0-9A-Fa-f]{2})")
DEFAULT_FILTER = "(objectclass=*)"


class LdapUrlError(ValueError):
    """ldap_url_parse() failed with `code`."""

    def __init__(self, code: int) -> None:
        super().__init__(f"LDAP URL error {code}")
        self.code = code


@dataclass(frozen=True)
class LdapUrl:
    """The DN, attributes, scope and filter of an LDAP URL."""

    dn: str
    attributes: tuple[str, ...]
    scope: int
    filter: str


def _unescape(text: str) -> str:
    data = _HEX.sub(lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8", "surrogateescape"))
    return data.decode("utf-8", "surrogateescape")


def parse_ldap_url(text: str) -> LdapUrl:
    """ldap_url_parse(): `ldap://host/dn?attrs?scope?filter`; scope defaults to base, filter to all."""
    prefix = skip_url_prefix(text)
    if prefix is None:
        raise LdapUrlError(3)
    _scheme, rest, enclosed = prefix
    if enclosed:
        if not rest.endswith(">"):
            raise LdapUrlError(URL_ERR_BADENCLOSURE)
        rest = rest[:-1]
    slash = rest.find("/")
    question = rest.find("?")
    if question >= 0 and (slash < 0 or question < slash):
        raise LdapUrlError(URL_ERR_BADURL)
    if slash < 0:
        return LdapUrl("", (), 0, DEFAULT_FILTER)
    fields = rest[slash + 1 :].split("?")
    if len(fields) > 5:
        raise LdapUrlError(URL_ERR_BADURL)
    fields += [""] * (5 - len(fields))
    dn, attrs, scope_text, query = (_unescape(part) for part in fields[:4])
    attributes = tuple(a for a in attrs.split(",") if a) if attrs else ()
    if scope_text:
        scope = _SCOPES.get(scope_text.lower())
        if scope is None:
            raise LdapUrlError(URL_ERR_BADSCOPE)
    else:
        scope = 0
    return LdapUrl(dn, attributes, scope, query or DEFAULT_FILTER)
