"""substring-never-matches: a substring filter on an attribute without substring matching.

With --server the schema decides (no SUBSTR rule, e.g. postfix-book's mailGroupMember or any
DN-syntax type such as member); without a server, or against Active Directory (whose schema lists
no matching rules), the well-known DN-valued attributes (member, memberOf, uniqueMember, owner,
manager...) are flagged: `(memberOf=cn=admin,*)` never matches.
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.lint.context import LintContext
from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.rules._never import never_matching

CODES = ("substring-never-matches",)
SERVER = False
DESCRIPTION = "substring (*) filters on attributes without a SUBSTR rule, e.g. DN attributes"


def check(ctx: LintContext) -> Iterator[LintProblem]:
    yield from never_matching(
        ctx,
        "substring-never-matches",
        "compare whole values with = (a DN attribute needs the full DN, e.g. "
        "(memberOf=cn=admin,ou=groups,dc=example,dc=org)), or match an attribute with a SUBSTR rule",
    )
