"""What the sandbox's probes answer: the real programs' replies, parsed only as far as tests need.

Plain dataclasses built from JSON (the agent sends them as dicts); standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


def _build(cls: type, data: dict[str, Any]) -> Any:
    """An instance of dataclass `cls` from a dict (lists become tuples)."""
    names = {f.name for f in fields(cls)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names}
    return cls(**values)


@dataclass(frozen=True)
class Delivery:
    """One `to=<...>` line of the postfix log for a probe's message."""

    queue_id: str
    to: str
    orig_to: str | None
    status: str  # sent, bounced, deferred, ...
    dsn: str
    relay: str
    reply: str  # the text in parentheses: for LMTP "250 2.0.0 <a> ... Saved" or "host ... said: ..."
    agent: str  # the postfix program that logged it: lmtp, error, virtual, ...
    line: str

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Delivery:
        return _build(cls, data)


@dataclass(frozen=True)
class RcptProbe:
    """One SMTP transaction on port 25: the replies as sent, then what became of the message."""

    mail_from: str
    mail_reply: str  # "250 2.1.0 Ok"
    rcpt: dict[str, str]  # address -> "CODE X.Y.Z text", in the order sent
    data_reply: str | None  # None when no recipient was accepted (a client sends no DATA then)
    queue_id: str | None
    deliveries: tuple[Delivery, ...]
    log: tuple[str, ...]  # every mail.log line of the probe
    settled: bool = True  # False when the queue had not settled before the timeout

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RcptProbe:
        data = dict(data, deliveries=[Delivery.from_dict(d) for d in data["deliveries"]])
        return _build(cls, data)

    def delivered_to(self) -> dict[str, str]:
        """Final recipient -> status of each delivery."""
        return {d.to: d.status for d in self.deliveries}


@dataclass(frozen=True)
class SubmissionProbe:
    """AUTH, MAIL FROM and RCPT replies on the submission port (587, STARTTLS first)."""

    auth: str
    mail_from: str | None  # None when AUTH failed (nothing more was sent)
    rcpt: str | None
    log: tuple[str, ...]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmissionProbe:
        return _build(cls, data)


@dataclass(frozen=True)
class SessionStep:
    """One step of an SMTP session: what was sent and what came back within the wait."""

    command: str  # "connect", "greeting", "EHLO", "STARTTLS", "EHLO (TLS)", "AUTH", "MAIL FROM", "RCPT TO"...
    outcome: str  # "reply", "timeout" (nothing complete came), "closed" (the server closed), "refused"
    reply: str  # the reply as sent (multi-line joined by "\n"), or what arrived before the timeout

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionStep:
        return _build(cls, data)


@dataclass(frozen=True)
class SessionProbe:
    """An SMTP session step by step, up to the first step without a reply."""

    port: int
    steps: tuple[SessionStep, ...]
    log: tuple[str, ...]  # mail.log lines written meanwhile

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionProbe:
        data = dict(data, steps=[SessionStep.from_dict(step) for step in data["steps"]])
        return _build(cls, data)

    @property
    def stalled(self) -> SessionStep | None:
        """The first step that got no reply (timeout or closed connection), None if all replied."""
        return next((step for step in self.steps if step.outcome != "reply"), None)

    def reply(self, command: str) -> str | None:
        """The reply to a command, None when it got none."""
        step = next((s for s in self.steps if s.command == command), None)
        return step.reply if step is not None and step.outcome == "reply" else None


@dataclass(frozen=True)
class DoveadmResult:
    """One doveadm command: exit code, output, and what the test needs from it."""

    args: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str
    success: bool
    fields: dict[str, str] = field(default_factory=dict)  # userdb fields (user, auth login)
    passdb_fields: dict[str, str] = field(default_factory=dict)  # passdb extra fields (auth test/login)
    reason: str = ""  # failure text as doveadm printed it ("" on success)
    log: tuple[str, ...] = ()  # dovecot log lines written meanwhile (auth debug: filters, errors)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DoveadmResult:
        return _build(cls, data)


@dataclass(frozen=True)
class SaslResult:
    """testsaslauthd's answer: `0: OK "Success."` or `0: NO "authentication failed"`."""

    ok: bool
    answer: str
    exit_code: int
    log: tuple[str, ...] = ()  # saslauthd -d lines written meanwhile

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SaslResult:
        return _build(cls, data)


@dataclass(frozen=True)
class CommandResult:
    """Any other program run inside the sandbox (postmap -q, postconf...)."""

    args: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CommandResult:
        return _build(cls, data)
