"""Tables and table lists built from the configuration, as postfix opens them.

`type:name` specs as dict_open() opens them (util/dict_open.c): `ldap:` tables (one shared
Directory per connection, like dict_ldap_conn_find()), `static:`, `inline:`, `fail:`; other
types are reported as unsupported (an error, never a silent "not found"). Main.cf parameters
become table lists (global/maps.c maps_create()/maps_find()) or, for virtual_mailbox_domains
and virtual_alias_domains, string lists (trivial-rewrite's string_list_init(..., MATCH_FLAG_RETURN)).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from ldapdiag.config.model import ConfEntry, ConfFile, MailServerConfig
from ldapdiag.config.postfix_cf import expand_postfix_value, read_postfix_cf, split_table_list
from ldapdiag.directory.directory import Directory
from ldapdiag.directory.ldapconf import LdapConf, read_ldap_conf
from ldapdiag.directory.policy import ConnectionPolicy, PolicyError
from ldapdiag.directory.policy_postfix import postfix_policy
from ldapdiag.directory.trace import Trace
from ldapdiag.errors import InputError, LdapdiagError
from ldapdiag.postfix.keys import KeyPolicy, casefold
from ldapdiag.postfix.ldap_config import LdapConfigError, read_ldap_table
from ldapdiag.postfix.ldap_table import LdapTable
from ldapdiag.postfix.match_list import StringList, parse_string_list
from ldapdiag.postfix.tables import LookupResult, QueryStep, Table, TableList

# `ldapdiag lookup users` etc.: the DMS table files.
DMS_MAPS = {
    "users": "/etc/postfix/ldap-users.cf",
    "aliases": "/etc/postfix/ldap-aliases.cf",
    "groups": "/etc/postfix/ldap-groups.cf",
    "domains": "/etc/postfix/ldap-domains.cf",
    "senders": "/etc/postfix/ldap-senders.cf",
}
# postfix 3.7 defaults of the table parameters ldapdiag answers for (postconf -d).
PARAMETER_DEFAULTS = {
    "virtual_maps": "",
    "virtual_alias_maps": "$virtual_maps",
    "virtual_mailbox_maps": "",
    "virtual_mailbox_domains": "$virtual_mailbox_maps",
    "virtual_alias_domains": "$virtual_alias_maps",
    "smtpd_sender_login_maps": "",
    "relay_recipient_maps": "",
    "canonical_maps": "",
    "sender_canonical_maps": "",
    "recipient_canonical_maps": "",
    "transport_maps": "",
    "sender_bcc_maps": "",
    "recipient_bcc_maps": "",
    "sender_dependent_relayhost_maps": "",
}
STRING_LIST_PARAMETERS = frozenset({"virtual_mailbox_domains", "virtual_alias_domains"})
# Lists with other matching rules (parent domains, host names, networks): not emulated.
OTHER_LIST_PARAMETERS = frozenset(
    {
        "mydestination",
        "relay_domains",
        "mynetworks",
        "permit_mx_backup_networks",
        "fast_flush_domains",
        "smtpd_client_restrictions",
        "inet_interfaces",
        "proxy_interfaces",
    }
)


class MapError(LdapdiagError):
    """The MAP argument names nothing ldapdiag can query."""


def main_cf_values(main: ConfFile) -> dict[str, str]:
    """The raw (unexpanded) main.cf parameters, postfix defaults added for the table parameters."""
    raw = dict(PARAMETER_DEFAULTS)
    raw.update({key: entry.value for key, entry in main.effective().items()})
    return raw


def parameter_value(main: ConfFile, name: str) -> str | None:
    """mail_conf_lookup_eval(): a main.cf parameter, $name expanded; None when unset and unknown."""
    raw = main_cf_values(main)
    if name not in raw:
        return None
    return expand_postfix_value(raw[name], raw, where=f"main.cf {name}")


def smtputf8_enabled(main: ConfFile) -> bool:
    """var_smtputf8_enable (util_utf8_enable): default yes from compatibility_level 1 on, else no."""
    value = parameter_value(main, "smtputf8_enable")
    if value is None:
        level = parameter_value(main, "compatibility_level") or "0"
        major = level.split(".", 1)[0]
        return major.isdigit() and int(major) >= 1
    return value.strip().lower() == "yes"


# ---------------------------------------------------------------------------------------------
# one Directory per connection


@dataclass
class DirectoryPool:
    """dict_ldap_conn_find(): tables with the same connection settings share one connection."""

    trace: Trace = field(default_factory=Trace)
    ca_files: tuple[Path, ...] = ()
    ca_dirs: tuple[Path, ...] = ()
    ldap_conf: LdapConf | None = None
    local_fqdn: str | None = None
    _directories: dict[tuple[object, ...], Directory] = field(default_factory=dict)
    _known: dict[int, tuple[ConnectionPolicy, Directory]] = field(default_factory=dict)  # by id(policy)

    def policy(self, conf: ConfFile, version: int) -> ConnectionPolicy:
        """The ConnectionPolicy of one ldap table, with Debian's protocol version default."""
        if self.ldap_conf is None:
            self.ldap_conf = read_ldap_conf()
        try:
            policy = postfix_policy(conf, self.ldap_conf, self.local_fqdn)
        except PolicyError as error:
            raise LdapdiagError(str(error)) from None
        return policy if policy.version == version else replace(policy, version=version)

    def directory(self, policy: ConnectionPolicy) -> Directory:
        """The shared Directory for this connection."""
        known = self._known.get(id(policy))  # lookups ask once per key: no connection_key() each time
        if known is not None and known[0] is policy:
            return known[1]
        key = policy.connection_key()
        if key not in self._directories:
            self._directories[key] = Directory(policy, self.trace, self.ca_files, self.ca_dirs)
        self._known[id(policy)] = (policy, self._directories[key])
        return self._directories[key]

    def reset(self, policy: ConnectionPolicy) -> None:
        """Tear the shared connection down: the next user connects (and binds) again."""
        self._known.clear()
        directory = self._directories.pop(policy.connection_key(), None)
        if directory is not None:
            directory.close()

    def close(self) -> None:
        """Unbind every connection."""
        for directory in self._directories.values():
            directory.close()
        self._directories.clear()
        self._known.clear()


