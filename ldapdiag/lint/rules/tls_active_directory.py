"""tls-ad-plain: a component talks to Active Directory without TLS.

AD domain controllers refuse simple binds over plain LDAP when they require signing: Samba AD by
default ("ldap server require strong auth = yes": "Strong(er) authentication required", FACTS.md),
Windows with LDAP signing enforced. The DMS docs: "Samba4 Active Directory requires a secure
connection ... either via SSL/TLS (LDAPS) or via StartTLS". Without a server lint recognises AD by
the names its filters and DNs use; with --server the root DSE says so (supportedCapabilities
1.2.840.113556.1.4.800).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ldapdiag.directory import filters as f
from ldapdiag.lint import filterwalk
from ldapdiag.lint.context import ComponentName, LintContext
from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.rules._tls import TLS_VARIABLE, connections

CODES = ("tls-ad-plain",)
SERVER = False
DESCRIPTION = "Active Directory (recognised or reported) reached without StartTLS or LDAPS"

AD_ATTRIBUTES = frozenset({"samaccountname", "userprincipalname", "proxyaddresses", "objectcategory"})
AD_CLASSES = frozenset({"user", "group", "computer"})
_DN_KEYS: dict[ComponentName, tuple[str, ...]] = {
    "postfix": ("bind_dn", "search_base"),
    "dovecot": ("dn", "base"),
    "saslauthd": ("ldap_bind_dn", "ldap_search_base"),
}
_AD_CONTAINER = re.compile(r"(?:^|,)\s*cn=users\s*,\s*dc=", re.IGNORECASE)


def ad_hints(ctx: LintContext) -> list[str]:
    """What in the configuration looks like Active Directory."""
    hints: list[str] = []
    for use in ctx.filters():
        node = filterwalk.parse(use.value)
        if not isinstance(node, f.Filter):
            continue
        for leaf in filterwalk.assertions(node):
            attr = (filterwalk.attribute(leaf) or "").lower()
            value = filterwalk.value_text(leaf).lower()
            if attr in AD_ATTRIBUTES:
                hints.append(f"{filterwalk.attribute(leaf)} in {use.name}")
            elif attr == "objectclass" and value in AD_CLASSES:
                hints.append(f"objectClass={filterwalk.value_text(leaf)} in {use.name}")
    for component, keys in _DN_KEYS.items():
        for use in ctx.uses(component, keys):
            if _AD_CONTAINER.search(use.value):
                hints.append(f"CN=Users in {use.name}")
    return list(dict.fromkeys(hints))


def check(ctx: LintContext) -> Iterator[LintProblem]:
    server = ctx.server
    confirmed = server is not None and server.is_active_directory
    if server is not None and not confirmed:
        return  # the server says it is not AD
    hints = [] if confirmed else ad_hints(ctx)
    if not confirmed and not hints:
        return
    why = (
        "the server's root DSE says it is Active Directory"
        if confirmed
        else ("this looks like Active Directory (" + ", ".join(hints[:3]) + ")")
    )
    for conn in connections(ctx):
        if conn.mode != "plain" or conn.policy.bind.method != "simple":
            continue
        yield LintProblem(
            "error" if confirmed else "warning",
            "tls-ad-plain",
            conn.component,
            conn.where,
            f"{why}, and {conn.component} binds without TLS: AD DCs that require signing (Samba by "
            "default) refuse it with 'Strong(er) authentication required'",
            f"set {TLS_VARIABLE[conn.component]}=yes, or use an ldaps:// URL",
            conn.policy.source,
        )
