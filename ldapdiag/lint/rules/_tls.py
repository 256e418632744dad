"""Shared by the TLS rules: each used component's connection and the settings that decide its TLS."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ldapdiag.directory.policy import ConnectionPolicy, PolicyFailure
from ldapdiag.lint.context import ComponentName, LintContext, Use

TLS_KEY: dict[ComponentName, str] = {"postfix": "start_tls", "dovecot": "tls", "saslauthd": "ldap_start_tls"}
SERVER_KEY: dict[ComponentName, str] = {
    "postfix": "server_host",
    "dovecot": "uris",
    "saslauthd": "ldap_servers",
}
TLS_VARIABLE: dict[ComponentName, str] = {
    "postfix": "LDAP_START_TLS",
    "dovecot": "DOVECOT_TLS",
    "saslauthd": "SASLAUTHD_LDAP_START_TLS",
}


@dataclass(frozen=True)
class Connection:
    """One component's connection (postfix: the tables sharing one TLS setting)."""

    component: ComponentName
    policy: ConnectionPolicy
    tls_use: Use | None  # where start_tls/tls/ldap_start_tls was set (None: not in the file)
    server_use: Use | None

    @property
    def mode(self) -> str:
        if any(server.tls_on_connect for server in self.policy.servers):
            return "ldaps"
        return "starttls" if self.policy.start_tls else "plain"

    @property
    def hosts(self) -> set[str]:
        return {server.host.lower() for server in self.policy.servers if server.scheme != "ldapi"}

    @property
    def where(self) -> str:
        """The setting to change: the URL for ldaps, else the StartTLS switch."""
        use = (self.server_use or self.tls_use) if self.mode == "ldaps" else (self.tls_use or self.server_use)
        return use.where if use else TLS_VARIABLE[self.component]


def connections(ctx: LintContext) -> list[Connection]:
    """One Connection per component and distinct (servers, StartTLS) setting."""
    result: dict[tuple[object, ...], Connection] = {}
    for policy in ctx.policies:
        if not isinstance(policy, ConnectionPolicy):
            continue
        component: ComponentName = policy.component
        key = (component, tuple(s.url for s in policy.servers), policy.start_tls, policy.tls.chain)
        if key in result:
            continue
        result[key] = Connection(
            component,
            policy,
            _use_for(ctx, component, TLS_KEY[component], policy.source),
            _use_for(ctx, component, SERVER_KEY[component], policy.source),
        )
    return list(result.values())


def _use_for(ctx: LintContext, component: ComponentName, key: str, path: str) -> Use | None:
    return next((use for use in ctx.uses(component, (key,)) if path in use.files), None)


_HOST = re.compile(r"^(?:[a-z]+://)?\[?([^/\]:,\s]+)", re.IGNORECASE)
_YES = ("yes", "true", "on", "1", "y", "t")


@dataclass(frozen=True)
class Refused:
    """A component whose connection settings its program refuses: what lint can still tell."""

    component: ComponentName
    source: str
    mode: str  # "starttls", "ldaps" or "plain", read from the raw settings
    hosts: set[str]
    where: str


def refused(ctx: LintContext) -> list[Refused]:
    """Components with a refused connection setting, with the TLS mode and hosts they ask for."""
    result = []
    for item in ctx.policies:
        if not isinstance(item, PolicyFailure):
            continue
        component: ComponentName = item.component
        tls_use = _use_for(ctx, component, TLS_KEY[component], item.source)
        server_use = _use_for(ctx, component, SERVER_KEY[component], item.source)
        servers = (server_use.value if server_use else "").replace(",", " ").split()
        hosts = {m.group(1).lower() for m in (_HOST.match(s) for s in servers) if m}
        if any(s.lower().startswith("ldaps://") for s in servers):
            mode = "ldaps"
        else:
            on = tls_use is not None and tls_use.value.strip().lower().startswith(_YES)
            mode = "starttls" if on else "plain"
        where = (tls_use or server_use).where if (tls_use or server_use) else TLS_VARIABLE[component]
        result.append(Refused(component, item.source, mode, hosts, where))
    return result
