"""SMTP AUTH as postfix does it in DMS v15: cyrus SASL + saslauthd (ldap or rimap), or dovecot SASL.

Mirrors postfix 3.7 smtpd_sasl_glue.c (`smtpd_sasl_local_domain` is the cyrus user realm, empty
means none) and xsasl_cyrus_server.c, cyrus-sasl 2.1.28 lib/canonusr.c `_canonuser_internal()`
(blanks around the login go; `@realm` is appended to a login without '@'; that is the SASL
username postfix logs and compares) and lib/checkpw.c `saslauthd_verify_password()` (the name is
split at its LAST '@' into user and realm for saslauthd), DMS v15.1.0
supervisor/conf.d/saslauth.conf (`saslauthd -a ldap` without -r; `-a rimap -r`, so rimap logs
in to dovecot as user@realm) and dovecot's SASL server for smtpd_sasl_type = dovecot (the passdb
alone; postfix takes the name dovecot returns).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ldapdiag.config.model import MailServerConfig
from ldapdiag.config.postfix_cf import expand_postfix_value
from ldapdiag.directory.ldapconf import LdapConf, read_ldap_conf
from ldapdiag.directory.policy import PolicyError
from ldapdiag.dovecot.engine import DovecotAuth
from ldapdiag.dovecot.ldap_search import DirectoryFactory
from ldapdiag.dovecot.lookups import CannotPredict
from ldapdiag.dovecot.policies import saslauthd_policy
from ldapdiag.postfix.startup import CannotStart
from ldapdiag.saslauthd.lak import LakOutcome, SaslauthdCannotPredict, lak_authenticate, lak_settings

Via = Literal["saslauthd", "dovecot", "rimap", "none"]


@dataclass
class SmtpAuthOutcome:
    """The SMTP AUTH verdict for one login and password."""

    via: Via
    ok: bool
    sasl_username: str | None
    reason: str
    saslauthd_user: str | None = None  # what saslauthd receives as user / realm
    saslauthd_realm: str | None = None
    lak: LakOutcome | None = None
    cannot_predict: bool = False
    steps: list[str] = field(default_factory=list)
    cannot_start: CannotStart | None = None  # a program SMTP AUTH needs cannot start (see startup.py)
    # for --explain: dovecot's PassdbOutcome (dovecot SASL) or LoginOutcome (rimap) behind the verdict
    source: object = field(default=None, compare=False, repr=False)


def main_cf_value(config: MailServerConfig, key: str, default: str = "") -> str:
    """A main.cf parameter with $name references expanded (postfix mac_expand())."""
    main = config.postfix_main
    params = {k: e.value for k, e in main.effective().items()}
    value = main.value(key)
    if value is None:
        return default
    return expand_postfix_value(value, params, main.path)


def sasl_mode(config: MailServerConfig) -> Via:
    """Which SMTP AUTH path postfix takes in this configuration."""
    if main_cf_value(config, "smtpd_sasl_auth_enable", "yes").lower() == "no" and config.saslauthd is None:
        return "none"
    if main_cf_value(config, "smtpd_sasl_type", "cyrus").lower() == "dovecot":
        return "dovecot"
    mechanisms = (config.settings.value("SASLAUTHD_MECHANISMS") or "").strip()
    if mechanisms == "rimap":
        return "rimap"
    return "saslauthd"


def cyrus_split(login: str, user_realm: str) -> tuple[str, str, str]:
    """_canonuser_internal() then saslauthd_verify_password(): (SASL username, user, realm)."""
    stripped = login.strip(" \t\n\v\f\r")
    canonical = stripped if "@" in login or not user_realm else f"{stripped}@{user_realm}"
    if "@" in canonical:
        user, _, realm = canonical.rpartition("@")
        return canonical, user, realm
    return canonical, canonical, ""


# checked: postfix's reply to AUTH when saslauthd answers NO (cyrus SASL: SASL_BADAUTH)
AUTH_FAILED = "535 5.7.8 Error: authentication failed: authentication failure"
DOVECOT_SASL_GONE = (
    "the connection is closed without a reply to EHLO once TLS is on (after STARTTLS on 587): smtpd asks "
    "dovecot's auth socket for its mechanisms, gets none and exits (`fatal: no SASL authentication "
    "mechanisms`); no AUTH, no mail from authenticated clients"
)
SASLAUTHD_NO = "every AUTH fails: saslauthd rejects its configuration file and answers NO to every login"


def sasl_cannot_start(config: MailServerConfig, factory: DirectoryFactory) -> CannotStart | None:
    """The SASL service postfix's submission smtpd asks cannot work with this configuration at all:
    dovecot's auth process dies at start, or saslauthd rejects saslauthd.conf (checked, both)."""
    mode = sasl_mode(config)
    if mode == "dovecot" and config.dovecot_ldap is not None:
        try:
            with DovecotAuth(config, factory) as auth:
                refusal = auth.refusal()
        except CannotPredict:
            return None
        if refusal is not None:
            return CannotStart("dovecot/auth", f"Fatal: {refusal}", "EHLO", DOVECOT_SASL_GONE)
    mechanisms = (config.settings.value("SASLAUTHD_MECHANISMS") or "ldap").strip()
    conf = config.saslauthd
    if mode == "saslauthd" and mechanisms in ("ldap", "") and conf is not None and conf.refused:
        return CannotStart("saslauthd", conf.refused, "AUTH", SASLAUTHD_NO, reply=AUTH_FAILED)
    return None


