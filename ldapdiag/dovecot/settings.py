"""The dovecot settings the auth emulation needs, read from the parsed configuration.

Mirrors dovecot 2.3.19.1 src/auth/db-ldap.c (`default_ldap_settings`, the fatal checks of
`db_ldap_init()`) and src/auth/auth-settings.c (`auth_default_settings`, the username
character and translation maps built in `auth_settings_check()`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ldapdiag.config.dovecot_conf import DovecotConf, sscanf_uint
from ldapdiag.config.model import ConfFile, MailServerConfig
from ldapdiag.directory.servers import ServerListError, parse_url_list

DEFAULT_USERNAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234567890.-_@"
SCOPES = {"base": "base", "onelevel": "one", "subtree": "sub"}


class DovecotRefuses(Exception):
    """dovecot's auth process would not start with this configuration (i_fatal); dovecot's text."""


TLS_REQUIRE_CERT = ("never", "hard", "demand", "allow", "try")  # db-ldap.c tls_require_cert2str()
DEREFS = ("never", "searching", "finding", "always")  # deref2str()


def startup_refusal(conf: ConfFile) -> str | None:
    """Why dovecot's auth process dies with this dovecot-ldap.conf.ext: its i_fatal() text (logged
    as `auth: Fatal: TEXT`), in db_ldap_init()'s order, then db_ldap_init_ld() (ldap_initialize())
    and db_ldap_connect() (StartTLS on an ldaps:// connection); None when it starts.

    The auth process starts with dovecot and dies again at every restart (master throttles it, 2 s,
    4 s, ... 60 s): LMTP, doveadm, IMAP logins and SASL for postfix get no answer from it.
    """
    path = conf.path
    if conf.refused is not None:
        return conf.refused
    if conf.value("base") is None:
        return f"LDAP {path}: No base given"
    uris, hosts = conf.value("uris"), conf.value("hosts")
    if uris is None and hosts is None:
        return f"LDAP {path}: No uris or hosts set"
    version = sscanf_uint(conf.value("ldap_version") or "3")
    if version is not None and version < 3:
        for key in ("sasl_bind", "tls"):
            if _bool(conf, key):
                return f"LDAP {path}: {key}=yes requires ldap_version=3"
    checks = (
        ("tls_require_cert", None, TLS_REQUIRE_CERT),
        ("deref", "never", DEREFS),
        ("scope", "subtree", SCOPES),
    )
    for key, default, choices in checks:
        value = conf.value(key, default)
        if value is not None and value.lower() not in choices:
            return (
                f"LDAP {path}: Unknown {key} {'value' if key == 'tls_require_cert' else 'option'} '{value}'"
            )
    return _uris_refusal(conf)


def _uris_refusal(conf: ConfFile) -> str | None:
    """ldap_initialize() refuses the uris (LDAP_PARAM_ERROR); tls = yes on an ldaps:// URI."""
    uris = conf.value("uris")
    if not uris:
        return None  # uris = (empty): libldap takes ldap://localhost/
    try:
        parse_url_list(uris)
    except ServerListError:
        return (
            f"LDAP {conf.path}: ldap_initialize() failed with uris {uris}: Bad parameter to an ldap routine"
        )
    if _bool(conf, "tls") and uris.startswith("ldaps:"):
        # at the first connection: slapd answers StartTLS on a TLS connection with operationsError
        return f"LDAP {conf.path}: Don't use both tls=yes and ldaps URI"
    return None


@dataclass(frozen=True)
class LdapSettings:
    """dovecot-ldap.conf.ext after defaults (struct ldap_settings)."""

    path: str
    base: str
    scope: str  # base / one / sub, as the Directory takes it
    scope_name: str  # as written (subtree...), for messages
    user_filter: str
    pass_filter: str
    user_attrs: str
    pass_attrs: str
    default_pass_scheme: str
    auth_bind: bool
    auth_bind_userdn: str | None


@dataclass(frozen=True)
class AuthSettings:
    """The auth_* settings that shape a login name, and mail settings LMTP needs."""

    username_format: str = "%Lu"
    username_chars: str = DEFAULT_USERNAME_CHARS
    username_translation: str = ""
    default_realm: str = ""
    master_user_separator: str = ""
    recipient_delimiter: str = "+"
    first_valid_uid: int = 500
    mail_uid: str = ""
    mail_gid: str = ""
    mail_home: str = ""
    notes: tuple[str, ...] = field(default=())

    def translation_map(self) -> dict[str, str]:
        """auth_username_translation: pairs of characters (from, to)."""
        text = self.username_translation
        return {text[i]: text[i + 1] for i in range(0, len(text) - 1, 2)}


def _bool(conf: ConfFile, key: str) -> bool:
    return (conf.value(key) or "no").lower() == "yes"


def ldap_settings(conf: ConfFile) -> LdapSettings:
    """db_ldap_init(): defaults, then the file; DovecotRefuses for what dovecot finds fatal."""
    base = conf.value("base")
    if base is None:
        raise DovecotRefuses(f"LDAP {conf.path}: No base given")
    if conf.value("uris") is None and conf.value("hosts") is None:
        raise DovecotRefuses(f"LDAP {conf.path}: No uris or hosts set")
    scope_name = conf.value("scope", "subtree") or "subtree"
    if scope_name.lower() not in SCOPES:
        raise DovecotRefuses(f"LDAP {conf.path}: Unknown scope option '{scope_name}'")
    deref = conf.value("deref", "never") or "never"
    if deref.lower() not in ("never", "searching", "finding", "always"):
        raise DovecotRefuses(f"LDAP {conf.path}: Unknown deref option '{deref}'")
    return LdapSettings(
        path=conf.path,
        base=base,
        scope=SCOPES[scope_name.lower()],
        scope_name=scope_name,
        user_filter=_str(conf, "user_filter", "(&(objectClass=posixAccount)(uid=%u))"),
        pass_filter=_str(conf, "pass_filter", "(&(objectClass=posixAccount)(uid=%u))"),
        user_attrs=_str(conf, "user_attrs", "homeDirectory=home,uidNumber=uid,gidNumber=gid"),
        pass_attrs=_str(conf, "pass_attrs", "uid=user,userPassword=password"),
        default_pass_scheme=_str(conf, "default_pass_scheme", "crypt"),
        auth_bind=_bool(conf, "auth_bind"),
        auth_bind_userdn=conf.value("auth_bind_userdn"),
    )


def _str(conf: ConfFile, key: str, default: str) -> str:
    value = conf.value(key)
    return default if value is None else value


def _setting(dovecot: DovecotConf | None, key: str, default: str, protocol: str | None = None) -> str:
    """A dovecot.conf setting: the protocol block's value over the top level, else the default."""
    if dovecot is None:
        return default
    if protocol is not None and protocol in dovecot.protocols:
        value = dovecot.protocols[protocol].value(key)
        if value is not None:
            return value
    value = dovecot.settings.value(key)
    return default if value is None else value


def auth_settings(config: MailServerConfig, protocol: str | None = None) -> AuthSettings:
    """auth_default_settings overridden by dovecot.conf (and a `protocol NAME {}` block)."""
    dovecot = config.dovecot_main
    notes: list[str] = []
    first_valid = _setting(dovecot, "first_valid_uid", "500", protocol)
    try:
        first_valid_uid = int(first_valid)
    except ValueError:
        notes.append(f"first_valid_uid = {first_valid}: not a number; ldapdiag assumed 500")
        first_valid_uid = 500
    return AuthSettings(
        username_format=_setting(dovecot, "auth_username_format", "%Lu", protocol),
        username_chars=_setting(dovecot, "auth_username_chars", DEFAULT_USERNAME_CHARS, protocol),
        username_translation=_setting(dovecot, "auth_username_translation", "", protocol),
        default_realm=_setting(dovecot, "auth_default_realm", "", protocol),
        master_user_separator=_setting(dovecot, "auth_master_user_separator", "", protocol),
        recipient_delimiter=_setting(dovecot, "recipient_delimiter", "+", protocol),
        first_valid_uid=first_valid_uid,
        mail_uid=_setting(dovecot, "mail_uid", "", protocol),
        mail_gid=_setting(dovecot, "mail_gid", "", protocol),
        mail_home=_setting(dovecot, "mail_home", "", protocol),
        notes=tuple(notes),
    )
