"""/etc/ldap/ldap.conf as libldap reads it into its global defaults (OpenLDAP 2.5 init.c, tls2.c).

Only the settings that change how the mail components connect are kept. The container's file
is not on this machine; by default ldapdiag assumes Debian 12's stock file (the one DMS ships),
whose only setting is `TLS_CACERT /etc/ssl/certs/ca-certificates.crt` (GnuTLS has no built-in
trust store). A real file can be read with `read_ldap_conf()`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

DEBIAN_LDAP_CONF_PATH = "/etc/ldap/ldap.conf"
DEBIAN_LDAP_CONF = """\
#
# LDAP Defaults
#

# See ldap.conf(5) for details
# This file should be world readable but not world writable.

#BASE	dc=example,dc=com
#URI	ldap://ldap.example.com ldap://ldap-provider.example.com:666

#SIZELIMIT	12
#TIMELIMIT	15
#DEREF		never

# TLS certificates (needed for GnuTLS)
TLS_CACERT	/etc/ssl/certs/ca-certificates.crt
"""


class TlsLevel(enum.IntEnum):
    """LDAP_OPT_X_TLS_* values of LDAP_OPT_X_TLS_REQUIRE_CERT (ldap.h)."""

    NEVER = 0
    HARD = 1
    DEMAND = 2
    ALLOW = 3
    TRY = 4

    @property
    def verifies_chain(self) -> bool:
        """tlsg_session_accept(): a bad certificate fails the handshake (never: unchecked, allow: ignored)."""
        return self in (TlsLevel.HARD, TlsLevel.DEMAND, TlsLevel.TRY)

    @property
    def checks_hostname(self) -> bool:
        """ldap_pvt_tls_check_hostname(): the name is checked unless the level is never or allow."""
        return self not in (TlsLevel.NEVER, TlsLevel.ALLOW)

    @property
    def word(self) -> str:
        """The ldap.conf spelling."""
        return self.name.lower()


def parse_tls_level(text: str) -> TlsLevel | None:
    """ldap_pvt_tls_config() for TLS_REQCERT: never/demand/allow/try, hard/on/yes/true; else None."""
    word = text.strip().lower()
    if word in ("hard", "on", "yes", "true"):
        return TlsLevel.HARD
    return {
        "never": TlsLevel.NEVER,
        "demand": TlsLevel.DEMAND,
        "allow": TlsLevel.ALLOW,
        "try": TlsLevel.TRY,
    }.get(word)


DEREF_WORDS = {"never": 0, "searching": 1, "finding": 2, "always": 3}


@dataclass(frozen=True)
class LdapConf:
    """libldap's global defaults after ldap_int_initialize() has read ldap.conf."""

    path: str
    tls_cacert: str | None = None
    tls_cacertdir: str | None = None
    tls_reqcert: TlsLevel = TlsLevel.DEMAND  # ldap_int_initialize_global_options()
    tls_reqcert_set: bool = False  # whether the file sets TLS_REQCERT (else libldap's default)
    referrals: bool = True  # LDAP_BOOL_REFERRALS is on by default
    deref: int = 0
    sizelimit: int = 0
    timelimit: int = 0
    network_timeout: int | None = None
    timeout: int | None = None


def parse_ldap_conf(text: str, path: str = DEBIAN_LDAP_CONF_PATH) -> LdapConf:
    """openldap_ldap_init_w_conf() + ldap_int_conf_option() for the system file (userconf = 0)."""
    values: dict[str, object] = {}
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        line = raw.strip()
        if not line:
            continue
        parts = line.split(None, 1)
        if len(parts) < 2:
            continue  # "command has no argument"
        _apply(values, parts[0].upper(), parts[1])
    return LdapConf(path=path, **values)  # type: ignore[arg-type]


def _apply(values: dict[str, object], command: str, option: str) -> None:
    """One ldap.conf line; unparseable values change nothing, as in libldap."""
    if command == "TLS_CACERT":
        values["tls_cacert"] = option
    elif command == "TLS_CACERTDIR":
        values["tls_cacertdir"] = option
    elif command == "TLS_REQCERT":
        level = parse_tls_level(option)
        if level is not None:
            values["tls_reqcert"] = level
            values["tls_reqcert_set"] = True
    elif command == "REFERRALS":
        values["referrals"] = option.lower() in ("on", "yes", "true")
    elif command == "DEREF" and option.lower() in DEREF_WORDS:
        values["deref"] = DEREF_WORDS[option.lower()]
    elif _is_int(option) and (
        command in ("SIZELIMIT", "TIMELIMIT")
        or (command in ("NETWORK_TIMEOUT", "TIMEOUT") and int(option) > 0)
    ):
        values[command.lower()] = int(option)  # ATTR_INT; ATTR_OPT_TV only takes a positive number


def reqcert_origin(conf: LdapConf) -> str:
    """`TLS_REQCERT demand (libldap default)` or `TLS_REQCERT never (/etc/ldap/ldap.conf)`."""
    where = conf.path if conf.tls_reqcert_set else "libldap default"
    return f"TLS_REQCERT {conf.tls_reqcert.word} ({where})"


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def read_ldap_conf(path: Path | None = None) -> LdapConf:
    """The ldap.conf at `path`; None means Debian 12's stock file, the one a DMS container has."""
    if path is None:
        return parse_ldap_conf(DEBIAN_LDAP_CONF)
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return LdapConf(path=str(path))  # libldap silently keeps its built-in defaults
    return parse_ldap_conf(text, str(path))
