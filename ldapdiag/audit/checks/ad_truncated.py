"""ad-truncated: an Active Directory group whose `member` postfix sees cut short. postfix sends one
plain search (no range retrieval): a Windows DC answers with at most MaxValRange (1500) values,
as `member;range=0-1499`, which postfix takes as `member` and never completes (lint rule
ad-large-group; tests/fake_ad.py). Seen while enumerating the groups table's entries."""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.audit.checks.context import CheckContext
from ldapdiag.audit.model import Finding


def check(ctx: CheckContext) -> Iterator[Finding]:
    yield from ctx.candidate.findings
