"""domain-user-disagree: mailboxes the users table finds in domains the domain table refuses.

postfix resolves a recipient's domain first (trivial-rewrite: virtual_mailbox_domains =
/etc/postfix/vhost, ldap:/etc/postfix/ldap-domains.cf); a domain that is in neither is not local,
and mail to it from outside is refused "554 5.7.1 Relay access denied" although the users table
(virtual_mailbox_maps) knows the mailbox. Sample addresses are the directory's `mail` values,
probed through the postfix engine. Needs --server.
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.lint.context import LintContext
from ldapdiag.lint.problem import LintProblem

CODES = ("domain-user-disagree",)
SERVER = True
DESCRIPTION = "mailboxes whose domain the domain filter does not accept"
MAX_DOMAINS = 20


def check(ctx: LintContext) -> Iterator[LintProblem]:
    server = ctx.server
    users, domains = ctx.table("users"), ctx.table("domains")
    if server is None or users is None or domains is None:
        return
    use = next((u for u in ctx.uses("postfix", ("query_filter",)) if domains.path in u.files), None)
    if use is None:
        return
    factory = server.postfix_tables()
    vhost = {d.lower() for d in ctx.config.vhost}
    refused: list[str] = []
    for domain in server.sample_domains[:MAX_DOMAINS]:
        if domain in vhost:
            continue
        answer = factory.ldap(domains.path).lookup(domain)
        if answer.error is not None:
            return
        if answer.found:
            continue
        mailbox = _a_mailbox(ctx, domain)
        if mailbox is not None:
            refused.append(mailbox)
    if not refused:
        return
    yield use.problem(
        "warning",
        "domain-user-disagree",
        f"{use.name}: the users table finds {', '.join(refused[:3])}, but the domain filter does not "
        "accept their domain: postfix answers '554 5.7.1 Relay access denied' to mail from outside for them",
        "make the domain filter find every domain the users have, e.g. (mail=*@%s)",
    )


def _a_mailbox(ctx: LintContext, domain: str) -> str | None:
    server, users = ctx.server, ctx.table("users")
    assert server is not None and users is not None
    table = server.postfix_tables().ldap(users.path)
    candidates = [a for a in server.sample_addresses if a.lower().endswith("@" + domain)][:3]
    for address in candidates:
        if table.lookup(address.lower()).found:
            return address
    return None
