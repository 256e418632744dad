"""The one Directory interface the engines use: read-only searches over a component's connection.

A Directory belongs to one ConnectionPolicy (one postfix table, dovecot or saslauthd). It
connects on first use exactly as that component would (connection.py), sends every filter the
way libldap encodes it (ldap3_filter.py), returns entries in server order with raw and decoded
values, leaves ldap3's auto_range and referral chasing off, and records each operation in the
trace. Nothing but bind, search, StartTLS, WhoAmI and unbind can be sent (readonly.py).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType

from ldap3.core.exceptions import LDAPException

from ldapdiag.directory import filters as f
from ldapdiag.directory.connection import Patience, Session, open_session
from ldapdiag.directory.faults import capped, is_fault
from ldapdiag.directory.ldap3_filter import SearchResult, SearchSpec, search_pages
from ldapdiag.directory.ldap3_filter import search as send_search
from ldapdiag.directory.ldap3_filter import search_many as send_many
from ldapdiag.directory.policy import ConnectionPolicy
from ldapdiag.directory.problems import (
    DirectoryProblem,
    Problem,
    ProblemKind,
    closed_without_filter,
    from_exception,
    from_result,
)
from ldapdiag.directory.readonly import WHOAMI_OID
from ldapdiag.directory.trace import SCOPE_NAMES, Trace, TraceEvent

SCOPES: Mapping[str | int, int] = {
    "base": 0,
    "one": 1,
    "onelevel": 1,
    "level": 1,
    "sub": 2,
    "subtree": 2,
    "BASE": 0,
    "LEVEL": 1,
    "SUBTREE": 2,
    0: 0,
    1: 1,
    2: 2,
}
ROOT_DSE_ATTRIBUTES = (
    "namingContexts",
    "defaultNamingContext",
    "supportedControl",
    "supportedExtension",
    "supportedFeatures",
    "supportedLDAPVersion",
    "supportedSASLMechanisms",
    "supportedCapabilities",
    "vendorName",
    "vendorVersion",
    "dnsHostName",
    "subschemaSubentry",
)
ABSOLUTE_FILTERS_FEATURE = "1.3.6.1.4.1.4203.1.5.3"  # RFC 4526 (&) and (|)
PAGED_RESULTS_CONTROL = "1.2.840.113556.1.4.319"  # RFC 2696
AD_CAPABILITY = "1.2.840.113556.1.4.800"  # LDAP_CAP_ACTIVE_DIRECTORY_OID
OPENLDAP_OID_PREFIX = "1.3.6.1.4.1.4203."


@dataclass(unsafe_hash=True, slots=True)  # never changed once made; not frozen: see postfix/tables.py
class Entry:
    """One search result entry: its DN and attributes as the server sent them (raw bytes)."""

    dn: str
    raw: tuple[tuple[str, tuple[bytes, ...]], ...]  # (attribute as named by the server, values)

    def raw_values(self, attribute: str) -> tuple[bytes, ...]:
        """Raw values of `attribute` (case-insensitive name; no subtypes merged).

        ldap_get_values_len(): the values of the first attribute of that name in the entry.
        """
        wanted = attribute.lower()
        return next((values for name, values in self.raw if name.lower() == wanted), ())

    def values(self, attribute: str) -> tuple[str, ...]:
        """Values decoded as UTF-8 (undecodable bytes kept as surrogate escapes)."""
        return tuple(v.decode("utf-8", "surrogateescape") for v in self.raw_values(attribute))

    @property
    def attributes(self) -> dict[str, list[str]]:
        """Every attribute with decoded values, in server order."""
        return {name: [v.decode("utf-8", "surrogateescape") for v in values] for name, values in self.raw}


@dataclass(frozen=True)
class SearchOutcome:
    """What a search returned: entries and references in server order, and the final result."""

    entries: tuple[Entry, ...]
    references: tuple[str, ...]  # search result references (continuation URLs), not followed
    result_code: int
    result_name: str
    message: str
    referrals: tuple[str, ...] = ()  # the referral of a result with code 10
    problem: Problem | None = None  # what a non-success code means
    not_followed: bool = False  # the component would chase these referrals; ldapdiag does not

    @property
    def ok(self) -> bool:
        return self.result_code == 0

    @property
    def dns(self) -> list[str]:
        return [entry.dn for entry in self.entries]


@dataclass(frozen=True)
class RootDse:
    """The server's root DSE: who it is and what it supports."""

    attributes: Mapping[str, tuple[str, ...]]
    readable: bool = True

    def get(self, name: str) -> tuple[str, ...]:
        wanted = name.lower()
        return next((v for k, v in self.attributes.items() if k.lower() == wanted), ())

    @property
    def vendor(self) -> str:
        """vendorName/vendorVersion, else what the advertised OIDs tell."""
        name = " ".join(self.get("vendorName") + self.get("vendorVersion"))
        if name:
            return name
        if AD_CAPABILITY in self.get("supportedCapabilities"):
            return "Active Directory (or Samba AD)"
        oids = self.get("supportedFeatures") + self.get("supportedExtension") + self.get("supportedControl")
        if any(oid.startswith(OPENLDAP_OID_PREFIX) for oid in oids):
            return "OpenLDAP"
        return "unknown"

    @property
    def absolute_filters(self) -> bool:
        """RFC 4526 absolute true/false filters (`(&)`, `(|)`) advertised."""
        return ABSOLUTE_FILTERS_FEATURE in self.get("supportedFeatures")

    @property
    def paged_results(self) -> bool:
        """RFC 2696 paged results control advertised."""
        return PAGED_RESULTS_CONTROL in self.get("supportedControl")

    def as_dict(self) -> dict[str, object]:
        return {
            "readable": self.readable,
            "vendor": self.vendor,
            "naming_contexts": list(self.get("namingContexts")),
            "supported_ldap_versions": list(self.get("supportedLDAPVersion")),
            "absolute_true_false_filters": self.absolute_filters,
            "paged_results": self.paged_results,
            "supported_controls": list(self.get("supportedControl")),
            "supported_extensions": list(self.get("supportedExtension")),
            "supported_features": list(self.get("supportedFeatures")),
            "sasl_mechanisms": list(self.get("supportedSASLMechanisms")),
        }


