"""mailbox: postfix hands the address to dovecot's LMTP, and dovecot's userdb lookup (lmtp.py)
does not find it (550 5.1.1 User doesn't exist), fails (451: several entries, a broken field), or
answers without what delivery needs: no uid or gid (and no mail_uid/mail_gid: "User is missing
UID", 451 after DATA), no home (and no mail_home: dovecot has no home for sieve, indexes...)."""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.audit.checks.context import CheckContext
from ldapdiag.audit.model import Finding


def check(ctx: CheckContext) -> Iterator[Finding]:
    settings = ctx.engine.lmtp_settings()
    for recipient in ctx.own():
        userdb = recipient.userdb
        if recipient.lmtp_reply is None or not isinstance(userdb, dict):
            continue
        result = userdb.get("result")
        if result == "unknown":
            yield Finding(
                "mailbox", f"dovecot's userdb does not find it: LMTP answers {recipient.lmtp_reply}"
            )
            continue
        if result != "ok":
            yield Finding("mailbox", f"dovecot's userdb lookup fails: LMTP answers {recipient.lmtp_reply}")
            continue
        fields = userdb.get("fields") or {}
        missing = []
        if "home" not in fields and not (settings and settings.mail_home):
            missing.append("home")
        if "uid" not in fields and not (settings and settings.mail_uid):
            missing.append("uid")
        if not fields.get("gid") and not (settings and settings.mail_gid):
            missing.append("gid")
        if missing:
            yield Finding(
                "mailbox",
                f"dovecot's userdb answer has no {', '.join(missing)} (and no mail_{missing[0]} default)"
                + (": delivery fails (451 4.3.0 after DATA)" if {"uid", "gid"} & set(missing) else ""),
            )
