"""postfix-domain-key: the domains table asks for a domain part its keys do not have.

virtual_mailbox_domains looks up bare domain names (no `@`). postfix 3.7.11 db_common_expand():
when a template of the table uses `%d`, `%D` or `%1`-`%9` (DB_COMMON_KEY_DOMAIN) and the key has
no `@`, the query is skipped for every template: the table never finds a domain.
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.lint.context import LintContext
from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.tokens import postfix_tokens

CODES = ("postfix-domain-key",)
SERVER = False
DESCRIPTION = "the domains table uses %d/%1-%9, which a bare domain key never fills"

_DOMAIN_PARTS = frozenset("dD123456789")


def check(ctx: LintContext) -> Iterator[LintProblem]:
    conf = ctx.table("domains")
    if conf is None:
        return
    for use in ctx.uses("postfix", ("query_filter", "search_base")):
        if conf.path not in use.files:
            continue
        parts = [t.text for t in postfix_tokens(use.value) if t.variable in _DOMAIN_PARTS]
        if not parts:
            continue
        yield use.problem(
            "error",
            "postfix-domain-key",
            f"{use.name} uses {', '.join(dict.fromkeys(parts))}, but ldap-domains.cf is asked for bare "
            "domain names (no '@'): postfix skips the query for every key, so no domain is accepted "
            "from the directory ('554 5.7.1 Relay access denied' for mail from outside)",
            "in the domain filter, %s is the domain: e.g. (mail=*@%s)",
        )
