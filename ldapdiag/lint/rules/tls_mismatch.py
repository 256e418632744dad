"""tls-mismatch: postfix, dovecot and saslauthd reach the same server with and without TLS.

DMS v15 has three independent switches (LDAP_START_TLS for postfix only, DOVECOT_TLS,
SASLAUTHD_LDAP_START_TLS; saslauthd.sh does not follow LDAP_START_TLS): setting one leaves the
others in plain text, and they bind with the same password.
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.lint.context import LintContext
from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.rules._tls import TLS_VARIABLE, connections, refused

CODES = ("tls-mismatch",)
SERVER = False
DESCRIPTION = "the same server reached with TLS by one component and in plain text by another"


def check(ctx: LintContext) -> Iterator[LintProblem]:
    conns = [(c.component, c.mode, c.hosts, c.where, c.policy.source) for c in connections(ctx)]
    conns += [(r.component, r.mode, r.hosts, r.where, r.source) for r in refused(ctx)]
    for component, mode, hosts, where, source in conns:
        if mode != "plain":
            continue
        secured = [c for c in conns if c[1] != "plain" and c[2] & hosts]
        if not secured:
            continue
        names = list(dict.fromkeys(f"{c[0]} ({c[1]})" for c in secured))
        others = ", ".join(names)
        yield LintProblem(
            "warning",
            "tls-mismatch",
            component,
            where,
            f"{component} talks to {', '.join(sorted(hosts))} in plain text while {others} "
            f"{'use' if len(names) > 1 else 'uses'} TLS: "
            "its searches and its bind password cross the network unencrypted (and a server that "
            "requires TLS refuses its bind)",
            f"set {TLS_VARIABLE[component]}=yes too (DMS has one switch per component)",
            source,
        )
