"""postfix: the ConnectionPolicy of one ldap_table file (dict_ldap_open(), dict_ldap_connect())."""

from __future__ import annotations

from collections.abc import Mapping

from ldapdiag.config.model import ConfFile
from ldapdiag.directory.ldapconf import LdapConf, TlsLevel
from ldapdiag.directory.policy import (
    BindMethod,
    BindPolicy,
    ConnectionPolicy,
    PolicyError,
    TlsPolicy,
    ca_sources,
)
from ldapdiag.directory.secret import Secret
from ldapdiag.directory.servers import ServerListError, postfix_servers

# Debian's postfix 3.7.11 defaults to (and falls back to) LDAPv3, where upstream dict_ldap.c says 2
# (checked: `postmap -v` logs "Actual Protocol version used is 3." and "Unknown version 7, using 3.").
DEBIAN_POSTFIX_VERSION = 3


def _postfix_bool(conf: ConfFile, key: str, default: bool) -> bool:
    """cfg_get_bool(): yes or no; anything else is fatal."""
    value = conf.value(key)
    if value is None:
        return default
    if value.lower() in ("yes", "no"):
        return value.lower() == "yes"
    raise PolicyError(f"{key} = {value}: postfix accepts only yes or no (fatal)", where=conf.path)


def _postfix_int(conf: ConfFile, key: str, default: int, minimum: int = 0) -> int:
    """cfg_get_int(): a decimal number not below `minimum`; anything else is fatal."""
    value = conf.value(key)
    if value is None:
        return default
    text = value.strip()
    if not text.lstrip("-").isdigit():
        raise PolicyError(f"{key} = {value}: not a number (postfix: fatal)", where=conf.path)
    if int(text) < minimum:
        raise PolicyError(f"{key} = {value}: must be at least {minimum} (postfix: fatal)", where=conf.path)
    return int(text)


def postfix_policy(conf: ConfFile, ldap_conf: LdapConf, local_fqdn: str | None = None) -> ConnectionPolicy:
    """dict_ldap_open() + dict_ldap_connect() + dict_ldap_set_tls_options() for one ldap table.

    The protocol version follows Debian's postfix (default and fallback 3), not upstream's 2.
    """
    notes: list[str] = []
    port = _postfix_int(conf, "server_port", 389)
    version = _postfix_int(conf, "version", DEBIAN_POSTFIX_VERSION, minimum=2)
    if version not in (2, 3):
        notes.append(f"version = {version}: postfix warns 'Unknown version {version}, using 3'")
        version = DEBIAN_POSTFIX_VERSION
    if version == 2:
        notes.append("version = 2: postfix speaks LDAPv2 (slapd refuses v2 binds unless 'allow bind_v2')")
    try:
        servers = postfix_servers(conf.value("server_host", "localhost") or "localhost", port)
    except ServerListError as error:
        raise PolicyError(f"server_host: {error}", where=conf.path) from None
    notes += [f"server_host: postfix skips {url!r} (error parsing URL)" for url in servers.skipped]
    if servers.needs_v3 and version != 3:
        notes.append("an ldaps:// or ldapi:// URL makes postfix switch to version 3")
        version = 3
    start_tls = _postfix_bool(conf, "start_tls", False)
    if start_tls and version != 3:
        notes.append("start_tls makes postfix switch to version 3")
        version = 3
    timeout = _postfix_int(conf, "timeout", 10)
    expansion_limit = _postfix_int(conf, "expansion_limit", 0)
    bind = _postfix_bind(conf)
    return ConnectionPolicy(
        component="postfix",
        source=conf.path,
        servers=servers.servers,
        start_tls=start_tls,
        tls=_postfix_tls(conf, local_fqdn),
        bind=bind,
        version=version,
        connect_timeout=float(timeout),
        operation_timeout=float(timeout),
        time_limit=timeout,  # search_st(): the timeout becomes the request's timelimit
        size_limit=_postfix_int(conf, "size_limit", expansion_limit),
        deref=_postfix_deref(conf, notes),
        chase_referrals=_postfix_bool(conf, "chase_referrals", False),
        search_base=conf.value("search_base", "") or "",
        notes=tuple(notes),
    )


def _postfix_bind(conf: ConfFile) -> BindPolicy:
    """bindopt_table: no/none, yes/simple, sasl (case-insensitive); bind_dn and bind_pw default ""."""
    value = conf.value("bind", "yes") or "yes"
    methods: Mapping[str, BindMethod] = {"no": "none", "none": "none", "yes": "simple", "simple": "simple"}
    method = methods.get(value.lower(), "sasl" if value.lower() == "sasl" else None)
    if method is None:
        raise PolicyError(f"bind = {value}: unsupported parameter value (postfix: fatal)", where=conf.path)
    return BindPolicy(
        method=method,
        dn=conf.value("bind_dn", "") or "",
        password=Secret(conf.value("bind_pw", "") or ""),
        origin=f"bind_dn/bind_pw ({conf.path})",
    )


def _postfix_deref(conf: ConfFile, notes: list[str]) -> int:
    value = _postfix_int(conf, "dereference", 0)
    if not 0 <= value <= 3:
        notes.append(f"dereference = {value}: postfix warns and uses 0")
        return 0
    return value


def _postfix_tls(conf: ConfFile, local_fqdn: str | None) -> TlsPolicy:
    """tls_require_cert yes = LDAP_OPT_X_TLS_DEMAND, no (default) = NEVER; CAs only from the table."""
    require = _postfix_bool(conf, "tls_require_cert", False)
    level = TlsLevel.DEMAND if require else TlsLevel.NEVER
    origin = f"tls_require_cert = {'yes' if require else 'no'}" + (
        "" if conf.get("tls_require_cert") else " (default)"
    )
    sources = ca_sources(
        [
            ("file", conf.value("tls_ca_cert_file"), f"tls_ca_cert_file ({conf.path})"),
            ("dir", conf.value("tls_ca_cert_dir"), f"tls_ca_cert_dir ({conf.path})"),
        ]
    )
    return TlsPolicy(
        chain=level,
        chain_origin=origin,
        host=level,
        host_origin=origin,
        ca_sources=sources,
        ca_origin="tls_ca_cert_file/tls_ca_cert_dir only (postfix ignores ldap.conf's TLS_CACERT)",
        local_fqdn=local_fqdn,
    )
