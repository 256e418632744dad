"""schema-unknown-objectclass: `(objectClass=X)` where the server's schema has no class X.

slapd evaluates the assertion as Undefined (objectIdentifierMatch cannot normalise an unknown
name): it never matches. Needs --server.
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.lint.context import LintContext
from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.rules._never import never_matching

CODES = ("schema-unknown-objectclass",)
SERVER = True
DESCRIPTION = "objectClass values the server's schema does not know"


def check(ctx: LintContext) -> Iterator[LintProblem]:
    if ctx.server is None or ctx.server.schema is None:
        return
    yield from never_matching(
        ctx,
        "schema-unknown-objectclass",
        "use an object class the entries have (ldapsearch ... objectClass), or load its schema",
    )