@dataclass(frozen=True)
class WireSearch:
    """One search as it went on the wire (its trace event) and the connection policy it went by.

    Engines keep it with their own record of the search, so `--explain` can tell the server,
    StartTLS and bind DN behind each query without sending it again.
    """

    event: TraceEvent
    policy: ConnectionPolicy
    extra_ca_files: tuple[Path, ...] = ()  # --ca-file / --ca-dir the certificate was judged with
    extra_ca_dirs: tuple[Path, ...] = ()


@dataclass
class Directory:
    """The LDAP directory as one component reaches it. Use as a context manager, or call close()."""

    policy: ConnectionPolicy
    trace: Trace = field(default_factory=Trace)
    ca_files: tuple[Path, ...] = ()
    ca_dirs: tuple[Path, ...] = ()
    max_wait: float | None = None
    _session: Session | None = field(default=None, init=False, repr=False)
    _failure: DirectoryProblem | None = field(default=None, init=False, repr=False)
    last_search: WireSearch | None = field(default=None, init=False, repr=False)  # for --explain

    def __post_init__(self) -> None:
        self.max_wait = capped(self.max_wait)  # the run's --timeout, when shorter

    def __enter__(self) -> Directory:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def component(self) -> str:
        return self.policy.component

    def connect(self) -> Session:
        """Connect, StartTLS and bind as the component does; DirectoryProblem when it cannot."""
        if self._session is not None and not self._session.closed:
            return self._session
        if self._failure is not None:
            self._fault(self._failure.problem)  # this lookup cannot be answered either
            raise self._failure
        try:
            self._session = open_session(
                self.policy,
                self.trace,
                ca_files=self.ca_files,
                ca_dirs=self.ca_dirs,
                patience=Patience(self.max_wait, self.trace.faults),
            )
        except DirectoryProblem as problem:
            self._failure = problem  # the component would fail the same way for every lookup
            self._fault(problem.problem)
            raise
        self.trace.faults.failover(self.component, self._session.skipped, self._session.url)
        return self._session

    def _fault(self, problem: Problem, *, static_base: bool = True) -> None:
        """Log `problem` on the run's FaultLog when it means the directory could not answer (faults.py)."""
        if is_fault(problem, login_bind=self.policy.bind.login, static_base=static_base):
            self.trace.faults.add(self.component, problem)

    def reopen(self) -> bool:
        """Drop a connection the server closed during a search, so that the next search connects
        again (dovecot's ldap_conn_reconnect()); False when there is no such connection."""
        failure = self._failure
        if failure is None or failure.problem.kind is not ProblemKind.SERVER_CLOSED:
            return False
        if failure.problem.phase != "search" or self._session is None:
            return False
        with contextlib.suppress(Exception):
            self._session.connection.strategy.close()
        self._session = None
        self._failure = None
        return True

    @property
    def session(self) -> Session | None:
        """The open session, if connect() succeeded."""
        return self._session

    def close(self) -> None:
        """Unbind and close."""
        if self._session is not None:
            self._session.close(self.trace)

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
        """ldap_search_ext() as the component sends it (its size/time limits and deref unless given).

        Raises DirectoryProblem when no LDAP answer comes (bad filter, timeout, connection lost);
        an LDAP error result is returned, with `problem` telling what it means.
        """
        self.last_search = None
        session = self.connect()
        scope_number = _scope(scope)
        sizes = self.policy.size_limit if size_limit is None else size_limit
        times = self.policy.time_limit if time_limit is None else time_limit
        text = _filter_text(filter_)
        event = TraceEvent(
            self.component,
            "search",
            session.url,
            0.0,
            base=base,
            scope=SCOPE_NAMES[scope_number],
            filter=text,
            attributes=tuple(attributes),
        )
        start = time.monotonic()
        try:
            result = send_search(
                session.connection,
                base,
                scope_number,
                filter_,
                list(attributes),
                size_limit=sizes,
                time_limit=times,
                deref=self.policy.deref if deref is None else deref,
            )
        except f.FilterSyntaxError as error:
            problem = from_exception(error, session.url, "search")
            self._record(finished_event(event, start, problem.kind.value, code=-7))
            raise DirectoryProblem(problem) from None
        except (LDAPException, OSError) as error:
            problem = from_exception(error, session.url, "search", session.operation_timeout)
            if problem.kind is ProblemKind.SERVER_CLOSED and _without_filter(filter_):
                problem = closed_without_filter(problem)
            self._record(finished_event(event, start, problem.kind.value))
            session.closed = True
            self._failure = DirectoryProblem(problem)
            self._fault(problem)
            raise self._failure from None
        outcome = self._answered(result, base, session)
        self._record(answered_event(event, start, outcome))
        return outcome

    def search_many(self, searches: Sequence[SearchSpec], window: int = 4) -> list[SearchOutcome]:
        """Several searches pipelined on this connection (ldap3_filter.search_many); not a component's way.

        Each is traced as a search; DirectoryProblem as search() raises it, the session then closed.
        """
        self.last_search = None
        if not searches:
            return []
        searches = [
            spec if isinstance(spec.scope, int) else replace(spec, scope=_scope(spec.scope))
            for spec in searches
        ]
        session = self.connect()
        start = time.monotonic()
        events = [
            TraceEvent(
                self.component,
                "search",
                session.url,
                0.0,
                base=spec.base,
                scope=SCOPE_NAMES[_scope(spec.scope)],
                filter=_filter_text(spec.node),
                attributes=tuple(spec.attributes),
            )
            for spec in searches
        ]
        try:
            texts = [event.filter or "" for event in events]
            results = send_many(session.connection, searches, window, texts)
        except (LDAPException, OSError) as error:
            problem = from_exception(error, session.url, "search", session.operation_timeout)
            for event in events:
                self.trace.add(finished_event(event, start, problem.kind.value))
            session.closed = True
            self._failure = DirectoryProblem(problem)
            self._fault(problem)
            raise self._failure from None
        outcomes = []
        for spec, event, result in zip(searches, events, results, strict=True):
            outcome = self._answered(result, spec.base, session)
            self.trace.add(answered_event(event, start, outcome))
            outcomes.append(outcome)
        return outcomes

    def _answered(self, result: SearchResult, base: str, session: Session) -> SearchOutcome:
        """The outcome of a search the server answered; a result that means a fault is logged."""
        outcome = search_outcome(
            result.result, result.entries, result.references, base, session.url, self.policy
        )
        if outcome.problem is not None:
            self._fault(outcome.problem, static_base=base == self.policy.search_base)
        return outcome

    def _record(self, event: TraceEvent) -> None:
        """Add a search event to the trace and keep it as `last_search`."""
        self.trace.add(event)
        self.last_search = WireSearch(event, self.policy, self.ca_files, self.ca_dirs)

    def root_dse(self) -> RootDse:
        """The root DSE (base "", scope base, (objectClass=*)), as this component's bind sees it."""
        outcome = self.search("", "base", "(objectClass=*)", ROOT_DSE_ATTRIBUTES, size_limit=0, time_limit=0)
        if not outcome.ok or not outcome.entries:
            return RootDse({}, readable=False)
        entry = outcome.entries[0]
        return RootDse({name: tuple(values) for name, values in entry.attributes.items()})

    def search_all(
        self, base: str, scope: str | int, filter_: str, attributes: Sequence[str], page_size: int = 500
    ) -> SearchOutcome:
        """Every entry, in RFC 2696 pages (an audit's search, not a component's: see search_pages)."""
        session = self.connect()
        scope_number = _scope(scope)
        event = TraceEvent(
            self.component,
            "search (paged)",
            session.url,
            0.0,
            base=base,
            scope=SCOPE_NAMES[scope_number],
            filter=filter_,
            attributes=tuple(attributes),
        )
        start = time.monotonic()
        try:
            result = search_pages(
                session.connection, base, scope_number, filter_, list(attributes), page_size
            )
        except (LDAPException, OSError, f.FilterSyntaxError) as error:
            problem = from_exception(error, session.url, "search", session.operation_timeout)
            self.trace.add(finished_event(event, start, problem.kind.value))
            self._fault(problem)
            raise DirectoryProblem(problem) from None
        outcome = search_outcome(
            result.result, result.entries, result.references, base, session.url, self.policy
        )
        self.trace.add(finished_event(event, start, outcome.result_name, code=outcome.result_code))
        return outcome

    def base_exists(self, base: str) -> SearchOutcome:
        """A base-scope search for `base` with no attributes: code 0 when it exists and is visible."""
        return self.search(base, "base", "(objectClass=*)", ["1.1"], size_limit=0, time_limit=0)

    def who_am_i(self) -> str | None:
        """RFC 4532 WhoAmI: the authorization identity of this connection (None when refused)."""
        session = self.connect()
        start = time.monotonic()
        connection = session.connection
        try:
            connection.extended(WHOAMI_OID)
        except (LDAPException, OSError) as error:
            problem = from_exception(error, session.url, "WhoAmI", session.operation_timeout)
            self.trace.add(
                TraceEvent(
                    self.component, "whoami", session.url, time.monotonic() - start, result=problem.kind.value
                )
            )
            return None
        result = connection.result or {}
        code = result.get("result")
        value = result.get("responseValue")
        identity = value.decode("utf-8", "replace") if isinstance(value, bytes) else (value or "")
        self.trace.add(
            TraceEvent(
                self.component,
                "whoami",
                session.url,
                time.monotonic() - start,
                result_code=code if isinstance(code, int) else None,
                result=str(result.get("description", "")),
                detail=identity,
            )
        )
        return identity if code == 0 else None


