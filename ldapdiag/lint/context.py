"""What the rules look at: the configuration, the settings each component really uses, the server.

Only what a component reads counts: the postfix tables main.cf names (ldap-senders.cf only with
SPOOF_PROTECTION=1 and a senders filter), dovecot unless SMTP_ONLY=1, saslauthd when
ENABLE_SASLAUTHD=1 and SASLAUTHD_MECHANISMS includes ldap.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Literal

from ldapdiag.config.model import ConfEntry, ConfFile, MailServerConfig
from ldapdiag.config.saslauthd_conf import effective_settings
from ldapdiag.directory.ldapconf import LdapConf, read_ldap_conf
from ldapdiag.directory.policies import connection_policies
from ldapdiag.directory.policy import ConnectionPolicy, PolicyFailure
from ldapdiag.lint.problem import Level, LintProblem

if TYPE_CHECKING:
    from ldapdiag.lint.server import ServerFacts

ComponentName = Literal["postfix", "dovecot", "saslauthd"]

_LDAP_TABLE = re.compile(r"(?:^|[\s,])(?:proxy:)?ldap:(\S+?)(?=[\s,]|$)")
_POSTFIX_TABLE_VARIABLE = {
    "users": "LDAP_QUERY_FILTER_USER",
    "groups": "LDAP_QUERY_FILTER_GROUP",
    "aliases": "LDAP_QUERY_FILTER_ALIAS",
    "domains": "LDAP_QUERY_FILTER_DOMAIN",
    "senders": "LDAP_QUERY_FILTER_SENDERS",
}
_SASLAUTHD_VARIABLE = {
    "ldap_servers": "SASLAUTHD_LDAP_SERVER",
    "ldap_bind_dn": "SASLAUTHD_LDAP_BIND_DN",
    "ldap_search_base": "SASLAUTHD_LDAP_SEARCH_BASE",
    "ldap_filter": "SASLAUTHD_LDAP_FILTER",
    "ldap_start_tls": "SASLAUTHD_LDAP_START_TLS",
    "ldap_tls_check_peer": "SASLAUTHD_LDAP_TLS_CHECK_PEER",
}


@dataclass(frozen=True)
class Use:
    """One setting as a component uses it, merged over the files that got it from one place.

    `targets` are the settings it fills, e.g. ("user_filter", "pass_filter") of dovecot, or
    ("search_base",) of four postfix tables; `files` the configuration files.
    """

    component: ComponentName
    key: str
    value: str
    where: str
    variable: str  # the DMS variable that set it (or would set it), "" when unknown
    files: tuple[str, ...]
    keys: tuple[str, ...]
    entries: tuple[ConfEntry, ...]

    @property
    def setting(self) -> str:
        """e.g. `query_filter of ldap-users.cf, ldap-groups.cf` or `user_filter, pass_filter of ...`."""
        names = ", ".join(dict.fromkeys(self.keys))
        files = ", ".join(dict.fromkeys(path.rsplit("/", 1)[-1] for path in self.files))
        return f"{names} of {files}"

    @property
    def name(self) -> str:
        """How messages name it: the variable when known, else the setting."""
        return self.variable or self.setting

    def problem(self, level: Level, code: str, message: str, hint: str = "") -> LintProblem:
        """A LintProblem located where this setting was written."""
        return LintProblem(level, code, self.component, self.where, message, hint, self.setting)


def where_of(conf: ConfFile, entry: ConfEntry, key: str) -> tuple[str, str]:
    """(where, variable) for one entry: the line the user wrote, else the variable, else the file."""
    origin = entry.origin
    variable = origin.variable or (_variable_for(conf, key) if conf.rendered else "")
    if origin.kind in ("env-file", "compose", "file") and origin.location:
        return origin.location, variable
    if origin.kind == "set":
        return f"--set {variable}" if variable else "--set", variable
    if conf.rendered and variable:
        return variable, variable
    return f"{conf.path}:{entry.line}", variable


def _variable_for(conf: ConfFile, key: str) -> str:
    """The DMS variable that writes `key` into a rendered file."""
    name = conf.path.rsplit("/", 1)[-1]
    if conf.format == "postfix" and name.startswith("ldap-"):
        table = name.removeprefix("ldap-").removesuffix(".cf")
        if key == "query_filter":
            return _POSTFIX_TABLE_VARIABLE.get(table, "")
        return f"LDAP_{key.upper()}"
    if conf.format == "dovecot" and name == "dovecot-ldap.conf.ext":
        return f"DOVECOT_{key.upper()}"
    if conf.format == "saslauthd":
        return _SASLAUTHD_VARIABLE.get(key, "")
    return ""


@dataclass
class LintContext:
    """The configuration under lint, with the optional server facts and DMS version."""

    config: MailServerConfig
    dms_version: int = 15
    ldap_conf: LdapConf = field(default_factory=read_ldap_conf)
    server: ServerFacts | None = None

    # ------------------------------------------------------------------------------------------
    # which files are used

    @cached_property
    def postfix_tables(self) -> list[ConfFile]:
        """The ldap tables main.cf names, in the order it names them (all of them if it names none)."""
        named: list[str] = []
        for entry in self.config.postfix_main.effective().values():
            for match in _LDAP_TABLE.finditer(entry.value):
                path = match.group(1)
                if path in self.config.postfix_tables and path not in named:
                    named.append(path)
        paths = named or list(self.config.postfix_tables)
        return [self.config.postfix_tables[path] for path in paths]

    def table(self, name: str) -> ConfFile | None:
        """A used DMS table by short name (users, groups, aliases, domains, senders)."""
        path = f"/etc/postfix/ldap-{name}.cf"
        return next((conf for conf in self.postfix_tables if conf.path == path), None)

    @property
    def dovecot(self) -> ConfFile | None:
        return self.config.dovecot_ldap

    @property
    def saslauthd(self) -> ConfFile | None:
        """saslauthd.conf when saslauthd authenticates against LDAP."""
        if self.config.saslauthd is None:
            return None
        mechanisms = self.config.settings.value("SASLAUTHD_MECHANISMS")
        if mechanisms is not None and "ldap" not in mechanisms.split():
            return None
        return self.config.saslauthd

    def files(self) -> list[tuple[ComponentName, ConfFile]]:
        """Every used file with its component."""
        result: list[tuple[ComponentName, ConfFile]] = [("postfix", conf) for conf in self.postfix_tables]
        if self.dovecot is not None:
            result.append(("dovecot", self.dovecot))
        if self.saslauthd is not None:
            result.append(("saslauthd", self.saslauthd))
        return result

    # ------------------------------------------------------------------------------------------
    # settings

    def entry(self, conf: ConfFile, key: str) -> ConfEntry | None:
        """The effective entry as the component reads the file (saslauthd: lak_config_read())."""
        if conf.format == "saslauthd":
            return effective_settings(conf).get(key)
        return conf.get(key)

    def uses(self, component: ComponentName, keys: tuple[str, ...]) -> list[Use]:
        """The settings `keys` of `component`'s used files, merged where value and origin agree."""
        merged: dict[tuple[str, str], list[tuple[ConfFile, str, ConfEntry]]] = {}
        for owner, conf in self.files():
            if owner != component:
                continue
            for key in keys:
                entry = self.entry(conf, key)
                if entry is None:
                    continue
                where, _ = where_of(conf, entry, key)
                merged.setdefault((entry.value, where), []).append((conf, key, entry))
        result = []
        for (value, where), items in merged.items():
            conf, key, entry = items[0]
            _, variable = where_of(conf, entry, key)
            result.append(
                Use(
                    component,
                    key,
                    value,
                    where,
                    variable,
                    tuple(dict.fromkeys(c.path for c, _, _ in items)),
                    tuple(dict.fromkeys(k for _, k, _ in items)),
                    tuple(e for _, _, e in items),
                )
            )
        return result

    def filters(self) -> Iterator[Use]:
        """Every search filter a component sends: query_filter, user_filter/pass_filter, ldap_filter."""
        yield from self.uses("postfix", ("query_filter",))
        yield from self.uses("dovecot", ("user_filter", "pass_filter"))
        yield from self.uses("saslauthd", ("ldap_filter",))

    def bases(self) -> Iterator[Use]:
        """Every search base: search_base, base, ldap_search_base."""
        yield from self.uses("postfix", ("search_base",))
        yield from self.uses("dovecot", ("base",))
        yield from self.uses("saslauthd", ("ldap_search_base",))

    def setting(self, name: str) -> str | None:
        """A DMS variable's value (None when unset)."""
        return self.config.settings.value(name)

    def setting_where(self, name: str) -> str:
        """Where a DMS variable was set: its file:line, else its name."""
        setting = self.config.settings.get(name)
        if setting is None:
            return name
        origin = setting.origin
        if origin.kind in ("env-file", "compose", "file") and origin.location:
            return origin.location
        return name

    # ------------------------------------------------------------------------------------------
    # connections

    @cached_property
    def policies(self) -> list[ConnectionPolicy | PolicyFailure]:
        """The connection of every used file (postfix tables, dovecot, saslauthd)."""
        used = {conf.path for _, conf in self.files()}
        return [item for item in connection_policies(self.config, self.ldap_conf) if item.source in used]
