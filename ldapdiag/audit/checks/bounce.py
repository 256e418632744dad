"""bounce: postfix refuses the address at RCPT (5xx), or the mail to the address itself bounces
after it was accepted (e.g. dovecot's LMTP: 550 5.1.1 User doesn't exist; postfix's delivery
status bounced, a bounce message goes back to the sender: delivery.py)."""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.audit.checks.context import CheckContext
from ldapdiag.audit.model import Finding


def check(ctx: CheckContext) -> Iterator[Finding]:
    outcome = ctx.outcome
    if outcome.verdict == "reject":
        yield Finding("bounce", f"RCPT TO refused: {outcome.smtp_reply}")
        return
    for recipient in ctx.own():
        if recipient.status == "bounced":
            said = recipient.lmtp_reply or f"status {recipient.dsn}"
            yield Finding("bounce", f"accepted, then bounced by {recipient.agent}: {said}")
