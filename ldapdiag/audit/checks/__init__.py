"""One module per fault kind; each `check(ctx)` yields the findings of one address.

The order below is the order findings are listed in. A deferral that a more specific finding
explains (a loop, a mailbox without uid) is not reported again as `defer`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ldapdiag.audit.checks import ad_truncated, bounce, dangling, defer, duplicate, login, loop, mailbox
from ldapdiag.audit.checks.context import CheckContext
from ldapdiag.audit.model import Finding

CHECKS: tuple[Callable[[CheckContext], Iterator[Finding]], ...] = (
    bounce.check,
    loop.check,
    mailbox.check,
    defer.check,
    dangling.check,
    duplicate.check,
    login.check,
    ad_truncated.check,
)
EXPLAIN_DEFER = frozenset({"loop", "mailbox"})


def run_checks(ctx: CheckContext) -> list[Finding]:
    """Every finding of one address, in CHECKS order."""
    findings: list[Finding] = []
    for check in CHECKS:
        for finding in check(ctx):
            if finding.kind == "defer" and any(f.kind in EXPLAIN_DEFER for f in findings):
                continue
            findings.append(finding)
    return findings
