"""saslauthd-domain: `%d` in saslauthd's filter or base, always empty under DMS.

cyrus-sasl 2.1.28 lak.c lak_expand_tokens(): `%d` is the part of the login after `@`, else
nothing (never the realm). DMS v15 runs `saslauthd -a ldap` without `-r`
(target/supervisor/conf.d/saslauth.conf), so postfix passes the login without its domain (the
domain travels as the realm): `%d` is always empty and `(mail=%U@%d)` searches for `mail=alice@`.
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.lint.context import LintContext
from ldapdiag.lint.effects import finds_nothing
from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.tokens import saslauthd_tokens

CODES = ("saslauthd-domain",)
SERVER = False
DESCRIPTION = "%d in saslauthd's filter or base: always empty under DMS"


def check(ctx: LintContext) -> Iterator[LintProblem]:
    for use in ctx.uses("saslauthd", ("ldap_filter", "ldap_search_base")):
        if not any(token.variable == "d" for token in saslauthd_tokens(use.value)):
            continue
        effect = finds_nothing(use) if use.key == "ldap_filter" else "the search base loses its domain part"
        yield use.problem(
            "error",
            "saslauthd-domain",
            f"{use.name}: saslauthd's %d is always empty under DMS (saslauthd runs without -r, the "
            f"domain arrives as the realm): {effect}",
            "use %r for the realm (the login's domain), or write the domain: (mail=%U@example.org)",
        )