def smtp_auth(
    config: MailServerConfig,
    factory: DirectoryFactory,
    login: str,
    password: str,
    ldap_conf: LdapConf | None = None,
) -> SmtpAuthOutcome:
    """What postfix answers to AUTH PLAIN with this login and password."""
    mode = sasl_mode(config)
    if mode == "none":
        return SmtpAuthOutcome("none", False, None, "SMTP AUTH is disabled (smtpd_sasl_auth_enable = no)")
    failure = sasl_cannot_start(config, factory)
    if failure is not None:
        name = (
            None
            if mode == "dovecot"
            else cyrus_split(login, main_cf_value(config, "smtpd_sasl_local_domain"))[0]
        )
        return SmtpAuthOutcome(mode, False, name, failure.describe(), cannot_start=failure)
    if mode == "dovecot":
        return _dovecot_sasl(config, factory, login, password)
    realm = main_cf_value(config, "smtpd_sasl_local_domain")
    canonical, user, user_realm = cyrus_split(login, realm)
    if not login.strip(" \t\n\v\f\r"):
        return SmtpAuthOutcome(mode, False, None, "All-whitespace username.")
    if mode == "rimap":
        return _rimap(config, factory, canonical, password)
    mechanisms = (config.settings.value("SASLAUTHD_MECHANISMS") or "ldap").strip()
    if config.saslauthd is None or mechanisms not in ("ldap", ""):
        return SmtpAuthOutcome(
            "saslauthd",
            False,
            canonical,
            f"saslauthd mechanism {mechanisms!r} is not emulated by ldapdiag",
            cannot_predict=True,
        )
    try:
        settings = lak_settings(config.saslauthd)
        policy = saslauthd_policy(
            config.saslauthd, ldap_conf or read_ldap_conf(), config.identity.hostname or None
        )
    except SaslauthdCannotPredict as error:
        return SmtpAuthOutcome(
            "saslauthd", False, canonical, str(error), user, user_realm, cannot_predict=True
        )
    except PolicyError as error:
        return SmtpAuthOutcome("saslauthd", False, canonical, str(error), user, user_realm)
    lak = lak_authenticate(settings, policy, factory, user, user_realm, password)
    reason = lak.reason if not lak.ok else ""
    return SmtpAuthOutcome("saslauthd", lak.ok, canonical, reason, user, user_realm, lak)


def _rimap(config: MailServerConfig, factory: DirectoryFactory, name: str, password: str) -> SmtpAuthOutcome:
    """saslauthd -a rimap -r: an IMAP LOGIN to dovecot as user@realm (passdb and userdb)."""
    try:
        with DovecotAuth(config, factory) as auth:
            login = auth.login(name, password, service="imap")
    except CannotPredict as error:
        return SmtpAuthOutcome("rimap", False, name, str(error), cannot_predict=True)
    if login.imap_login:
        return SmtpAuthOutcome("rimap", True, name, "", source=login)
    step = login.userdb if login.passdb.result == "ok" and login.userdb is not None else login.passdb
    reason = f"IMAP login as {name} fails: {step.reason}"
    return SmtpAuthOutcome("rimap", False, name, reason, source=login)


def _dovecot_sasl(
    config: MailServerConfig, factory: DirectoryFactory, login: str, password: str
) -> SmtpAuthOutcome:
    """smtpd_sasl_type = dovecot: the passdb with service smtp; the name dovecot returns."""
    try:
        with DovecotAuth(config, factory) as auth:
            passdb, _ = auth.verify(login, password, service="smtp")
    except CannotPredict as error:
        return SmtpAuthOutcome("dovecot", False, None, str(error), cannot_predict=True)
    ok = passdb.result == "ok"
    return SmtpAuthOutcome("dovecot", ok, passdb.user if ok else None, passdb.reason, source=passdb)
