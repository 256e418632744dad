"""What qmgr and the delivery agent do with each queued recipient: agent, status, DSN.

Mirrors qmgr's resolve step (qmgr_message.c `qmgr_message_resolve()`: the recipient resolved
again; a resolver failure defers it, "4.3.0 address resolver failure") and the final status
postfix logs: the `error` transport (virtual alias domain without a match) bounces with the
status in its next hop; dovecot LMTP (DMS's virtual_transport) decides by its RCPT reply, which
the dovecot engine predicts through LMTP_HOOK; other agents are named, their outcome left open
(status null): virtual(8) (SMTP_ONLY=1: with DMS's empty virtual_mailbox_base it cannot even
start, the mail stays queued), smtp to remote domains, local.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ldapdiag.config.model import MailServerConfig
from ldapdiag.postfix.resolve import Resolver
from ldapdiag.postfix.steps import Step


@dataclass(frozen=True)
class LmtpAnswer:
    """Dovecot LMTP's RCPT reply for a final recipient and the userdb answer behind it."""

    reply: str  # e.g. "250 2.1.5 OK", "550 5.1.1 <a@b> User doesn't exist: a@b"
    userdb: dict[str, object] | None = None
    data_reply: str | None = None  # after DATA, when the RCPT was accepted but delivery fails
    findings: tuple[str, ...] = ()  # dovecot's view of the userdb fields (missing uid, ...)
    inherits_ids: bool = False  # data_reply only for a missing uid/gid (see LmtpSession)
    source: object = field(default=None, compare=False)  # the engine's lookup behind it, for --explain


@dataclass
class LmtpSession:
    """One LMTP delivery of a message to dovecot, its recipients in queue order.

    Dovecot's LMTP drops privileges temporarily per recipient and keeps the effective uid/gid of
    the last delivery; a later recipient whose userdb has no uid/gid then runs with those instead of
    failing with "User is missing UID" (checked in the sandbox: alone it is deferred 4.3.0, after
    another recipient it is delivered).
    """

    ids_dropped: bool = False


DOVECOT_LMTP = "unix:/var/run/dovecot/lmtp"  # DMS's virtual_transport next hop: dovecot's LMTP socket

# TODO(dovecot engine): the lead wires ldapdiag.dovecot.lmtp.lmtp_rcpt() here, e.g.
#   LMTP_HOOK = lambda config, address: LmtpAnswer(outcome.reply, outcome.as_dict()["userdb"])
# None (the default) leaves `lmtp_reply`, `userdb`, `status` and `dsn` of LMTP recipients null.
LmtpHook = Callable[[MailServerConfig, str], LmtpAnswer | None]
LMTP_HOOK: LmtpHook | None = None


@dataclass
class FinalRecipient:
    """One queued recipient after alias expansion, and what becomes of it."""

    address: str  # exactly as postfix queues it
    original: str  # the RCPT TO address it came from
    transport: str | None = None  # e.g. "lmtp:unix:/var/run/dovecot/lmtp"
    agent: str | None = None  # the delivery agent postfix logs: lmtp, virtual, smtp, error, local
    status: str | None = None  # sent | bounced | deferred; None: ldapdiag cannot know
    dsn: str | None = None
    lmtp_reply: str | None = None
    userdb: dict[str, object] | None = None
    steps: list[Step] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """The JSON object of issue 12 (`address`, `status`, `dsn`, `lmtp_reply`, `userdb`) and more."""
        return {
            "address": self.address,
            "status": self.status,
            "dsn": self.dsn,
            "lmtp_reply": self.lmtp_reply,
            "userdb": self.userdb,
            "transport": self.transport,
            "agent": self.agent,
            "original_recipient": self.original,
        }


def status_from_reply(reply: str) -> tuple[str, str]:
    """smtp/lmtp client: a 2xx RCPT (and DATA) reply is sent, 4xx deferred, 5xx bounced; the DSN
    is the reply's enhanced status code (or X.0.0)."""
    code = reply[:1]
    parts = reply.split(" ", 2)
    dsn = parts[1] if len(parts) > 1 and parts[1][:1] == code and parts[1].count(".") == 2 else f"{code}.0.0"
    if code == "2":
        return "sent", "2.0.0"
    return ("deferred" if code == "4" else "bounced"), dsn


def deliver(
    config: MailServerConfig,
    resolver: Resolver,
    address: str,
    original: str,
    hook: LmtpHook | None = None,
    session: LmtpSession | None = None,
) -> FinalRecipient:
    """qmgr_message_resolve() and the delivery agent's outcome for one queued recipient."""
    final = FinalRecipient(address, original)
    reply = resolver.resolve(address, "delivery")
    final.steps += resolver.take_steps(reply, "delivery")
    if reply.fail:
        final.status, final.dsn, final.agent = "deferred", "4.3.0", "qmgr"
        final.steps.append(Step("delivery", "status", "address resolver failure: deferred"))
        return final
    final.transport = f"{reply.transport}:{reply.nexthop}"
    final.agent = reply.transport
    if reply.transport == "error":
        dsn, _, text = reply.nexthop.partition(" ")
        final.status, final.dsn = "bounced", dsn
        final.steps.append(Step("delivery", "status", f"error transport: {text}: bounced"))
        return final
    if reply.transport == "lmtp" and reply.nexthop == DOVECOT_LMTP and reply.klass == "virtual_mailbox":
        answer = (hook or LMTP_HOOK)(config, address) if (hook or LMTP_HOOK) else None
        if answer is None:
            final.steps.append(
                Step(
                    "delivery", "note", "LMTP to dovecot: its reply is the dovecot engine's part (not wired)"
                )
            )
            return final
        final.lmtp_reply, final.userdb = answer.reply, answer.userdb
        final.steps.append(
            Step("delivery", "lmtp", f"dovecot LMTP answers {answer.reply}", source=answer.source)
        )
        final.steps += [Step("delivery", "userdb", finding) for finding in answer.findings]
        data_reply = answer.data_reply
        if data_reply and answer.inherits_ids and session is not None and session.ids_dropped:
            data_reply = None
            final.steps.append(
                Step(
                    "delivery",
                    "quirk",
                    "no uid/gid, but an earlier recipient of this LMTP session left "
                    "dovecot running with its ids: delivered with those",
                )
            )
        elif data_reply:
            final.steps.append(Step("delivery", "lmtp", f"after DATA dovecot answers {data_reply}"))
        final.status, final.dsn = status_from_reply(data_reply or answer.reply)
        if session is not None and final.status == "sent":
            session.ids_dropped = True
        return final
    if reply.transport == "virtual" and not resolver.params.get("virtual_mailbox_base").strip():
        final.steps.append(
            Step(
                "delivery",
                "note",
                "virtual(8) cannot start: virtual_mailbox_base is empty (postfix logs `fatal: bad string "
                "length 0 < 1: virtual_mailbox_base =` and throttles the transport; checked): the message "
                "stays in the queue, no status is logged",
            )
        )
        return final
    final.steps.append(
        Step(
            "delivery",
            "note",
            f"delivered by {reply.transport} ({reply.klass} class): its outcome depends on that agent "
            "and on hosts outside the directory; ldapdiag leaves the status open",
        )
    )
    return final
