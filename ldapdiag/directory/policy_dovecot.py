"""dovecot 2.3: the ConnectionPolicy of dovecot-ldap.conf.ext (db_ldap_init(), db_ldap_set_options())."""

from __future__ import annotations

from collections.abc import Mapping

from ldapdiag.config.model import ConfFile
from ldapdiag.directory.ldapconf import LdapConf, parse_tls_level, reqcert_origin
from ldapdiag.directory.policy import BindPolicy, ConnectionPolicy, PolicyError, TlsPolicy, ca_sources
from ldapdiag.directory.secret import Secret
from ldapdiag.directory.servers import ServerListError, dovecot_servers

# dovecot db-ldap.h
DOVECOT_CONNECT_TIMEOUT = 5  # DB_LDAP_CONNECT_TIMEOUT_SECS: LDAP_OPT_NETWORK_TIMEOUT
DOVECOT_REQUEST_TIMEOUT = 60  # DB_LDAP_REQUEST_LOST_TIMEOUT_SECS: bind and requests given up after


def _dovecot_bool(conf: ConfFile, key: str) -> bool:
    value = (conf.value(key) or "no").lower()
    if value not in ("yes", "no"):
        raise PolicyError(f"{key}: invalid boolean (dovecot accepts yes or no)", where=conf.path)
    return value == "yes"


def _dovecot_str(conf: ConfFile, key: str) -> str | None:
    """A string setting; dovecot passes an empty value on as "" (which clears a libldap path)."""
    return conf.value(key)


def dovecot_policy(conf: ConfFile, ldap_conf: LdapConf, local_fqdn: str | None = None) -> ConnectionPolicy:
    """db_ldap_init() + db_ldap_init_ld() + db_ldap_set_options() + db_ldap_connect()."""
    notes: list[str] = []
    try:
        servers = dovecot_servers(conf.value("uris"), conf.value("hosts"))
    except ServerListError as error:
        raise PolicyError(f"uris/hosts: {error} (dovecot: fatal)", where=conf.path) from None
    version = _dovecot_uint(conf, "ldap_version", 3)
    start_tls = _dovecot_bool(conf, "tls")
    sasl = _dovecot_bool(conf, "sasl_bind")
    if version < 3 and (start_tls or sasl):
        raise PolicyError(
            "tls=yes or sasl_bind=yes requires ldap_version=3 (dovecot: fatal)", where=conf.path
        )
    if conf.value("ldaprc_path"):
        notes.append("ldaprc_path is set: dovecot reads that file too; ldapdiag cannot see it")
    deref = _dovecot_enum(conf, "deref", "never", {"never": 0, "searching": 1, "finding": 2, "always": 3})
    dn = conf.value("dn")
    password = conf.value("dnpass")
    bind = BindPolicy(
        method="sasl" if sasl else "simple",
        dn=dn or "",
        password=Secret(password or ""),
        origin=f"dn/dnpass ({conf.path})",
    )
    return ConnectionPolicy(
        component="dovecot",
        source=conf.path,
        servers=servers,
        start_tls=start_tls,
        tls=_dovecot_tls(conf, ldap_conf, local_fqdn, start_tls, notes),
        bind=bind,
        version=version,
        connect_timeout=float(ldap_conf.network_timeout or DOVECOT_CONNECT_TIMEOUT),
        operation_timeout=float(DOVECOT_REQUEST_TIMEOUT),
        time_limit=ldap_conf.timelimit,  # ldap_search() takes the handle's defaults (ldap.conf)
        size_limit=ldap_conf.sizelimit,
        deref=deref,
        chase_referrals=ldap_conf.referrals,  # dovecot never sets LDAP_OPT_REFERRALS
        search_base=conf.value("base", "") or "",
        notes=tuple(notes),
    )


def _dovecot_uint(conf: ConfFile, key: str, default: int) -> int:
    value = conf.value(key)
    if value is None:
        return default
    digits = ""
    for char in value.strip():
        if not char.isdigit():
            break
        digits += char
    if not digits:
        raise PolicyError(f"{key}: invalid number (dovecot: fatal)", where=conf.path)
    return int(digits)


def _dovecot_enum(conf: ConfFile, key: str, default: str, choices: Mapping[str, int]) -> int:
    value = conf.value(key, default) or default
    if value.lower() not in choices:
        raise PolicyError(f"Unknown {key} option '{value}' (dovecot: fatal)", where=conf.path)
    return choices[value.lower()]


def _dovecot_tls(
    conf: ConfFile, ldap_conf: LdapConf, local_fqdn: str | None, start_tls: bool, notes: list[str]
) -> TlsPolicy:
    """db_ldap_set_tls_options() sets the global options after the handle copied ldap.conf's."""
    conf_origin = reqcert_origin(ldap_conf)
    required = conf.value("tls_require_cert")
    if required is not None:
        level = parse_tls_level(required)
        if level is None or required.lower() in ("on", "yes", "true"):
            raise PolicyError(
                f"Unknown tls_require_cert value '{required}' (dovecot: fatal)", where=conf.path
            )
        chain, chain_origin = level, f"tls_require_cert = {required}"
    else:
        chain, chain_origin = ldap_conf.tls_reqcert, conf_origin
    ca_file = _override(conf.value("tls_ca_cert_file"), ldap_conf.tls_cacert)
    ca_dir = _override(conf.value("tls_ca_cert_dir"), ldap_conf.tls_cacertdir)
    sources = ca_sources(
        [
            ("file", ca_file, _ca_origin(conf, "tls_ca_cert_file", "TLS_CACERT", ldap_conf)),
            ("dir", ca_dir, _ca_origin(conf, "tls_ca_cert_dir", "TLS_CACERTDIR", ldap_conf)),
        ]
    )
    host, host_origin = ldap_conf.tls_reqcert, conf_origin
    if chain.checks_hostname != host.checks_hostname:
        if start_tls:
            notes.append(
                f"tls = yes: dovecot checks the host name under {conf_origin}, not tls_require_cert "
                "(its handle keeps ldap.conf's level after a failed StartTLS)"
            )
        else:
            notes.append(
                f"dovecot's first ldaps connection checks the host name under {conf_origin}; when that "
                f'fails it logs "Can\'t connect to server" once and reconnects under {chain_origin}'
            )
            host, host_origin = chain, chain_origin
    return TlsPolicy(
        chain=chain,
        chain_origin=chain_origin,
        host=host,
        host_origin=host_origin,
        ca_sources=sources,
        ca_origin="tls_ca_cert_file/tls_ca_cert_dir, else ldap.conf TLS_CACERT/TLS_CACERTDIR",
        local_fqdn=local_fqdn,
    )


def _override(own: str | None, inherited: str | None) -> str | None:
    """A component's path replaces ldap.conf's; an empty one clears it (ldap_pvt_tls_set_option)."""
    if own is None:
        return inherited
    return own or None


def _ca_origin(conf: ConfFile, key: str, ldap_key: str, ldap_conf: LdapConf) -> str:
    return f"{key} ({conf.path})" if conf.value(key) is not None else f"{ldap_key} ({ldap_conf.path})"
