"""filter-syntax: a filter libldap refuses ("Bad search filter", -7) before anything is sent.

The check is ldapdiag's parser of libldap's filter.c (ldapdiag/directory/filters.py), run on the
template: `%` tokens expand to escaped values and cannot change the structure. Quotes and
spaces that compose or env files carried into the value are named, as they are the usual cause.
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.directory import filters as f
from ldapdiag.lint import filterwalk
from ldapdiag.lint.context import LintContext, Use
from ldapdiag.lint.effects import fails
from ldapdiag.lint.problem import LintProblem

CODES = ("filter-syntax",)
SERVER = False
DESCRIPTION = "a filter libldap refuses (unbalanced parentheses, stray quotes, spaces...)"

_QUOTES = "\"'"


def check(ctx: LintContext) -> Iterator[LintProblem]:
    for use in ctx.filters():
        error = filterwalk.parse(use.value)
        if not isinstance(error, f.FilterSyntaxError):
            continue
        yield use.problem(
            "error",
            "filter-syntax",
            f"{use.name}: libldap refuses the filter (Bad search filter): {error.reason} at position "
            f"{error.position + 1}: {fails(use)}",
            _hint(use, error),
        )


def _hint(use: Use, error: f.FilterSyntaxError) -> str:
    value = use.value
    if value[:1] in _QUOTES or value[-1:] in _QUOTES:
        return (
            "the value carries quote characters from the compose/env file; they reach the filter "
            "literally: remove them"
        )
    if value != value.strip():
        return "the value starts or ends with spaces; remove them"
    opened, closed = value.count("("), value.count(")")
    if opened != closed:
        return f"{opened} '(' but {closed} ')': balance the parentheses"
    if error.reason.startswith("unescaped"):
        return "escape ( ) * \\ in values as \\28 \\29 \\2a \\5c"
    return "write the filter as RFC 4515 says, e.g. (&(objectClass=inetOrgPerson)(mail=%s))"
