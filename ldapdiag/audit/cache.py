"""Bounded memory for a run over a whole directory: an LRU map and a trace that forgets searches.

An audit sends a few searches per address; postfix and dovecot cache nothing across lookups (DMS
sets no `cache` in its tables), so remembering an answer within the run changes no prediction,
only the time: the directory is read once per distinct query (as long as it stays in the LRU).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from ldapdiag.directory import filters as f
from ldapdiag.directory.directory import Directory, SearchOutcome, WireSearch
from ldapdiag.directory.policy import ConnectionPolicy
from ldapdiag.directory.trace import Trace, TraceEvent
from ldapdiag.postfix.maps import DirectoryPool

K = TypeVar("K")
V = TypeVar("V")
SEARCH_CACHE_SIZE = 4096
KEEP_EVENTS = 200  # search events kept in the trace (the latest ones)


class Lru(Generic[K, V]):
    """A mapping that keeps the `size` most recently used items."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        """Whether `key` is kept (not counted as a use)."""
        return key in self._items


@dataclass
class AuditTrace(Trace):
    """A trace that counts searches but keeps only the latest KEEP_EVENTS of them.

    Connection events (connect, StartTLS, bind) are all kept: the engines read them to tell where
    a connection failed. Faults are kept too (trace.faults): they make the run incomplete.
    """

    searches: int = 0
    _kept: int = field(default=0, repr=False)

    def add(self, event: TraceEvent) -> TraceEvent:
        if event.operation == "search" or event.operation.startswith("search"):
            self.searches += 1
            self._kept += 1
            if self._kept > 2 * KEEP_EVENTS:
                self.events[:] = [e for e in self.events if not e.operation.startswith("search")]
                self._kept = 0
        self.events.append(event)
        return event


class CachingDirectory(Directory):
    """A Directory answering a repeated search (same base, scope, filter, attributes, limits)
    from an LRU instead of the wire. close() is a no-op while `shared`; shutdown() closes."""

    def __init__(
        self,
        policy: ConnectionPolicy,
        trace: Trace,
        ca_files: tuple[Path, ...] = (),
        ca_dirs: tuple[Path, ...] = (),
        max_wait: float | None = None,
        cache: Lru[tuple[object, ...], tuple[SearchOutcome, WireSearch | None]] | None = None,
        shared: bool = False,
    ) -> None:
        super().__init__(policy, trace, ca_files, ca_dirs, max_wait=max_wait)
        self.cache = cache if cache is not None else Lru(SEARCH_CACHE_SIZE)
        self.shared = shared

    def search(
        self,
        base: str,
        scope: str | int,
        filter_: str | bytes | f.Filter,
        attributes: Sequence[str] = (),
        *,
        size_limit: int | None = None,
        time_limit: int | None = None,
        deref: int | None = None,
    ) -> SearchOutcome:
        """Directory.search(), a repeated query answered from the run's cache."""
        if not isinstance(filter_, str):
            return super().search(
                base, scope, filter_, attributes, size_limit=size_limit, time_limit=time_limit, deref=deref
            )
        key = (self.policy.connection_key(), base, scope, filter_, tuple(attributes), size_limit, deref)
        cached = self.cache.get(key)
        if cached is not None:
            self.last_search = cached[1]
            return cached[0]
        outcome = super().search(
            base, scope, filter_, attributes, size_limit=size_limit, time_limit=time_limit, deref=deref
        )
        if outcome.result_code in (0, 32):  # found or not: a stable answer (errors are asked again)
            self.cache.put(key, (outcome, self.last_search))
        return outcome

    def close(self) -> None:
        if not self.shared:
            super().close()

    def shutdown(self) -> None:
        """Unbind for real."""
        super().close()


class AuditPool(DirectoryPool):
    """DirectoryPool whose Directories cache repeated searches (one LRU for the run)."""

    def __init__(
        self,
        trace: Trace,
        ca_files: tuple[Path, ...],
        ca_dirs: tuple[Path, ...],
        local_fqdn: str | None,
        cache: Lru[tuple[object, ...], tuple[SearchOutcome, WireSearch | None]],
    ) -> None:
        super().__init__(trace, ca_files, ca_dirs, local_fqdn=local_fqdn)
        self.cache = cache

    def directory(self, policy: ConnectionPolicy) -> Directory:
        key = policy.connection_key()
        if key not in self._directories:
            self._directories[key] = CachingDirectory(
                policy, self.trace, self.ca_files, self.ca_dirs, cache=self.cache
            )
        return self._directories[key]
