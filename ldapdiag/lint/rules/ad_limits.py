"""ad-large-group, ad-page-size: answers postfix gets cut short by Active Directory's query limits.

postfix sends one plain search per lookup (no paging, no range retrieval). Windows DCs limit
those by the query policy's lDAPAdminLimits: at most MaxPageSize (1000) entries, then
sizeLimitExceeded (postfix: "Search error 4", a temporary failure); at most MaxValRange (1500)
values of a multi-valued attribute, sent as `member;range=0-1499` (postfix takes those values as
`member`, a subtype, and never asks for the rest). Samba 4.17 publishes the same policy but
enforces neither (checked: 1600 members and 1600+ entries in one plain search), so a directory
that works against Samba may fail against Windows. The audit reads everything in RFC 2696 pages:
- ad-large-group: a group the groups map can answer (its filter with `*` for the key) whose
  `member` has more values than MaxValRange, or arrived ranged; also past postfix's
  virtual_alias_expansion_limit (1000 addresses: "451 4.6.0 Alias expansion error" at DATA, checked
  in the sandbox);
- ad-page-size: a domain of the directory for which the domain filter finds more than
  MaxPageSize entries (e.g. `(mail=*@%s)` on a large domain).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ldapdiag.directory.problems import DirectoryProblem
from ldapdiag.lint.context import LintContext
from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.server import ServerFacts

CODES = ("ad-large-group", "ad-page-size")
SERVER = True
DESCRIPTION = "groups and domain searches larger than AD's MaxValRange / MaxPageSize"
DEFAULTS = {"MaxPageSize": 1000, "MaxValRange": 1500}
EXPANSION_LIMIT = 1000  # postfix virtual_alias_expansion_limit (DMS keeps the default)
QUERY_POLICIES = "CN=Query-Policies,CN=Directory Service,CN=Windows NT,CN=Services"
_KEY = re.compile(r"%[sSuUdD1-9]")


def key_wildcard(template: str) -> str:
    """The query filter for any key: every key expansion as `*`, `%%` as `%`."""
    return _KEY.sub("*", template).replace("%%", "%")


def admin_limits(server: ServerFacts) -> dict[str, int]:
    """MaxPageSize / MaxValRange of the Default Query Policy (AD's defaults when unreadable)."""
    limits = dict(DEFAULTS)
    config_nc = (server.root_dse.get("configurationNamingContext") or ("",))[0]
    if not config_nc or server.directory is None:
        return limits
    policy = f"CN=Default Query Policy,{QUERY_POLICIES},{config_nc}"
    try:
        outcome = server.directory.search(
            policy, "base", "(objectClass=*)", ["lDAPAdminLimits"], size_limit=0
        )
    except DirectoryProblem:
        return limits
    for value in (v for entry in outcome.entries for v in entry.values("lDAPAdminLimits")):
        name, _, number = value.partition("=")
        if name in limits and number.isdigit():
            limits[name] = int(number)
    return limits


def check(ctx: LintContext) -> Iterator[LintProblem]:
    server = ctx.server
    if server is None or not server.is_active_directory:
        return
    limits = admin_limits(server)
    who = "this Samba DC returns them all" if server.is_samba else "this DC"
    yield from _groups(ctx, server, limits, who)
    yield from _domains(ctx, server, limits, who)


def _groups(ctx: LintContext, server: ServerFacts, limits: dict[str, int], who: str) -> Iterator[LintProblem]:
    conf = ctx.table("groups")
    if conf is None or "member" not in (conf.value("special_result_attribute") or "").lower():
        return
    use = next((u for u in ctx.uses("postfix", ("query_filter",)) if conf.path in u.files), None)
    if use is None:
        return
    base = conf.value("search_base") or ""
    limit = limits["MaxValRange"]
    for entry in server.search_everything(base, key_wildcard(use.value), ["member", "mail"]):
        ranged = [name for name, _values in entry.raw if name.lower().startswith("member;range=")]
        count = sum(len(values) for name, values in entry.raw if name.lower().split(";")[0] == "member")
        if not ranged and count <= limit:
            continue
        mail = ", ".join(entry.values("mail")) or entry.dn
        if ranged:
            seen = f"the DC sent {ranged[0]}: postfix expands only those {count} members"
        else:
            seen = (
                f"{who} ({count} values of member), but a Windows DC sends only {limit} "
                f"(MaxValRange, as member;range=0-{limit - 1}) and postfix never asks for the rest"
            )
        over = (
            f"; and {count} addresses pass postfix's virtual_alias_expansion_limit ({EXPANSION_LIMIT}): "
            "postfix answers DATA with 451 4.6.0 Alias expansion error"
            if count > EXPANSION_LIMIT
            else ""
        )
        yield use.problem(
            "warning",
            "ad-large-group",
            f"{use.name}: group {mail} has more than {limit} members: {seen}{over}",
            "split it into nested groups of at most 1500 members (postfix follows nested member "
            "DNs); past 1000 addresses in all, postfix still refuses the expansion: use a mailing-list "
            "manager, or raise virtual_alias_expansion_limit (postfix-main.cf)",
        )


def _domains(
    ctx: LintContext, server: ServerFacts, limits: dict[str, int], who: str
) -> Iterator[LintProblem]:
    conf = ctx.table("domains")
    if conf is None:
        return
    use = next((u for u in ctx.uses("postfix", ("query_filter",)) if conf.path in u.files), None)
    if use is None or "%" not in use.value:
        return
    base = conf.value("search_base") or ""
    limit = limits["MaxPageSize"]
    for domain in server.sample_domains[:10]:
        query = use.value.replace("%%", "\0").replace("%s", domain).replace("%S", domain).replace("\0", "%")
        count = len(server.search_everything(base, query, ["1.1"]))
        if count <= limit:
            continue
        yield use.problem(
            "warning",
            "ad-page-size",
            f"{use.name}: the domain filter finds {count} entries for {domain}: {who}, but a "
            f"Windows DC answers postfix's plain search with at most {limit} (MaxPageSize) and "
            f"sizeLimitExceeded, which postfix takes as a temporary failure: mail to {domain} is deferred",
            "make the domain filter find few entries per domain (e.g. one object per mail domain); "
            "the container's own domain is accepted anyway (/etc/postfix/vhost)",
        )
