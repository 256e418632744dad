"""The query trace: every operation ldapdiag sends, as it was sent, with what came back.

Engines and reports read it (`--explain` prints it). A bind is recorded with its DN only:
the trace has no field a password could go into.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ldapdiag.directory.faults import FaultLog

Operation = Literal["connect", "starttls", "bind", "search", "whoami", "unbind"]
SCOPE_NAMES = {0: "base", 1: "one", 2: "sub"}


@dataclass(frozen=True)
class TraceEvent:
    """One operation on the wire (or one connection attempt)."""

    component: str  # postfix / dovecot / saslauthd / ldapdiag
    operation: Operation
    server: str
    duration: float  # seconds
    result_code: int | None = None  # the LDAP result code; None when no LDAP answer came
    result: str = ""  # the result name, or the problem for a failure without an LDAP answer
    base: str | None = None
    scope: str | None = None
    filter: str | None = None  # exactly the text sent (None for the empty filter's absent element)
    attributes: tuple[str, ...] = ()
    entry_dns: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    bind_dn: str | None = None
    detail: str = ""  # e.g. "TLSv1.3", "size limit 1"

    def as_dict(self) -> dict[str, object]:
        """JSON form (empty fields left out)."""
        data: dict[str, object] = {
            "component": self.component,
            "operation": self.operation,
            "server": self.server,
            "duration_ms": round(self.duration * 1000, 1),
            "result_code": self.result_code,
            "result": self.result,
        }
        optional = {
            "base": self.base,
            "scope": self.scope,
            "filter": self.filter,
            "attributes": list(self.attributes) if self.attributes else None,
            "entry_dns": list(self.entry_dns) if self.operation == "search" else None,
            "references": list(self.references) if self.references else None,
            "bind_dn": self.bind_dn,
            "detail": self.detail or None,
        }
        data.update({key: value for key, value in optional.items() if value is not None})
        return data

    def line(self) -> str:
        """One line for `--explain`."""
        parts = [f"{self.component}", self.operation, self.server]
        if self.operation == "search":
            parts.append(f"base={self.base!r} scope={self.scope} filter={self.filter!r}")
            parts.append(f"attrs={','.join(self.attributes) or '*'}")
        if self.bind_dn is not None:
            parts.append(f"dn={self.bind_dn!r}")
        parts.append(f"-> {self.result or self.result_code}")
        if self.operation == "search":
            parts.append(f"({len(self.entry_dns)} entries)")
        parts.append(f"{self.duration * 1000:.0f} ms")
        return " ".join(parts)


@dataclass
class Trace:
    """The events of one ldapdiag run, in the order they happened."""

    events: list[TraceEvent] = field(default_factory=list)
    faults: FaultLog = field(default_factory=FaultLog)  # what the directory could not answer

    def add(self, event: TraceEvent) -> TraceEvent:
        self.events.append(event)
        return event

    def for_component(self, component: str) -> list[TraceEvent]:
        return [event for event in self.events if event.component == component]

    def as_dicts(self) -> list[dict[str, object]]:
        return [event.as_dict() for event in self.events]
