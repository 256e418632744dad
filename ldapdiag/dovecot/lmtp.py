"""Dovecot LMTP's answer to RCPT TO for a final recipient postfix hands over.

Mirrors dovecot 2.3.19.1 src/lmtp/lmtp-commands.c (`smtp_address_detail_parse()`: the local part
is cut at the first recipient_delimiter character, the domain glued back) and lmtp-local.c
`lmtp_local_rcpt()` (the userdb lookup of mail_storage_service_lookup(): unknown ->
"550 5.1.1 <rcpt> User doesn't exist: user", failure -> "451 4.3.0 <rcpt> Temporary internal
error", else "250 2.1.5 OK"), and lib-storage/mail-storage-service.c `user_reply_handle()`
("userdb returned 0 as uid" fails the lookup) and `service_parse_privileges()` for the findings
about the fields (checked at delivery, after RCPT: missing UID/GID, UIDs below first_valid_uid).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

from ldapdiag.config.model import MailServerConfig
from ldapdiag.dovecot.engine import DovecotAuth
from ldapdiag.dovecot.ldap_search import DirectoryFactory
from ldapdiag.dovecot.lookups import CannotPredict, UserdbOutcome
from ldapdiag.dovecot.settings import AuthSettings

DMS_VMAIL_ID = 5000  # DMS v15 Dockerfile: useradd -u 5000 docker; /var/mail is 5000:5000 mode 2775


@dataclass(frozen=True)
class LmtpOutcome:
    """The RCPT reply dovecot's LMTP gives and the userdb lookup behind it."""

    address: str
    username: str  # the name looked up: recipient delimiter and detail removed
    reply: str | None  # None: ldapdiag cannot predict it (see findings)
    userdb: UserdbOutcome | None
    findings: tuple[str, ...]
    data_reply: str | None = None  # the reply after DATA when the RCPT was accepted but delivery fails
    # True when data_reply comes only from a missing uid/gid: mail_storage_service_next() then takes
    # the process's effective ids, which an earlier recipient of the same LMTP session left at its own
    inherits_ids: bool = False

    def as_dict(self) -> dict[str, object]:
        """`lmtp_reply` and `userdb` as `resolve`'s JSON carries them, plus the findings."""
        userdb = None
        if self.userdb is not None:
            userdb = {"result": self.userdb.result, "fields": dict(self.userdb.fields)}
        return {"lmtp_reply": self.reply, "userdb": userdb, "findings": list(self.findings)}


def lmtp_username(address: str, delimiters: str) -> str:
    """smtp_address_detail_parse(): local part up to the first delimiter character, @domain."""
    local, at, domain = address.rpartition("@")
    if not at:
        local, domain = address, ""
    cut = min((local.find(c) for c in delimiters if c in local), default=-1) if delimiters else -1
    user = local[:cut] if cut >= 0 else local
    return f"{user}@{domain}" if domain else user


def lmtp_rcpt(
    config: MailServerConfig,
    directory_factory: DirectoryFactory,
    address: str,
    auth: DovecotAuth | None = None,
) -> LmtpOutcome:
    """lmtp_local_rcpt(): the reply to `RCPT TO:<address>` and findings on the userdb fields.

    `auth`: a long-lived DovecotAuth to ask (kept open; `ldapdiag audit` asks it many times).
    """
    shared = nullcontext(auth) if auth is not None else DovecotAuth(config, directory_factory)
    with shared as auth:
        settings = auth.settings("lmtp")
        username = lmtp_username(address, settings.recipient_delimiter)
        if config.dovecot_ldap is None:
            return LmtpOutcome(address, username, None, None, ("dovecot LMTP is not used here",))
        try:
            refusal = auth.refusal()
            if refusal is not None:
                # checked: lmtp logs "auth-master: userdb lookup(...): Disconnected unexpectedly"
                reason = f"dovecot's auth process cannot start with this configuration: Fatal: {refusal}"
                userdb = UserdbOutcome("internal_failure", username, {}, reason)
                reply = f"451 4.3.0 <{address}> Temporary internal error"
                return LmtpOutcome(address, username, reply, userdb, (reason,))
            userdb = auth.user(username, service="lmtp")
        except CannotPredict as error:
            return LmtpOutcome(address, username, None, None, (str(error),))
    if userdb.result == "unknown":
        reply = f"550 5.1.1 <{address}> User doesn't exist: {username}"
        return LmtpOutcome(address, username, reply, userdb, ())
    if userdb.result == "internal_failure":
        return LmtpOutcome(
            address, username, f"451 4.3.0 <{address}> Temporary internal error", userdb, (userdb.reason,)
        )
    if userdb.fields.get("uid") == "0":
        findings = ("userdb returned 0 as uid",)
        return LmtpOutcome(
            address, username, f"451 4.3.0 <{address}> Temporary internal error", userdb, findings
        )
    findings = field_findings(userdb.fields, settings)
    failing = [finding for finding in findings if DELIVERY_FAILS in finding]
    data_reply = f"451 4.3.0 <{address}> Temporary internal error" if failing else None
    inherits = bool(failing) and all(MISSING_ID in finding for finding in failing)
    return LmtpOutcome(address, username, "250 2.1.5 OK", userdb, tuple(findings), data_reply, inherits)


DELIVERY_FAILS = "delivery fails"  # marks findings after which mail_storage_service refuses the user
MISSING_ID = "is not set: delivery fails"  # the missing uid/gid findings


def field_findings(fields: dict[str, str], settings: AuthSettings) -> list[str]:
    """What delivery (after RCPT) will make of the userdb fields in a DMS container."""
    findings: list[str] = []
    uid, gid = fields.get("uid"), fields.get("gid", "").split(",")[0] or None
    if "home" not in fields:
        where = f"mail_home = {settings.mail_home}" if settings.mail_home else "no mail_home either"
        findings.append(f"userdb returns no home: dovecot uses {where}")
    if uid is None and not settings.mail_uid:
        findings.append(
            "userdb returns no uid and mail_uid is not set: delivery fails "
            "(User is missing UID (see mail_uid setting))"
        )
    elif uid is not None and int(uid) < settings.first_valid_uid:
        findings.append(
            f"uid {uid} is below first_valid_uid ({settings.first_valid_uid}): dovecot refuses mail access, "
            f"{DELIVERY_FAILS} (451 after DATA)"
        )
    elif uid is not None and int(uid) != DMS_VMAIL_ID:
        findings.append(
            f"uid {uid}: DMS's /var/mail belongs to {DMS_VMAIL_ID}:{DMS_VMAIL_ID} (mode 2775); "
            f"mail stored as uid {uid} may not be writable"
        )
    if gid is None and not settings.mail_gid:
        findings.append(
            "userdb returns no gid and mail_gid is not set: delivery fails "
            "(User is missing GID (see mail_gid setting))"
        )
    elif gid is not None and int(gid) != DMS_VMAIL_ID:
        findings.append(f"gid {gid}: DMS's /var/mail group is {DMS_VMAIL_ID}")
    return findings
