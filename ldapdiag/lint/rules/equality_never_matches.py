"""equality-never-matches: an equality filter on an attribute without an EQUALITY rule.

slapd evaluates it as Undefined (RFC 4511 4.5.1.7: no equality matching rule). Needs --server;
skipped against Active Directory, whose schema lists no matching rules.
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.lint.context import LintContext
from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.rules._never import never_matching

CODES = ("equality-never-matches",)
SERVER = True
DESCRIPTION = "equality filters on attributes without an EQUALITY rule"


def check(ctx: LintContext) -> Iterator[LintProblem]:
    if ctx.server is None:
        return
    yield from never_matching(
        ctx,
        "equality-never-matches",
        "match another attribute, or give the attribute type an EQUALITY rule in the schema",
    )
