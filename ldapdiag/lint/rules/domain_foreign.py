"""domain-foreign: the domain filter also accepts domains the directory does not serve.

virtual_mailbox_domains = /etc/postfix/vhost, ldap:/etc/postfix/ldap-domains.cf (DMS v15
setup.d/ldap.sh): whatever domain the table answers is local to postfix, so recipients there are
looked up in virtual_mailbox_maps only and mail from the server's users to such a domain elsewhere
is rejected "550 5.1.1 User unknown in virtual mailbox table". Probed through the postfix engine
(ldapdiag/postfix: dict_ldap_lookup() as postfix sends it) with a domain that cannot exist and with
near misses of the directory's own domains (the parent domain, the name minus its first letter).
Needs --server.
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.lint.context import LintContext
from ldapdiag.lint.problem import LintProblem

CODES = ("domain-foreign",)
SERVER = True
DESCRIPTION = "the domain filter answers for domains the directory does not serve"
NOWHERE = "ldapdiag-probe.invalid"  # RFC 2606: .invalid never exists


def probes(domains: list[str]) -> list[str]:
    """Foreign domains to try: one that cannot exist, then near misses of the served ones."""
    served = set(domains)
    result = [NOWHERE]
    for domain in domains[:10]:
        parent = domain.split(".", 1)[1] if domain.count(".") >= 2 else None
        clipped = domain[1:]
        for probe in (parent, clipped):
            if probe and probe not in served and not probe.startswith(".") and probe not in result:
                result.append(probe)
    return result


def check(ctx: LintContext) -> Iterator[LintProblem]:
    server = ctx.server
    conf = ctx.table("domains")
    if server is None or conf is None:
        return
    use = next((u for u in ctx.uses("postfix", ("query_filter",)) if conf.path in u.files), None)
    if use is None:
        return
    table = server.postfix_tables().ldap(conf.path)
    accepted = []
    for probe in probes(server.sample_domains):
        result = table.lookup(probe)
        if result.error is not None:
            return  # the table fails: other rules say why
        if result.found:
            accepted.append(probe)
    if not accepted:
        return
    every = NOWHERE in accepted
    what = "every domain (even ldapdiag-probe.invalid)" if every else ", ".join(accepted)
    yield use.problem(
        "error",
        "domain-foreign",
        f"{use.name} also answers for {what}: postfix takes such domains as its own "
        "(virtual_mailbox_domains), so mail from your users to addresses there is rejected "
        "'550 5.1.1 User unknown in virtual mailbox table' instead of being sent out",
        "anchor the domain: (mail=*@%s) rather than (mail=*%s), and keep %s in the filter",
    )
