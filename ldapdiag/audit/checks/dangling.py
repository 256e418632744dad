"""dangling: an alias or group whose expansion (cleanup's virtual alias expansion) reaches an
address that cannot be delivered: its delivery bounces or is deferred. The sender gets a bounce
for that member while the others receive the mail."""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.audit.checks.context import CheckContext
from ldapdiag.audit.model import Finding


def check(ctx: CheckContext) -> Iterator[Finding]:
    for recipient in ctx.others():
        if recipient.status in ("bounced", "deferred"):
            said = recipient.lmtp_reply or f"status {recipient.dsn}"
            yield Finding("dangling", f"-> {recipient.address}: {recipient.status} ({said})")
