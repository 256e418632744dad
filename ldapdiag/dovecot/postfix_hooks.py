"""Dovecot's answers where postfix asks dovecot: LMTP delivery (resolve) and SASL names (send-as).

Postfix hands virtual mailbox recipients to dovecot's LMTP (`virtual_transport =
lmtp:unix:/var/run/dovecot/lmtp`); dovecot's RCPT reply decides whether they are delivered.
With dovecot SASL, postfix's `sasl_username` is the user name dovecot's auth replies with
(after auth_username_format and a `user` rename in the passdb).
"""

from __future__ import annotations

from ldapdiag.config.model import MailServerConfig
from ldapdiag.dovecot.engine import DovecotAuth
from ldapdiag.dovecot.ldap_search import DirectoryFactory
from ldapdiag.dovecot.lmtp import lmtp_rcpt
from ldapdiag.dovecot.lookups import PassdbOutcome
from ldapdiag.postfix.delivery import LmtpAnswer, LmtpHook
from ldapdiag.postfix.sender_login import DovecotNameHook


def lmtp_hook(factory: DirectoryFactory) -> LmtpHook:
    """lmtp_local_rcpt() for each final recipient postfix delivers to dovecot."""

    def answer(config: MailServerConfig, address: str) -> LmtpAnswer | None:
        outcome = lmtp_rcpt(config, factory, address)
        if outcome.reply is None:
            return None
        userdb = outcome.as_dict()["userdb"]
        return LmtpAnswer(
            outcome.reply,
            userdb,
            outcome.data_reply,
            outcome.findings,
            outcome.inherits_ids,  # type: ignore[arg-type]
            source=outcome,
        )

    return answer


def sasl_name_hook(factory: DirectoryFactory, record: list[PassdbOutcome] | None = None) -> DovecotNameHook:
    """The name dovecot's auth answers postfix with: a passdb lookup as service smtp (None if unknown).

    record: where the passdb lookups are kept (send-as --explain shows them)."""

    def name(config: MailServerConfig, login: str) -> str | None:
        if config.dovecot_ldap is None:
            return None
        with DovecotAuth(config, factory) as auth:
            passdb, _ = auth.lookup(login, service="smtp")
        if record is not None:
            record.append(passdb)
        return passdb.user if passdb.result == "ok" else None

    return name