def _scope(scope: str | int) -> int:
    try:
        return SCOPES[scope]
    except KeyError:
        raise ValueError(f"unknown scope {scope!r}") from None


def _without_filter(filter_: str | bytes | f.Filter) -> bool:
    """Whether libldap sends this search without a filter (an empty or blank one)."""
    if isinstance(filter_, f.Filter):
        return isinstance(filter_, f.EmptyFilter)
    try:
        return isinstance(f.parse(_filter_text(filter_)), f.EmptyFilter)
    except f.FilterSyntaxError:
        return False


def _filter_text(filter_: str | bytes | f.Filter) -> str:
    """The filter as sent: the caller's text, or the encoding of a parsed tree."""
    if isinstance(filter_, f.Filter):
        return "" if isinstance(filter_, f.EmptyFilter) else f.encode(filter_)
    if isinstance(filter_, bytes):
        return filter_.decode("utf-8", "surrogateescape")
    return filter_


def search_outcome(
    result: Mapping[str, object],
    entries: Sequence[Mapping[str, object]],
    references: Sequence[Mapping[str, object]],
    base: str,
    server: str,
    policy: ConnectionPolicy,
) -> SearchOutcome:
    """The SearchOutcome of a finished search (result, entries, references as ldap3 hands them)."""
    code = int(result.get("result", 80))  # type: ignore[call-overload]
    message = str(result.get("message") or "")
    refs = tuple(url for response in references for url in _uris(response))
    referrals = tuple(str(url) for url in (result.get("referrals") or ()))  # type: ignore[attr-defined]
    problem = from_result(code, message, server, "search", base)
    return SearchOutcome(
        entries=tuple(_entry(response) for response in entries),
        references=refs,
        result_code=code,
        result_name=str(result.get("description") or code),
        message=message,
        referrals=referrals,
        problem=problem,
        not_followed=policy.chase_referrals and bool(refs or referrals),
    )


