"""postfix-placeholder: `%` tokens postfix does not know in query_filter, search_base, result_format.

postfix 3.7.11 global/db_common.c db_common_parse(): `%%`, `%s %u %d %1`-`%9`, `%S %U %D`; anything
else is `msg_fatal("... Invalid query template")` (result_format: "Invalid result template") when
dict_ldap_open() opens the table.
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.lint.context import LintContext
from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.tokens import postfix_invalid

CODES = ("postfix-placeholder",)
SERVER = False
DESCRIPTION = "a % token postfix does not know (fatal when the table is opened)"

_FOREIGN = {
    "n": "%n is dovecot's local part; postfix writes it %u",
    "{": "%{...} is dovecot syntax; postfix knows %s (address), %u (local part), %d (domain), %1-%9",
    "r": "%r is saslauthd's realm; postfix writes the domain as %d",
    "R": "%R is saslauthd's @realm; postfix writes the domain as %d",
    "L": "%L... is a dovecot modifier; postfix lowercases the key itself",
    "": "a % at the end; write %% for a literal %",
}


def check(ctx: LintContext) -> Iterator[LintProblem]:
    for use in ctx.uses("postfix", ("query_filter", "search_base", "result_format", "result_filter")):
        bad = postfix_invalid(use.value)
        if not bad:
            continue
        kind = "result" if use.key in ("result_format", "result_filter") else "query"
        tokens = ", ".join(dict.fromkeys(token.text for token in bad))
        hint = _FOREIGN.get(bad[0].variable, "postfix knows %s, %u, %d, %1-%9, %S, %U, %D and %%")
        yield use.problem(
            "error",
            "postfix-placeholder",
            f"{use.name}: postfix does not know {tokens}: it stops with 'fatal: Invalid {kind} template' "
            f"when it opens {', '.join(p.rsplit('/', 1)[-1] for p in use.files)}: the smtpd or "
            "trivial-rewrite that opens it dies at start (no greeting, or no reply to MAIL FROM)",
            hint,
        )
