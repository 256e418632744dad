"""Dovecot's auth as DMS wires it: one LDAP passdb and one LDAP userdb on dovecot-ldap.conf.ext.

Mirrors the request flows of dovecot 2.3.19.1: `doveadm auth test` / SASL PLAIN
(auth_request_set_username() then the passdb: mech-plain.c, auth-request.c
`auth_request_verify_plain()`), `doveadm user` / LMTP (auth-master-connection.c
`master_input_user()` -> userdb) and `doveadm auth login` / an IMAP login (the passdb, then the
userdb lookup of the master REQUEST with the name the passdb left: auth-master-connection.c
`master_input_request()`: the same request continues, so the name is not formatted again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ldapdiag.config.model import MailServerConfig
from ldapdiag.directory.directory import Directory
from ldapdiag.directory.ldapconf import LdapConf, read_ldap_conf
from ldapdiag.directory.policy import ConnectionPolicy, PolicyError
from ldapdiag.directory.trace import Trace
from ldapdiag.dovecot.auth_request import AuthRequest
from ldapdiag.dovecot.ldap_search import DirectoryFactory
from ldapdiag.dovecot.lookups import (
    CannotPredict,
    PassdbOutcome,
    UserdbOutcome,
    passdb_lookup,
    passdb_verify_plain,
    userdb_lookup,
)
from ldapdiag.dovecot.policies import dovecot_policy
from ldapdiag.dovecot.settings import (
    AuthSettings,
    DovecotRefuses,
    LdapSettings,
    auth_settings,
    ldap_settings,
    startup_refusal,
)


def cannot_start_reason(refused: DovecotRefuses) -> str:
    """The reason of a lookup that dovecot's dead auth process never answers."""
    return f"dovecot's auth process cannot start with this configuration: Fatal: {refused}"


@dataclass
class LoginOutcome:
    """An IMAP login (`doveadm auth login`): passdb, then userdb with the passdb's name."""

    passdb: PassdbOutcome
    userdb: UserdbOutcome | None  # None: the passdb failed, no userdb lookup happens
    log: list[str] = field(default_factory=list)

    @property
    def imap_login(self) -> bool:
        return self.passdb.result == "ok" and self.userdb is not None and self.userdb.result == "ok"


def directory_factory(
    trace: Trace,
    ca_files: tuple[Path, ...] = (),
    ca_dirs: tuple[Path, ...] = (),
    max_wait: float | None = 15.0,
) -> DirectoryFactory:
    """A factory making Directories that share one trace and the user's extra trust anchors."""

    def make(policy: ConnectionPolicy) -> Directory:
        return Directory(policy, trace, ca_files, ca_dirs, max_wait=max_wait)

    return make