@dataclass(frozen=True)
class SharedConnection:
    """One table's handle on the pool's connection for its policy (ldap_table.Connection)."""

    pool: DirectoryPool
    policy: ConnectionPolicy

    def get(self) -> Directory:
        """The shared Directory."""
        return self.pool.directory(self.policy)

    def reset(self) -> None:
        """dict_ldap_unbind(): the next lookup reconnects."""
        self.pool.reset(self.policy)


# ---------------------------------------------------------------------------------------------
# tables by type:name


@dataclass(frozen=True)
class FixedTable:
    """`static:`, `inline:` and `fail:` tables (util/dict_static.c, dict_inline.c, dict_fail.c)."""

    name: str
    values: dict[str, str] | None = None  # inline: folded key -> value
    static: str | None = None
    fail: bool = False

    def lookup(self, key: str) -> LookupResult:
        """dict_static_lookup(), dict_inline (dict_ht) lookup, dict_fail_lookup()."""
        if self.fail:
            return LookupResult(key, self.name, None, f"{self.name}: table lookup fails by design", ())
        if self.static is not None:
            return LookupResult(key, self.name, self.static)
        return LookupResult(key, self.name, (self.values or {}).get(casefold(key, False)))


@dataclass(frozen=True)
class UnavailableTable:
    """A table ldapdiag cannot read, or one postfix cannot open (dict_surrogate): lookups fail."""

    name: str
    reason: str

    def lookup(self, key: str) -> LookupResult:
        """dict_surrogate_lookup(): a warning and a temporary failure."""
        line = f"{self.name} is unavailable. {self.reason}"
        return LookupResult(key, self.name, None, line, (QueryStep(self.name, "log", f"warning: {line}"),))


def _braced(text: str) -> str:
    """`{ text }` -> `text` (dict_open's brace syntax), otherwise the text."""
    stripped = text.strip()
    if stripped.startswith("{") and stripped.endswith("}"):
        return stripped[1:-1].strip()
    return stripped


def _inline(spec: str, body: str) -> FixedTable:
    values: dict[str, str] = {}
    for item in split_table_list(_braced(body)):
        name, _, value = _braced(item).partition("=")
        values[casefold(name.strip(), False)] = value.strip()
    return FixedTable(spec, values=values)


