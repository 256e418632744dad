"""tls-no-verify: a TLS connection whose certificate is not checked.

postfix 3.7.11 dict_ldap.c: tls_require_cert defaults to no (LDAP_OPT_X_TLS_NEVER), and DMS's
templates do not set it (no variable reaches it); saslauthd: DMS writes `ldap_tls_check_peer: no`
unless SASLAUTHD_LDAP_TLS_CHECK_PEER is set; dovecot: tls_require_cert, else ldap.conf's
TLS_REQCERT (demand by default). Without the check anyone in the path can pose as the server and
read the bind password.
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.lint.context import LintContext
from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.rules._tls import connections

CODES = ("tls-no-verify",)
SERVER = False
DESCRIPTION = "TLS without certificate verification"

_HINT = {
    "postfix": "DMS has no variable for it: put ldap-*.cf files with tls_require_cert = yes and "
    "tls_ca_cert_file = /path/ca.pem into the config volume",
    "dovecot": "set tls_require_cert = demand (or fix TLS_REQCERT in /etc/ldap/ldap.conf)",
    "saslauthd": "set SASLAUTHD_LDAP_TLS_CHECK_PEER=yes and SASLAUTHD_LDAP_TLS_CACERT_FILE=/path/ca.pem",
}


def check(ctx: LintContext) -> Iterator[LintProblem]:
    for conn in connections(ctx):
        if conn.mode == "plain" or conn.policy.tls.verifies:
            continue
        yield LintProblem(
            "warning",
            "tls-no-verify",
            conn.component,
            conn.where,
            f"{conn.component} uses TLS ({conn.mode}) but does not check the server certificate "
            f"({conn.policy.tls.describe()}): anyone in the path can pose as the server and read the "
            "bind password",
            _HINT[conn.component],
            conn.policy.source,
        )
