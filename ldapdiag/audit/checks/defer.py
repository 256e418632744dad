"""defer: a temporary failure for the address itself: 4xx at RCPT (a table lookup fails) or at the
end of DATA (cleanup cannot expand it), or its delivery is deferred (LMTP 4xx). Postfix retries
until maximal_queue_lifetime, then bounces; senders see the mail delayed for days."""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.audit.checks.context import CheckContext
from ldapdiag.audit.model import Finding


def check(ctx: CheckContext) -> Iterator[Finding]:
    outcome = ctx.outcome
    if outcome.verdict == "defer":
        yield Finding("defer", f"temporary failure: {outcome.smtp_reply or 'no reply'}")
        return
    for recipient in ctx.own():
        if recipient.status == "deferred":
            said = recipient.lmtp_reply or f"status {recipient.dsn}"
            yield Finding("defer", f"accepted, delivery deferred by {recipient.agent}: {said}")
