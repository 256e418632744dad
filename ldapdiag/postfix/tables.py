"""Postfix lookup tables as the emulation sees them: one `lookup(key)` with postfix's three outcomes.

Mirrors postfix's dictionary interface (util/dict.h): a lookup returns a value, "not found", or an
error (`dict->error`, which callers such as smtpd and cleanup turn into a temporary failure).
A table list (a main.cf parameter such as `virtual_alias_maps`) is searched in order and the first
table that answers wins (global/maps.c `maps_find`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ldapdiag.directory.directory import WireSearch


# QueryStep and LookupResult, like the other results made by the hundred thousand (postfix's Step,
# KeyAnswer, MatchOutcome; Entry; dovecot's FieldValue and Expansion), are never changed once made
# (dataclasses.replace() makes new ones) but are not frozen=True: a frozen dataclass's __init__
# sets each field through object.__setattr__ (QueryStep: 1.95 us against 0.6 us; Step's inits
# alone were 10% of an audit's CPU). unsafe_hash keeps the hash frozen=True gave them.


@dataclass(unsafe_hash=True, slots=True)
class QueryStep:
    """One thing a table did for a lookup: an LDAP search, a suppressed query, a skipped value."""

    table: str  # e.g. "ldap:/etc/postfix/ldap-users.cf"
    action: str  # "search", "skip", "suppressed", "error", ...
    detail: str  # human text: the filter sent, why a value was skipped...
    base: str | None = None
    scope: str | None = None
    filter: str | None = None  # exactly as sent, after escaping
    attributes: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()  # entries found, in server order
    values: tuple[str, ...] = ()  # values taken from them
    wire: WireSearch | None = field(default=None, compare=False, repr=False)  # a search as sent


@dataclass(unsafe_hash=True, slots=True)
class LookupResult:
    """The answer of one table (or table list) to one key."""

    key: str
    table: str
    value: str | None  # None: not found (or error)
    error: str | None = None  # postfix's warning text when the lookup failed: a temporary failure
    steps: tuple[QueryStep, ...] = field(default=())

    @property
    def found(self) -> bool:
        return self.value is not None and self.error is None


class Table(Protocol):
    """A postfix lookup table: `ldap:/etc/postfix/ldap-users.cf`, or another type."""

    name: str

    def lookup(self, key: str) -> LookupResult:
        """The value postfix's dict_get() returns for `key` (already in the case postfix passes)."""
        ...


@dataclass(frozen=True)
class TableList:
    """A main.cf table list: tables searched in order, the first that answers wins (maps_find())."""

    parameter: str
    tables: Sequence[Table]

    def lookup(self, key: str) -> LookupResult:
        """maps_find(): the first table with a value or an error decides; else not found."""
        steps: list[QueryStep] = []
        for table in self.tables:
            result = table.lookup(key)
            steps += result.steps
            if result.value is not None or result.error is not None:
                return LookupResult(key, table.name, result.value, result.error, tuple(steps))
        return LookupResult(key, self.parameter, None, None, tuple(steps))
