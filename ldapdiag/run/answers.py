"""What the mail server answers, in the terms expectations are checked in.

An Oracle gives these answers. ldapdiag's engines are one oracle (`engine_oracle.py`); the test
suite plugs in the real postfix, dovecot and saslauthd of its sandbox as another, so the very same
expectation files are checked against the real programs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Delivered:
    """One final recipient of an accepted address."""

    address: str  # exactly as postfix queues it
    status: str | None  # sent | bounced | deferred; None: not known (a delivery agent ldapdiag cannot see)
    dsn: str | None = None
    transport: str | None = None
    reply: str | None = None  # the delivery agent's reply (dovecot LMTP's), when known


@dataclass(frozen=True)
class MailAnswer:
    """One address sent to in its own SMTP transaction."""

    verdict: str  # deliver (queued) | reject | defer | unknown
    smtp_reply: str | None  # the first non-2xx reply for the address (RCPT or DATA)
    recipients: tuple[Delivered, ...] = ()
    unknown_reason: str | None = None  # verdict unknown: why it cannot be predicted
    note: str | None = None  # e.g. why there is no reply at all (a postfix daemon cannot start)


@dataclass(frozen=True)
class SendAsAnswer:
    """MAIL FROM:<sender> after AUTH as a login."""

    sender: str
    allowed: bool
    sasl_username: str | None
    smtp_reply: str | None
    cannot_check: str | None = None  # the directory did not answer (a fault): could not check


@dataclass(frozen=True)
class LoginAnswer:
    """IMAP login and SMTP AUTH with one name and password."""

    imap: bool
    imap_reason: str
    smtp: bool
    smtp_reason: str
    cannot_check: str | None = None


@dataclass(frozen=True)
class UserAnswer:
    """dovecot's userdb lookup."""

    result: str  # ok | unknown | internal_failure
    fields: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    cannot_check: str | None = None


@dataclass(frozen=True)
class LookupAnswer:
    """postmap -q KEY MAP."""

    found: bool
    value: str | None
    error: str | None = None  # the lookup failed (postfix: a temporary failure)
    cannot_check: str | None = None  # the directory did not answer (a fault): could not check


@dataclass(frozen=True)
class LintFinding:
    level: str
    code: str
    where: str
    message: str


@dataclass(frozen=True)
class LintAnswer:
    findings: tuple[LintFinding, ...]
    not_checked: tuple[str, ...] = ()


class Oracle(Protocol):
    """Answers the questions expectations ask."""

    def mail(self, address: str, mail_from: str | None, client: str) -> MailAnswer: ...

    def send_as(self, login: str, senders: Sequence[str]) -> list[SendAsAnswer]: ...

    def login(self, user: str, password: str) -> LoginAnswer: ...

    def user(self, user: str) -> UserAnswer: ...

    def lookup(self, map_name: str, key: str) -> LookupAnswer: ...

    def lint(self, server: bool, dms_version: int) -> LintAnswer: ...