def libldap_view(
    listed: Sequence[tuple[str, Sequence[bytes]]],
) -> tuple[tuple[str, tuple[bytes, ...]], ...]:
    """An entry's attributes as libldap's callers see them: every attribute in server order
    (ldap_first_attribute()/ldap_next_attribute()), each with ldap_get_values_len()'s values,
    those of the first attribute of the same name (libldap getvalues.c compares names with
    strcasecmp). An attribute the server repeats (slapd does, for an entry slapadd loaded from
    an LDIF naming it on non-adjacent lines) is seen twice with the first copy's values:
    postmap prints `a,a` for an entry sent as `mail: a`, `mail: b` (checked with postmap 3.7).
    """
    first: dict[str, tuple[bytes, ...]] = {}
    view = []
    for name, values in listed:
        view.append((name, first.setdefault(name.lower(), tuple(values))))
    return tuple(view)


def _uris(response: Mapping[str, object]) -> Iterator[str]:
    for uri in response.get("uri") or ():  # type: ignore[attr-defined]
        yield str(uri)


def _entry(response: Mapping[str, object]) -> Entry:
    listed = response.get("raw_attribute_list")  # every attribute as sent, repeats too (ber_entry.py)
    if listed is not None:
        return Entry(str(response["dn"]), libldap_view(listed))  # type: ignore[arg-type]
    raw = response.get("raw_attributes") or {}
    pairs = tuple((str(name), tuple(bytes(v) for v in values)) for name, values in raw.items())  # type: ignore[attr-defined]
    return Entry(str(response.get("dn", "")), pairs)


def answered_event(event: TraceEvent, start: float, outcome: SearchOutcome) -> TraceEvent:
    """The trace event of a search the server answered: its result, DNs and references."""
    return finished_event(
        event,
        start,
        outcome.result_name,
        code=outcome.result_code,
        dns=tuple(outcome.dns),
        references=outcome.references + outcome.referrals,
    )


def finished_event(
    event: TraceEvent,
    start: float,
    result: str,
    *,
    code: int | None = None,
    dns: tuple[str, ...] = (),
    references: tuple[str, ...] = (),
) -> TraceEvent:
    """The trace event of a search, completed with its result and duration."""
    return replace(
        event,
        duration=time.monotonic() - start,
        result=result,
        result_code=code,
        entry_dns=dns,
        references=references,
    )
