"""What the audit says about one address, and about the whole run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ldapdiag.postfix.transaction import AddressOutcome

# The fault kinds, in the order the summary lists them.
KINDS = ("bounce", "defer", "dangling", "loop", "duplicate", "mailbox", "login", "ad-truncated")
KIND_TITLES = {
    "bounce": "addresses that bounce (refused at RCPT, or bounced after acceptance)",
    "defer": "addresses whose mail is deferred (temporary failures that never clear)",
    "dangling": "aliases and groups with a target that cannot be delivered",
    "loop": "alias expansions that never end (postfix defers the mail)",
    "duplicate": "addresses claimed by two entries",
    "mailbox": "mailboxes dovecot cannot find, or without home/uid/gid",
    "login": "accounts that cannot log in (dovecot's passdb rename, userdb cannot find the new name)",
    "ad-truncated": "Active Directory groups postfix sees truncated",
}


@dataclass(frozen=True)
class Finding:
    """One thing broken about an address."""

    kind: str  # one of KINDS
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "detail": self.detail}


@dataclass(frozen=True)
class Candidate:
    """An address the enumeration found: where, and what the enumeration already knows about it."""

    address: str
    found_in: str  # the map whose filter finds it: users, aliases, groups (or the table's name)
    dn: str
    findings: tuple[Finding, ...] = ()  # e.g. ad-truncated, seen while enumerating


@dataclass
class AddressAudit:
    """The verdict of one address and what is broken about it."""

    candidate: Candidate
    outcome: AddressOutcome
    findings: list[Finding] = field(default_factory=list)

    @property
    def address(self) -> str:
        return self.candidate.address

    @property
    def checked(self) -> bool:
        """False when ldapdiag cannot predict this address (not emulated, or the directory failed)."""
        return self.outcome.verdict != "unknown" and not self.outcome.faults

    @property
    def broken(self) -> bool:
        return bool(self.findings)


class Tallied(Protocol):
    """What the summary counts of one address (an AddressAudit, or what a worker process sent)."""

    @property
    def broken(self) -> bool: ...
    @property
    def checked(self) -> bool: ...
    @property
    def findings(self) -> Sequence[Finding]: ...


@dataclass
class AuditSummary:
    """The run's totals: addresses, broken ones, findings per kind, what could not be checked."""

    addresses: int = 0
    broken: int = 0
    unchecked: int = 0
    entries: int = 0
    findings: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    errors: list[str] = field(default_factory=list)  # why (part of) the directory could not be checked
    notes: list[str] = field(default_factory=list)  # limits of the enumeration
    ldap_searches: int = 0
    seconds: float = 0.0
    incomplete: bool = False  # the directory did not answer: the rest was not enumerated or checked

    def add(self, audit: Tallied) -> None:
        self.addresses += 1
        if audit.broken:
            self.broken += 1
        if not audit.checked:
            self.unchecked += 1
        for kind in {finding.kind for finding in audit.findings}:
            self.findings[kind] = self.findings.get(kind, 0) + 1