@dataclass
class TableFactory:
    """Opens `type:name` tables for one configuration (each spec once, like dict_handle())."""

    config: MailServerConfig
    pool: DirectoryPool
    utf8: bool = False
    _opened: dict[tuple[str, bool], Table] = field(default_factory=dict)

    def open(self, spec: str, fold: bool = True) -> Table:
        """dict_open(): the table for `spec`; `fold` as DICT_FLAG_FOLD_FIX."""
        cache_key = (spec, fold)
        if cache_key not in self._opened:
            self._opened[cache_key] = self._open(spec, fold)
        return self._opened[cache_key]

    def _open(self, spec: str, fold: bool) -> Table:
        kind, sep, name = spec.partition(":")
        if not sep or not kind:
            raise MapError(f"{spec}: need dictionary_type:dictionary_name format")
        if kind == "ldap":
            return self.ldap(name, fold)
        if kind == "static":
            return FixedTable(spec, static=_braced(name))
        if kind == "inline":
            return _inline(spec, name)
        if kind == "fail":
            return FixedTable(spec, fail=True)
        return UnavailableTable(
            spec, f"ldapdiag cannot query {kind}: tables (only ldap, static, inline, fail)"
        )

    def ldap(self, path: str, fold: bool = True) -> Table:
        """dict_ldap_open(path): the file from the configuration, else from this machine."""
        conf = self._ldap_conf_file(path)
        if conf is None:
            return UnavailableTable(f"ldap:{path}", f"open {path}: No such file or directory")
        try:
            config = read_ldap_table(conf)
        except LdapConfigError as error:
            raise LdapConfigError(f"fatal: {error}") from None
        policy = self.pool.policy(conf, config.version)
        domains = None
        if config.domain:
            domains = parse_string_list(
                path, config.domain, lambda s: self.open(s, fold=False), self.read_file, self.utf8
            )
        return LdapTable(
            config,
            SharedConnection(self.pool, policy),
            keys=KeyPolicy(fold=fold, utf8=self.utf8),
            domains=domains,
        )

    def ldap_file(self, path: str) -> ConfFile | None:
        """The ldap_table file `ldap:path` names: the configuration's, else this machine's (None: none)."""
        return self._ldap_conf_file(path)

    def _ldap_conf_file(self, path: str) -> ConfFile | None:
        if path in self.config.postfix_tables:
            return self.config.postfix_tables[path]
        if not path.startswith(("/", ".")):
            return self._main_cf_table(path)
        if not Path(path).is_file():
            return None
        return read_postfix_cf(Path(path), path, tolerant=True)

    def _main_cf_table(self, prefix: str) -> ConfFile:
        """cfg_parser_alloc() for a name without `/`: `NAME_parameter` settings of main.cf."""
        raw = main_cf_values(self.config.postfix_main)
        entries = []
        for key, entry in self.config.postfix_main.effective().items():
            if key.startswith(f"{prefix}_"):
                value = expand_postfix_value(entry.value, raw, where=f"main.cf {key}")
                entries.append(
                    ConfEntry(key[len(prefix) + 1 :], value, entry.line, entry.last_line, entry.origin)
                )
        return ConfFile(prefix, "postfix", "", tuple(entries))

    def read_file(self, path: str) -> str | None:
        """match_list_parse()'s /file: virtual_mailbox_domains files give the configuration's vhost.

        That is what DMS writes (or what the container copy holds); other files are read here.
        """
        domains_files = split_table_list(
            parameter_value(self.config.postfix_main, "virtual_mailbox_domains") or ""
        )
        if path == "/etc/postfix/vhost" or path in domains_files:
            return "\n".join(self.config.vhost)
        file = Path(path)
        try:
            return file.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError:
            return None


# ---------------------------------------------------------------------------------------------
# what `ldapdiag lookup MAP` queries


@dataclass(frozen=True)
class ResolvedMap:
    """The table (or list) a MAP argument names, and how ldapdiag describes it."""

    table: Table | TableList | StringList
    description: str
    semantics: str  # "table", "maps" (first table that answers) or "string-list"


def resolve_map(name: str, factory: TableFactory) -> ResolvedMap:
    """maps_create() for a parameter, dict_open() for a table: what `lookup MAP` queries."""
    config = factory.config
    if name in DMS_MAPS:
        path = DMS_MAPS[name]
        if path not in config.postfix_tables:
            raise MapError(f"{name}: this configuration has no {path}")
        return ResolvedMap(factory.ldap(path), f"ldap:{path}", "table")
    if ":" not in name and (name.startswith(("/", ".")) or name.endswith(".cf")):
        path = name if name in config.postfix_tables else os.path.abspath(name)
        if path not in config.postfix_tables and not Path(path).is_file():
            raise InputError(f"{name}: no such ldap table file")
        return ResolvedMap(factory.ldap(path), f"ldap:{path}", "table")
    if ":" in name:
        return ResolvedMap(factory.open(name), name, "table")
    return _parameter(name, factory)


def _parameter(name: str, factory: TableFactory) -> ResolvedMap:
    main = factory.config.postfix_main
    value = parameter_value(main, name)
    if value is None:
        raise MapError(
            f"{name}: not users, aliases, groups, domains, senders, a table file or a main.cf table parameter"
        )
    if name in OTHER_LIST_PARAMETERS:
        raise MapError(
            f"{name}: a list with its own matching rules; ldapdiag queries table parameters "
            "and virtual_mailbox_domains / virtual_alias_domains"
        )
    if not split_table_list(value):
        raise MapError(f"{name} is empty in main.cf: there is no table to query")
    if name in STRING_LIST_PARAMETERS:
        domains = parse_string_list(
            name, value, lambda s: factory.open(s, fold=False), factory.read_file, factory.utf8
        )
        return ResolvedMap(domains, f"{name} = {value}", "string-list")
    specs = split_table_list(value)
    bad = [spec for spec in specs if ":" not in spec]
    if bad:
        raise MapError(f"{name} = {value}: {bad[0]!r} is not a type:name table")
    tables = [factory.open(spec) for spec in specs]
    return ResolvedMap(TableList(name, tables), f"{name} = {value}", "maps")


def build_factory(
    config: MailServerConfig,
    ca_files: tuple[Path, ...] = (),
    ca_dirs: tuple[Path, ...] = (),
    trace: Trace | None = None,
) -> TableFactory:
    """A TableFactory for `config`, its UTF-8 mode from main.cf."""
    pool = DirectoryPool(trace or Trace(), ca_files, ca_dirs, local_fqdn=config.identity.hostname or None)
    return TableFactory(config, pool, utf8=smtputf8_enabled(config.postfix_main))
