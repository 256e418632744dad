"""What the emulation did for one address, in order: resolver classes, table lookups, restrictions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ldapdiag.postfix.tables import QueryStep

if TYPE_CHECKING:
    from ldapdiag.postfix.address import KeyAnswer


@dataclass(unsafe_hash=True, slots=True)  # never changed once made; not frozen: see postfix/tables.py
class Step:
    """One thing postfix does for an address: a restriction, a table lookup, an LDAP search, a note."""

    phase: str  # "rcpt", "mail", "cleanup", "delivery", "auth"
    action: str  # "restriction", "lookup", "search", "values", "resolve", "expand", "note", "log", ...
    detail: str
    table: str | None = None
    key: str | None = None
    base: str | None = None
    filter: str | None = None
    values: tuple[str, ...] = field(default=())
    result: str | None = None
    # for --explain only (not in the JSON steps): the table's own record of a search, the main.cf
    # parameter the lookup was made for, and what else an engine keeps (dovecot's LMTP userdb lookup)
    query: QueryStep | None = field(default=None, compare=False, repr=False)
    parameter: str | None = field(default=None, compare=False, repr=False)
    source: object = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, object]:
        """JSON form: fields that are set."""
        data: dict[str, object] = {"phase": self.phase, "action": self.action, "detail": self.detail}
        optional = {
            "table": self.table,
            "key": self.key,
            "base": self.base,
            "filter": self.filter,
            "values": list(self.values) if self.values else None,
            "result": self.result,
        }
        data.update({k: v for k, v in optional.items() if v is not None})
        return data


def from_query_steps(
    phase: str, key: str, steps: Iterable[QueryStep], parameter: str | None = None
) -> list[Step]:
    """The table's own steps (LDAP searches, values taken, warnings) for the key asked."""
    out = []
    for step in steps:
        values = step.values
        out.append(
            Step(
                phase,
                step.action,
                step.detail,
                table=step.table,
                key=key,
                base=step.base,
                filter=step.filter,
                values=tuple(values),
                query=step,
                parameter=parameter,
            )
        )
    return out


def lookup_steps(phase: str, parameter: str, trail: Iterable[KeyAnswer]) -> list[Step]:
    """One step per key maps_find() was asked (answer, table), then that table's own steps."""
    out: list[Step] = []
    for item in trail:
        answer = item.answer
        if answer.error is not None:
            outcome = f"lookup error ({answer.error})"
        elif answer.value is not None:
            outcome = repr(answer.value)
        else:
            outcome = "not found"
        cached = " (asked before)" if item.cached else ""
        out.append(
            Step(
                phase,
                "lookup",
                f"{parameter}: key {item.key!r} -> {outcome}{cached}",
                table=answer.table,
                key=item.key,
                values=(answer.value,) if answer.value is not None else (),
                result="error"
                if answer.error is not None
                else "found"
                if answer.value is not None
                else "not found",
                parameter=parameter,
            )
        )
        if not item.cached:
            out += from_query_steps(phase, item.key, answer.steps, parameter)
    return out
