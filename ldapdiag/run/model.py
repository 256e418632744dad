"""What an expectation file says (docs/expect-format.md), and what checking one expectation gives.

Every expectation carries `where` (`FILE:LINE` of its YAML node) so results point at the line to
edit. Passwords never enter these objects: a login expectation holds where its password is
(`PasswordSource`), and the secret is read only when the check runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal["pass", "fail", "error"]  # error: could not be checked
MailOutcome = Literal["deliver", "accept", "bounce", "reject", "defer"]
MAIL_OUTCOMES: tuple[MailOutcome, ...] = ("deliver", "accept", "bounce", "reject", "defer")
CLIENTS = ("external", "mynetworks")


@dataclass(frozen=True)
class PasswordSource:
    """Where a login's password is: a file (optionally a key inside a YAML file) or a variable."""

    file: str | None = None  # as written; relative paths are relative to the expectation file
    key: str | None = None  # dotted path inside a YAML password file, e.g. users.alice
    env: str | None = None  # the name of an environment variable

    def describe(self) -> str:
        """Where the password comes from, for messages (never the password)."""
        if self.env is not None:
            return f"environment variable {self.env}"
        return f"{self.file} ({self.key})" if self.key else f"file {self.file}"


@dataclass(frozen=True)
class MailExpectation:
    """deliver/accept/bounce/reject/defer: one address sent to from the internet (or mynetworks)."""

    where: str
    outcome: MailOutcome
    address: str
    to: tuple[str, ...] | None = None  # deliver/accept/bounce: the final recipients, exactly (any order)
    transport: str | None = None  # deliver/accept/bounce: the transport every final recipient takes
    reply: str | None = None  # bounce/reject/defer: the reply starts with this text
    mail_from: str | None = None  # None: the file's default, else ldapdiag's default sender
    client: str = "external"


@dataclass(frozen=True)
class SendAsExpectation:
    """After SMTP AUTH as `login`: `sender` is allowed (or refused) as MAIL FROM."""

    where: str
    login: str
    sender: str
    allowed: bool
    reply: str | None = None  # denied: the reply starts with this text


@dataclass(frozen=True)
class SaslNameExpectation:
    """After SMTP AUTH as `login`, postfix's sender check compares this name."""

    where: str
    login: str
    sasl_username: str


@dataclass(frozen=True)
class LoginExpectation:
    """An IMAP login (dovecot) or SMTP AUTH (saslauthd / dovecot SASL) succeeds or fails."""

    where: str
    user: str
    password: PasswordSource
    base_dir: str  # the folder of the expectation file (relative password files)
    service: Literal["imap", "smtp"]
    succeeds: bool


@dataclass(frozen=True)
class UserExpectation:
    """dovecot's userdb lookup (doveadm user, LMTP): its result, and for `ok` these fields."""

    where: str
    user: str
    result: str = "ok"  # ok | unknown | internal_failure
    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LookupExpectation:
    """postmap -q KEY on a map: this value, not found, or a lookup error."""

    where: str
    map: str
    key: str
    value: str | None  # None: not found (or an error, with error)
    error: bool = False  # the lookup fails (postfix: a temporary failure)


@dataclass(frozen=True)
class LintExpectation:
    """A lint finding (rule code, or every finding of a level) is absent, or present."""

    where: str
    code: str  # a rule code, or "error" / "warning" for every rule of that level
    present: bool
    server: bool = False
    dms_version: int = 15


Expectation = (
    MailExpectation
    | SendAsExpectation
    | SaslNameExpectation
    | LoginExpectation
    | UserExpectation
    | LookupExpectation
    | LintExpectation
)


@dataclass(frozen=True)
class ExpectFile:
    """One parsed expectation file."""

    path: str  # as given on the command line
    name: str  # `name:`, else the file name
    expectations: tuple[Expectation, ...]


@dataclass(frozen=True)
class Result:
    """The verdict on one expectation."""

    where: str
    kind: str  # deliver, send-as, login, lookup, lint, ...
    subject: str  # what was checked, e.g. "info@example.org" or "alice@example.org imap"
    status: Status
    expected: str
    actual: str
    details: tuple[str, ...] = field(default=())  # more lines for a failure (a readable diff)

    @property
    def title(self) -> str:
        return f"{self.kind} {self.subject}"

    def as_dict(self) -> dict[str, object]:
        file, _, line = self.where.rpartition(":")
        return {
            "file": file,
            "line": int(line) if line.isdigit() else None,
            "kind": self.kind,
            "subject": self.subject,
            "status": self.status,
            "expected": self.expected,
            "actual": self.actual,
            "details": list(self.details),
        }
