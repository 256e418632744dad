"""The parsed configuration files and the one immutable MailServerConfig built from them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Literal

from ldapdiag.config.origin import Finding, Origin
from ldapdiag.config.settings import Settings

if TYPE_CHECKING:
    from ldapdiag.config.dovecot_conf import DovecotConf

FileFormat = Literal["postfix", "dovecot", "saslauthd", "shell"]

# Keys whose values are passwords, per file format; reports mask them, always.
SECRET_KEYS: Mapping[FileFormat, frozenset[str]] = {
    "postfix": frozenset({"bind_pw"}),
    "dovecot": frozenset({"dnpass", "sasl_bind_pw"}),
    "saslauthd": frozenset({"ldap_bind_pw", "ldap_password"}),
    "shell": frozenset(),
}


@dataclass(frozen=True)
class ConfEntry:
    """One `key = value` setting as the component reads it (continuations joined, quotes removed)."""

    key: str
    value: str
    line: int  # first line of the setting, 1-based
    last_line: int  # last line (continuation lines included)
    origin: Origin  # the file:line, or for rendered text the variable that produced it


@dataclass(frozen=True)
class ConfFile:
    """A configuration file as a component reads it: its text and its settings in file order."""

    path: str  # the path the component opens, e.g. /etc/postfix/ldap-users.cf
    format: FileFormat
    text: str
    entries: tuple[ConfEntry, ...]
    rendered: bool = False  # True when ldapdiag rendered it from DMS variables
    # The component's own error when it refuses to read this file at all (postfix's `fatal:` for a
    # line without `=`, dovecot's "Error in configuration file ...", saslauthd's rejected line): the
    # component cannot use the file; `entries` hold the lines that could be read, for reports.
    refused: str | None = None

    def get(self, key: str) -> ConfEntry | None:
        """The effective entry for `key`: the last occurrence wins, as in postfix, dovecot and saslauthd."""
        return self._effective.get(key)

    @cached_property
    def _effective(self) -> dict[str, ConfEntry]:
        return self.effective()

    def value(self, key: str, default: str | None = None) -> str | None:
        """The effective value of `key`, or `default` when the file does not set it."""
        entry = self.get(key)
        return entry.value if entry is not None else default

    def effective(self) -> dict[str, ConfEntry]:
        """Every key with its effective entry, in order of first appearance."""
        result: dict[str, ConfEntry] = {}
        for entry in self.entries:
            result[entry.key] = entry
        return result

    def is_secret(self, key: str) -> bool:
        """Whether `key` holds a password in this file's format."""
        return key in SECRET_KEYS[self.format]


@dataclass(frozen=True)
class HostIdentity:
    """The container's hostname and DMS's DOMAINNAME, with where each came from."""

    hostname: str
    hostname_origin: Origin
    domainname: str
    domainname_origin: Origin


@dataclass(frozen=True)
class MailServerConfig:
    """Everything the emulation engines need: postfix, dovecot and saslauthd configuration.

    Built either by rendering DMS's variables into the files DMS writes, or by reading those
    files from a container copy; both paths go through the same file parsers.
    """

    source: Literal["env", "files"]
    identity: HostIdentity
    settings: Settings  # DMS variables (empty-ish with --from-files)
    postfix_main: ConfFile  # main.cf: the parameters DMS sets (rendered) or the real file
    postfix_tables: Mapping[str, ConfFile]  # ldap_table files by the path main.cf names
    vhost: tuple[str, ...]  # /etc/postfix/vhost domains
    dovecot_ldap: ConfFile | None  # dovecot-ldap.conf.ext; None when dovecot is not used (SMTP_ONLY)
    dovecot_main: DovecotConf | None  # dovecot.conf: passdb/userdb wiring, auth_username_format...
    saslauthd: ConfFile | None  # saslauthd.conf when saslauthd authenticates against LDAP
    findings: tuple[Finding, ...] = field(default=())

    def files(self) -> list[ConfFile]:
        """Every configuration file in the order `ldapdiag config` prints them."""
        result = [*self.postfix_tables.values(), self.postfix_main]
        dovecot_main = self.dovecot_main.settings if self.dovecot_main is not None else None
        result += [f for f in (self.dovecot_ldap, dovecot_main, self.saslauthd) if f is not None]
        return result


_COMPONENT = {"postfix": "postfix", "dovecot": "dovecot's auth process", "saslauthd": "saslauthd"}


def refused_file_findings(files: list[ConfFile]) -> list[Finding]:
    """An error finding for every file its component refuses to read (see ConfFile.refused)."""
    return [
        Finding("error", conf.path, f"{_COMPONENT[conf.format]} refuses this file: {conf.refused}")
        for conf in files
        if conf.refused is not None
    ]
