"""Shared by the rules about assertions that never match: one problem per dead assertion."""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.lint import filterwalk
from ldapdiag.lint.context import LintContext
from ldapdiag.lint.effects import finds_nothing
from ldapdiag.lint.matching import problems
from ldapdiag.lint.problem import LintProblem


def never_matching(ctx: LintContext, code: str, hint: str) -> Iterator[LintProblem]:
    for use, _node, dead, whole in problems(ctx, code):
        part = filterwalk.describe(dead.node)
        if whole:
            message = (
                f"{use.name}: {part} never matches: {dead.reason}; so the whole filter never matches: "
                f"{finds_nothing(use)}"
            )
        else:
            message = f"{use.name}: {part} never matches ({dead.reason}); the rest of the filter still can"
        yield use.problem("error" if whole else "warning", code, message, hint)
