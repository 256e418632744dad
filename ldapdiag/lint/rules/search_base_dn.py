"""search-base-dn: a search base that is not a DN.

The components send the base as written (postfix escapes only the expanded key parts,
dict_ldap.c rfc2253_quote()); the server parses it and OpenLDAP answers "Invalid DN syntax" (34),
which postfix turns into a temporary failure (dict_ldap_lookup(): search error), dovecot into an
internal failure and saslauthd into a failed authentication. `%` tokens are checked as if they
were filled with a plain value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ldapdiag.lint.context import LintContext
from ldapdiag.lint.dn import dn_problem
from ldapdiag.lint.effects import fails
from ldapdiag.lint.problem import LintProblem

CODES = ("search-base-dn",)
SERVER = False
DESCRIPTION = "a search base that is not a valid DN (Invalid DN syntax)"

_TOKEN = {
    "postfix": re.compile(r"%[%sSuUdD1-9]"),
    "dovecot": re.compile(r"%[-0-9.]*[LUEXRHNMDT]*(?:\{[^}]*\}|.)"),
    "saslauthd": re.compile(r"%."),
}


def check(ctx: LintContext) -> Iterator[LintProblem]:
    for use in ctx.bases():
        filled = _TOKEN[use.component].sub("x", use.value)
        problem = dn_problem(filled)
        if problem is None:
            continue
        reason, _position = problem
        hint = "write the base as a DN, e.g. ou=users,dc=example,dc=org"
        if '"' in use.value or "'" in use.value:
            hint = "remove the quote characters the compose/env file carried into the value"
        elif "=" not in use.value:
            hint = f"a domain is not a DN: {_as_dn(use.value)}"
        yield use.problem(
            "error",
            "search-base-dn",
            f"{use.name} is not a DN ({reason}): the server answers 'Invalid DN syntax' and {fails(use)}",
            hint,
        )


def _as_dn(domain: str) -> str:
    labels = [label for label in domain.strip().split(".") if label]
    return ",".join(f"dc={label}" for label in labels) if labels else "dc=example,dc=org"
