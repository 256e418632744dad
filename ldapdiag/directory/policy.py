"""How each component connects: the frozen ConnectionPolicy (derived in policy_postfix, policy_dovecot,
policy_saslauthd and policies.py).

Everything here is read from the sources (postfix 3.7.11 dict_ldap.c, dovecot 2.3.19.1
db-ldap.c, cyrus-sasl 2.1.28 lak.c, OpenLDAP 2.5.13 libldap) and, where marked, checked
against the real programs:

- postfix sets its TLS options on its own handle and then asks for a new TLS context
  (LDAP_OPT_X_TLS_NEWCTX). libldap copies the global options into a new handle but not the CA
  paths (ldap_create() clears ldo_tls_info), so postfix trusts only `tls_ca_cert_file` /
  `tls_ca_cert_dir`, never ldap.conf's TLS_CACERT (checked with postmap: tls_require_cert = yes
  without tls_ca_cert_file refuses every certificate). tls_require_cert: yes = demand, no = never
  (the default), for both the chain and the host name.
- dovecot sets its TLS options on the *global* defaults after ldap_initialize(): the TLS context
  created at the first handshake takes the CA and the chain check (tls_require_cert) from them,
  but the host-name check reads the handle's copy, made before: ldap.conf's TLS_REQCERT (demand
  by default). With `tls = yes` dovecot keeps that handle after a failed StartTLS, so
  `tls_require_cert = never` still refuses a certificate for another host, every time. With an
  ldaps:// URI the failed connection is closed and the next handle copies dovecot's own setting:
  one "Can't connect to server" error, then the lookup goes through (both checked with dovecot
  2.3.19.1 and doveadm).
- saslauthd sets its TLS options globally before ldap_initialize(): ldap_tls_check_peer yes =
  hard, no = never (both checks); not set = ldap.conf's TLS_REQCERT.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

from ldapdiag.directory.ldapconf import TlsLevel
from ldapdiag.directory.secret import Secret
from ldapdiag.directory.servers import ServerSpec
from ldapdiag.errors import LdapdiagError

Component = Literal["postfix", "dovecot", "saslauthd"]
BindMethod = Literal["none", "simple", "sasl"]
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


class PolicyError(LdapdiagError):
    """A setting the component itself refuses (postfix/dovecot fatal, saslauthd connect failure)."""


@dataclass(frozen=True)
class CaSource:
    """One place a component takes trusted CA certificates from (a path inside the container)."""

    kind: Literal["file", "dir"]
    path: str
    origin: str  # e.g. "tls_ca_cert_file (/etc/postfix/ldap-users.cf)"

    @property
    def exists_here(self) -> bool:
        """Whether the path exists on the machine ldapdiag runs on."""
        return Path(self.path).is_file() if self.kind == "file" else Path(self.path).is_dir()


@dataclass(frozen=True)
class TlsPolicy:
    """How the component verifies the server certificate."""

    chain: TlsLevel  # decides whether an untrusted/expired certificate fails the handshake
    chain_origin: str
    host: TlsLevel  # decides whether a certificate for another name fails it
    host_origin: str
    ca_sources: tuple[CaSource, ...]
    ca_origin: str  # where the CA list comes from, for messages
    local_fqdn: str | None = None  # libldap checks a server named "localhost" against this name

    @property
    def verifies(self) -> bool:
        """Whether any certificate problem can make the component refuse the server."""
        return self.chain.verifies_chain or self.host.checks_hostname

    def describe(self) -> str:
        """What decides the checks, e.g. `TLS_REQCERT demand (libldap default)`."""
        if self.chain_origin == self.host_origin:
            return self.chain_origin
        return f"chain: {self.chain_origin}; host name: {self.host_origin}"


@dataclass(frozen=True)
class BindPolicy:
    """The bind a component makes after connecting (and StartTLS)."""

    method: BindMethod
    dn: str = ""
    password: Secret | None = None
    origin: str = ""
    login: bool = False  # a user's own bind (a password check): its refusal is an answer, not a fault

    @property
    def anonymous(self) -> bool:
        """A simple bind with no DN and no password (what libldap sends for an empty bind_dn)."""
        return self.method == "simple" and not self.dn and (self.password is None or self.password.empty)


@dataclass(frozen=True)
class ConnectionPolicy:
    """Everything that decides how one component reaches the directory for one configuration file."""

    component: Component
    source: str  # the configuration file, e.g. /etc/postfix/ldap-users.cf
    servers: tuple[ServerSpec, ...]
    start_tls: bool
    tls: TlsPolicy
    bind: BindPolicy
    version: int
    connect_timeout: float  # LDAP_OPT_NETWORK_TIMEOUT: TCP connect (and the ldaps handshake)
    operation_timeout: float  # how long the component waits for StartTLS, bind and search answers
    time_limit: int  # timeLimit sent in search requests (0: none)
    size_limit: int  # sizeLimit sent in search requests (0: none)
    deref: int  # 0 never, 1 searching, 2 finding, 3 always
    chase_referrals: bool
    search_base: str
    notes: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        """`postfix /etc/postfix/ldap-users.cf`."""
        return f"{self.component} {self.source}"

    @property
    def uses_tls(self) -> bool:
        """Whether any server of the list is reached over TLS."""
        return self.start_tls or any(server.tls_on_connect for server in self.servers)

    def connection_key(self) -> tuple[object, ...]:
        """dict_ldap_conn_find(): tables with the same key share one connection in postfix."""
        return self._connection_key

    @cached_property
    def _connection_key(self) -> tuple[object, ...]:  # made once per policy (asked for every search)
        tls = (self.tls.chain, self.tls.host, tuple((s.kind, s.path) for s in self.tls.ca_sources))
        return (
            self.component,
            tuple(server.url for server in self.servers),
            self.start_tls,
            tls if self.uses_tls else None,
            (self.bind.method, self.bind.dn, self.bind.password),
            self.version,
            self.connect_timeout,
            self.operation_timeout,
            self.deref,
            self.chase_referrals,
        )


def ca_sources(pairs: Iterable[tuple[Literal["file", "dir"], str | None, str]]) -> tuple[CaSource, ...]:
    return tuple(CaSource(kind, path, origin) for kind, path, origin in pairs if path)


@dataclass(frozen=True)
class PolicyFailure:
    """A component whose configuration its own program refuses: no connection can be predicted."""

    component: Component
    source: str
    error: PolicyError


def __getattr__(name: str) -> object:
    """The derivations live in policies.py (and policy_*.py); their names still resolve here."""
    if name in ("postfix_policy", "dovecot_policy", "saslauthd_policy", "connection_policies"):
        from ldapdiag.directory import policies

        return getattr(policies, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
