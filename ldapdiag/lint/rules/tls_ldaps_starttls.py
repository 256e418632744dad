"""tls-ldaps-starttls: StartTLS asked for on an ldaps:// connection, which is already TLS.

dovecot 2.3.19.1 db-ldap.c db_ldap_connect_finish(): i_fatal("LDAP %s: Don't use both tls=yes
and ldaps URI"); postfix 3.7.11 dict_ldap_connect(): ldap_start_tls_s() fails, "Unable to set
STARTTLS", and the lookup is a temporary failure; saslauthd lak_connect(): ldap_start_tls_s()
fails and so does the authentication. The DMS docs: "the protocol must not be ldaps:// in this case".
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.lint.context import LintContext
from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.rules._tls import TLS_VARIABLE, connections

CODES = ("tls-ldaps-starttls",)
SERVER = False
DESCRIPTION = "StartTLS together with an ldaps:// URL"

_EFFECT = {
    "postfix": "postfix logs 'Unable to set STARTTLS' and every lookup is a temporary failure",
    "dovecot": "dovecot stops: 'Don't use both tls=yes and ldaps URI' (fatal), no login works",
    "saslauthd": "saslauthd's StartTLS fails on the TLS connection: every SMTP AUTH fails",
}


def check(ctx: LintContext) -> Iterator[LintProblem]:
    for conn in connections(ctx):
        ldaps = [s.url for s in conn.policy.servers if s.tls_on_connect]
        if not (conn.policy.start_tls and ldaps):
            continue
        variable = TLS_VARIABLE[conn.component]
        yield LintProblem(
            "error",
            "tls-ldaps-starttls",
            conn.component,
            conn.where,
            f"{conn.component} asks for StartTLS ({variable}=yes) on {', '.join(ldaps)}, which is TLS "
            f"already: {_EFFECT[conn.component]}",
            f"use either ldaps:// (and {variable}=no) or ldap:// with {variable}=yes",
            conn.policy.source,
        )