@dataclass
class DovecotAuth:
    """The emulated auth process of one configuration. Use as a context manager."""

    config: MailServerConfig
    factory: DirectoryFactory
    ldap_conf: LdapConf | None = None
    _directory: Directory | None = field(default=None, init=False)
    _ldap: LdapSettings | None = field(default=None, init=False)
    _policy: ConnectionPolicy | None = field(default=None, init=False)
    _fatal: tuple[str | None] | None = field(default=None, init=False)  # startup_refusal(), once
    _settings: dict[str | None, AuthSettings] = field(default_factory=dict, init=False)  # per protocol

    def __enter__(self) -> DovecotAuth:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._directory is not None:
            self._directory.close()

    # -- setup ---------------------------------------------------------------------------------

    def refusal(self) -> str | None:
        """Why dovecot would not start with this configuration (None: it starts)."""
        try:
            self._prepare()
        except DovecotRefuses as error:
            return str(error)
        return None

    def _prepare(self) -> tuple[LdapSettings, Directory]:
        if self.config.dovecot_ldap is None:
            raise DovecotRefuses("dovecot is not used (SMTP_ONLY=1 or another delivery agent)")
        self._check_wiring()
        if self._fatal is None:  # the configuration never changes: checked once
            self._fatal = (startup_refusal(self.config.dovecot_ldap),)
        fatal = self._fatal[0]
        if fatal is not None:
            raise DovecotRefuses(fatal)
        if self._ldap is None:
            self._ldap = ldap_settings(self.config.dovecot_ldap)
        if self._directory is None:
            try:
                self._policy = dovecot_policy(
                    self.config.dovecot_ldap,
                    self.ldap_conf or read_ldap_conf(),
                    self.config.identity.hostname or None,
                )
            except PolicyError as error:
                raise DovecotRefuses(str(error)) from None
            self._directory = self.factory(self._policy)
        return self._ldap, self._directory

    def _check_wiring(self) -> None:
        """Only a configuration whose passdbs and userdbs are the LDAP file's can be emulated."""
        main = self.config.dovecot_main
        if main is None:
            return
        for db in (*main.passdbs, *main.userdbs):
            if db.driver != "ldap":
                raise CannotPredict(
                    f"dovecot.conf has a {db.kind} with driver {db.driver!r}: ldapdiag emulates only "
                    "the LDAP passdb/userdb"
                )

    def settings(self, protocol: str | None) -> AuthSettings:
        """auth_settings() of the protocol, read once (the configuration never changes)."""
        known = self._settings.get(protocol)
        if known is None:
            known = self._settings[protocol] = auth_settings(self.config, protocol)
        return known

    # -- flows ---------------------------------------------------------------------------------

    def user(self, name: str, service: str = "lmtp") -> UserdbOutcome:
        """A userdb lookup as `doveadm user -u NAME` and LMTP make it (master USER request)."""
        request = AuthRequest(self.settings(service), service)
        error = request.set_username(name)
        if error is not None:
            return UserdbOutcome("unknown", name, {}, error)
        try:
            ldap, directory = self._prepare()
        except DovecotRefuses as refused:
            return UserdbOutcome("internal_failure", request.user, {}, cannot_start_reason(refused))
        return userdb_lookup(request, ldap, directory)

    def verify(self, name: str, password: str, service: str = "imap") -> tuple[PassdbOutcome, AuthRequest]:
        """SASL PLAIN through the passdb (`doveadm auth test`)."""
        request = AuthRequest(self.settings(service), service, mech_password=password)
        error = request.set_username(name)
        if error is not None:
            return PassdbOutcome("unknown", name, error), request
        try:
            ldap, directory = self._prepare()
        except DovecotRefuses as refused:
            failed = PassdbOutcome("internal_failure", request.user, cannot_start_reason(refused))
            return failed, request
        return passdb_verify_plain(request, ldap, directory, self.factory), request

    def lookup(self, name: str, service: str = "imap") -> tuple[PassdbOutcome, AuthRequest]:
        """A passdb lookup without a password (`doveadm auth lookup`)."""
        request = AuthRequest(self.settings(service), service)
        error = request.set_username(name)
        if error is not None:
            return PassdbOutcome("unknown", name, error), request
        try:
            ldap, directory = self._prepare()
        except DovecotRefuses as refused:
            failed = PassdbOutcome("internal_failure", request.user, cannot_start_reason(refused))
            return failed, request
        return passdb_lookup(request, ldap, directory), request

    def login(self, name: str, password: str | None, service: str = "imap") -> LoginOutcome:
        """`doveadm auth login`: the passdb, then the userdb lookup with the name it left
        (without a password: the passdb lookup alone, then the same userdb lookup)."""
        if password is None:
            passdb, request = self.lookup(name, service)
        else:
            passdb, request = self.verify(name, password, service)
        if passdb.result != "ok":
            return LoginOutcome(passdb, None, request.log)
        ldap, directory = self._prepare()
        userdb = userdb_lookup(request, ldap, directory)
        return LoginOutcome(passdb, userdb, request.log)
