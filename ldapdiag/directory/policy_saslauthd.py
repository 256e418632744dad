"""saslauthd 2.1.28: the ConnectionPolicy of saslauthd.conf (lak_config(), lak_connect(), lak_bind())."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ldapdiag.config.model import ConfFile
from ldapdiag.config.saslauthd_conf import effective_settings
from ldapdiag.directory.ldapconf import LdapConf, TlsLevel, reqcert_origin
from ldapdiag.directory.policy import BindPolicy, ConnectionPolicy, PolicyError, TlsPolicy, ca_sources
from ldapdiag.directory.secret import Secret
from ldapdiag.directory.servers import ServerListError, saslauthd_servers


def _lak_switch(value: str | None) -> bool | None:
    """lak_config_switch(): 0/n/of/f false, 1/y/on/t true, anything else false; None when absent."""
    if value is None:
        return None
    return value[:1] in ("1", "y", "t") or value[:2] == "on"


def _lak_int(value: str | None, default: int) -> int:
    """lak_config_int(): atoi() of a value starting with a digit or -digit, else 0."""
    if value is None:
        return default
    match = re.match(r"-?[0-9]+", value)
    return int(match.group(0)) if match else 0


def saslauthd_policy(conf: ConfFile, ldap_conf: LdapConf, local_fqdn: str | None = None) -> ConnectionPolicy:
    """lak_config() defaults + lak_config_read() + lak_connect() + lak_bind()."""
    values = {key: entry.value for key, entry in effective_settings(conf).items()}
    notes: list[str] = []
    try:
        servers = saslauthd_servers(values.get("ldap_servers"))
    except ServerListError as error:
        raise PolicyError(
            f"ldap_servers: {error} (saslauthd: ldap_initialize failed)", where=conf.path
        ) from None
    start_tls = bool(_lak_switch(values.get("ldap_start_tls")))
    use_sasl = bool(_lak_switch(values.get("ldap_use_sasl")))
    version = _lak_int(values.get("ldap_version"), 3)
    if version != 3 and (start_tls or use_sasl):
        version = 3
    if version not in (2, 3):
        notes.append(f"ldap_version: {version}: libldap refuses it; saslauthd warns and uses 2")
        version = 2
    timeout = _lak_int(values.get("ldap_timeout"), 5)
    deref = {"search": 1, "find": 2, "always": 3, "never": 0}.get(
        (values.get("ldap_deref") or "never").lower(), 0
    )
    bind = BindPolicy(
        method="sasl" if use_sasl else "simple",
        dn=values.get("ldap_bind_dn", ""),
        password=Secret(values.get("ldap_bind_pw", "")),
        origin=f"ldap_bind_dn/ldap_bind_pw ({conf.path})",
    )
    return ConnectionPolicy(
        component="saslauthd",
        source=conf.path,
        servers=servers,
        start_tls=start_tls,
        tls=_saslauthd_tls(values, conf.path, ldap_conf, local_fqdn),
        bind=bind,
        version=version,
        connect_timeout=float(timeout),
        operation_timeout=float(timeout),
        time_limit=timeout,  # ldap_search_st() with the timeout: it becomes the request's timelimit
        size_limit=_lak_int(values.get("ldap_size_limit"), 1),
        deref=deref,
        chase_referrals=bool(_lak_switch(values.get("ldap_referrals"))),
        search_base=values.get("ldap_search_base", ""),
        notes=tuple(notes),
    )


def _saslauthd_tls(
    values: Mapping[str, str], path: str, ldap_conf: LdapConf, local_fqdn: str | None
) -> TlsPolicy:
    """lak_connect(): ldap_tls_check_peer (yes = hard, no = never) when given, else ldap.conf."""
    check_peer = _lak_switch(values.get("ldap_tls_check_peer"))
    if check_peer is None:
        level, origin = ldap_conf.tls_reqcert, reqcert_origin(ldap_conf)
    else:
        level = TlsLevel.HARD if check_peer else TlsLevel.NEVER
        origin = f"ldap_tls_check_peer: {values['ldap_tls_check_peer']}"
    own_file, own_dir = values.get("ldap_tls_cacert_file"), values.get("ldap_tls_cacert_dir")
    sources = ca_sources(
        [
            (
                "file",
                own_file or ldap_conf.tls_cacert,
                f"ldap_tls_cacert_file ({path})" if own_file else f"TLS_CACERT ({ldap_conf.path})",
            ),
            (
                "dir",
                own_dir or ldap_conf.tls_cacertdir,
                f"ldap_tls_cacert_dir ({path})" if own_dir else f"TLS_CACERTDIR ({ldap_conf.path})",
            ),
        ]
    )
    return TlsPolicy(
        chain=level,
        chain_origin=origin,
        host=level,
        host_origin=origin,
        ca_sources=sources,
        ca_origin="ldap_tls_cacert_file/dir, else ldap.conf TLS_CACERT/TLS_CACERTDIR",
        local_fqdn=local_fqdn,
    )
