"""dovecot-domainless: dovecot filters that use only the local part, with several mail domains.

dovecot 2.3: `%n` is the login up to the first `@` (auth-request-var-expand.c "username"), so with
`(uniqueIdentifier=%n)` alice@a.example and alice@b.example log in to the same entry, and any
alice@<whatever> is accepted as that user. Judged with --server: the directory's addresses tell
whether it serves more than one domain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from ldapdiag.lint.context import LintContext
from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.tokens import dovecot_tokens, dovecot_variable

CODES = ("dovecot-domainless",)
SERVER = True
DESCRIPTION = "dovecot filters on %n only while the directory serves several domains"

_WHOLE = frozenset({"user", "domain", "login_user", "login_domain", "orig_user", "orig_domain"})


def check(ctx: LintContext) -> Iterator[LintProblem]:
    if ctx.server is None or ctx.dovecot is None:
        return
    domains = ctx.server.sample_domains
    if len(domains) < 2:
        return
    same = _shared_local_parts(ctx.server.sample_addresses)
    for use in ctx.uses("dovecot", ("user_filter", "pass_filter")):
        names = {dovecot_variable(t) for t in dovecot_tokens(use.value)}
        if "username" not in names or names & _WHOLE:
            continue
        example = (
            f"{same[0]} exist"
            if same
            else f"alice@{domains[0]} and alice@{domains[1]} would be the same user"
        )
        yield use.problem(
            "warning",
            "dovecot-domainless",
            f"{use.name} looks logins up by their local part (%n) only, but the directory has addresses in "
            f"{len(domains)} domains ({', '.join(domains[:4])}): {example}; the login's domain is "
            "ignored, so user@any-domain logs in as the same entry",
            "include the domain: compare the whole login, e.g. (mail=%u)",
        )


def _shared_local_parts(addresses: list[str]) -> list[str]:
    by_local: dict[str, set[str]] = defaultdict(set)
    for address in addresses:
        local, _, domain = address.rpartition("@")
        by_local[local.lower()].add(f"{local}@{domain.lower()}")
    return [" and ".join(sorted(found)) for found in by_local.values() if len(found) > 1]
