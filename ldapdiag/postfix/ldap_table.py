"""One postfix `ldap:` table: what dict_ldap_lookup() answers for a key, over the Directory layer.

Mirrors global/dict_ldap.c of postfix 3.7.11 (Debian 12): the key checks and folding, the
`domain` list, connecting and binding before the query is expanded, the expansion with
postfix's quoting, the search, and dict_ldap_get_values(): values of every entry in server
order, comma-joined, with terminal/leaf/special recursion, its limits, and the 3.7 quirk that
the terminal and leaf state of one entry carries over to the later entries of the same result.
Every failure that postfix turns into a temporary failure is an error with postfix's text.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ldapdiag.directory import filters as f
from ldapdiag.directory.directory import Directory, Entry, SearchOutcome, WireSearch
from ldapdiag.directory.problems import DirectoryProblem, ProblemKind
from ldapdiag.directory.servers import is_ldap_url
from ldapdiag.directory.trace import SCOPE_NAMES
from ldapdiag.postfix import ldap_messages as msg
from ldapdiag.postfix.expand import quote_dn_value, quote_filter_value
from ldapdiag.postfix.keys import KeyPolicy, casefold, is_valid_utf8
from ldapdiag.postfix.ldap_config import LdapTableConfig
from ldapdiag.postfix.ldap_url import LdapUrlError, parse_ldap_url
from ldapdiag.postfix.tables import LookupResult, QueryStep


class DomainMatch(Protocol):
    """What a string list answers (match_list.MatchOutcome)."""

    matched: bool
    error: str | None
    steps: list[QueryStep]


class DomainList(Protocol):
    """The `domain` parameter: a postfix string list (match_list.StringList)."""

    def match(self, string: str) -> DomainMatch:
        """match_list_match()."""
        ...


def c_string(value: bytes) -> str:
    """An LDAP value as postfix's C code sees it: cut at the first NUL byte."""
    return value.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


class Connection(Protocol):
    """The table's share of a connection (dict_ldap_conn_find()): the Directory, torn down on errors."""

    def get(self) -> Directory:
        """The Directory to use now (a new one after reset())."""
        ...

    def reset(self) -> None:
        """dict_ldap_unbind() + conn_ld = 0: the next lookup connects again."""
        ...


class KnownResults(Protocol):
    """Where a table keeps the lookups it made (an LRU in the audit)."""

    def get(self, key: str) -> LookupResult | None: ...

    def put(self, key: str, value: LookupResult) -> None: ...


class _SearchFailed(Exception):
    """search_st() returned a libldap/LDAP code other than success."""

    def __init__(self, code: int) -> None:
        super().__init__(str(code))
        self.code = code


class _Failed(Exception):
    """The lookup ends with dict->error set: a temporary failure with postfix's log line."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line  # "warning: ..." or "error: ..."


@dataclass
class _State:
    """One dict_ldap_lookup() call: the result buffer, counters, what happened."""

    key: str
    result: str | None = None  # None: empty VSTRING
    expansions: int = 0
    error: str | None = None  # the log line that set dict->error
    errno: int = 0  # libldap's ld_errno: what the last operation on the handle left
    steps: list[QueryStep] = field(default_factory=list)

    def append(self, text: str) -> None:
        """db_common_expand() appends after a comma when the buffer is not empty."""
        self.result = text if not self.result else f"{self.result},{text}"

    def fail(self, line: str, log: QueryStep) -> None:
        """dict->error = DICT_ERR_RETRY, after logging `line` (the first failure decides)."""
        self.steps.append(log)
        if self.error is None:
            self.error = line


class LdapTable:
    """`ldap:/path.cf` as dict_ldap_open()/dict_ldap_lookup() behave (Table protocol)."""

    def __init__(
        self,
        config: LdapTableConfig,
        connection: Connection,
        *,
        keys: KeyPolicy | None = None,
        domains: DomainList | None = None,
    ) -> None:
        self.config = config
        self.name = f"ldap:{config.path}"
        self.connection = connection
        self.keys = keys or KeyPolicy()
        self.domains = domains
        self._opened = False
        self._phases: dict[int, tuple[DirectoryProblem, str]] = {}
        self._indexes: dict[str, int] = {}  # returned attribute name -> its place in cfg.attributes
        self._attributes = tuple(config.attributes)  # the config is frozen: its argv, made once
        self._num_attributes = config.num_attributes
        self._recursion = min(8 * config.recursion_limit + 2000, 100_000)
        # Answers known before asking (ldap_prefetch.py): (base, scope, filter, attributes) -> the
        # outcome the server gave; None (the default) sends every search, as dict_ldap does.
        self.answers: dict[tuple[str, int, str, tuple[str, ...]], SearchOutcome] | None = None
        # The same fast path's expansions (ldap_prefetch._Planner.queries): folded key -> (search
        # base, filter), each what expand() gives for that key without logging a warning.
        self.queries: dict[str, tuple[str, str]] | None = None
        # False: the searches and the values taken are not recorded as steps (postmap's text
        # output shows neither; postfix's log lines and the answer are the same either way)
        self.record_searches = True
        # Lookups already made, by key (the audit, whose searches are answered from its caches
        # anyway): a repeated key gets the same LookupResult without it being built again. Only
        # lookups without an error or a fault are kept. None: every lookup is made.
        self.results: KnownResults | None = None

    # ------------------------------------------------------------------------------------------
    # dict_ldap_lookup()

    def lookup(self, key: str) -> LookupResult:
        """dict_ldap_lookup() (with dict_utf8_lookup() in front when smtputf8 is on)."""
        results = self.results
        if results is not None:
            known = results.get(key)
            if known is not None:
                return known
            faults = self.connection.get().trace.faults
            mark = faults.mark()
        state = _State(key)
        if not self._opened:
            self._opened = True
            state.steps += [self._log(line) for line in self.config.warnings]
            results = None  # the first lookup also logs the table's warnings
        previous = sys.getrecursionlimit()  # room for dict_ldap_get_values() recursing deep
        needed = self._recursion
        if needed > previous:
            sys.setrecursionlimit(needed)
        try:
            self._lookup(state)
        except _Failed as failed:
            self._fail(state, failed.line)
        finally:
            if needed > previous:
                sys.setrecursionlimit(previous)
        if state.error is None and state.result and self.keys.utf8 and not is_valid_utf8(state.result):
            self._fail(
                state,
                f'warning: {self.name}: key "{key}": non-UTF-8 value "{state.result}": '
                "malformed UTF-8 or invalid codepoint",
            )
        if state.error is not None:
            text = state.error.split(": ", 1)[1]
            return LookupResult(key, self.name, None, text, tuple(state.steps))
        result = LookupResult(key, self.name, state.result or None, None, tuple(state.steps))
        if results is not None and faults.mark() == mark:
            results.put(key, result)
        return result

    def _fail(self, state: _State, line: str) -> None:
        state.fail(line, self._log(line))

    def _lookup(self, state: _State) -> None:
        key = state.key
        if not is_valid_utf8(key):
            if self.keys.utf8:
                state.steps.append(
                    self._log(
                        f'warning: {self.name}: non-UTF-8 key "{key}": malformed UTF-8 or invalid codepoint'
                    )
                )
            state.steps.append(self._step("skip", "the key is not UTF-8: postfix skips it (not found)"))
            return
        if self.keys.fold:
            key = casefold(key, self.keys.utf8)
            state.key = key
        if not self._domain_ok(state, key):
            return
        directory = self.connection.get()
        if self.config.bind != "none" or self.config.start_tls:
            self._connect(directory)
        known = self.queries.get(key) if self.queries is not None else None
        if known is not None:
            base, query = known  # what the two expansions below give (ldap_prefetch.py)
        else:
            base = self.config.context.expand(self.config.search_base, key, quote=quote_dn_value)
            query = (
                None
                if base is None
                else self.config.context.expand(self.config.query_filter, key, quote=quote_filter_value)
            )
        if self.config.context.warnings:
            self._flush_template_warnings(state)
        if base is None or query is None:
            state.steps.append(
                self._step(
                    "suppressed", "the key cannot fill every % expansion of this table: no query (not found)"
                )
            )
            return
        try:
            outcome = self._top_search(directory, state, base, query)
        except _SearchFailed as failed:
            self.connection.reset()
            raise _Failed("warning: " + msg.search_failed(failed.code)) from None
        if outcome.result_code == 0:
            state.errno = 0
            self._get_values(directory, state, outcome, depth=1)
            if state.errno not in (0, msg.LDAP_DECODING_ERROR):
                state.steps.append(
                    self._log(
                        "warning: dict_ldap_lookup: Had some trouble with entries returned by search: "
                        + msg.err2string(state.errno)
                    )
                )
        elif outcome.result_code == msg.LDAP_NO_SUCH_OBJECT and self.config.dynamic_base:
            state.steps.append(
                self._step(
                    "not-found",
                    f"search base {base!r} does not exist: the base depends "
                    "on the key, so postfix takes this as not found",
                )
            )
        elif outcome.result_code == msg.LDAP_NO_SUCH_OBJECT:
            raise _Failed("warning: " + msg.base_not_found(self.config.path, base))
        else:
            self.connection.reset()
            raise _Failed("warning: " + msg.search_failed(outcome.result_code))

    def _top_search(self, directory: Directory, state: _State, base: str, query: str) -> SearchOutcome:
        """The key's search; a lost connection is reopened and the search sent once more."""
        attributes = self._attributes
        faults = directory.trace.faults
        mark = faults.mark()
        try:
            return self._search(directory, state, base, self.config.scope, query, attributes)
        except _SearchFailed as failed:
            if failed.code != msg.LDAP_SERVER_DOWN:
                raise
        self.connection.reset()
        directory = self.connection.get()
        if self.config.bind != "none" or self.config.start_tls:
            self._connect(directory)
        answered = faults.mark()
        outcome = self._search(directory, state, base, self.config.scope, query, attributes)
        faults.recovered(mark, answered)  # the reopened connection answered: as for postfix, no failure
        return outcome

    def _domain_ok(self, state: _State, key: str) -> bool:
        """db_common_check_domain(): only keys in a listed domain are searched."""
        if self.domains is None:
            return True
        at = key.rfind("@")
        if at <= 0:
            state.steps.append(
                self._step(
                    "skip", "domain list: the key has no domain (or no local part): no query (not found)"
                )
            )
            return False
        outcome = self.domains.match(key[at + 1 :])
        state.steps += outcome.steps
        if outcome.error is not None:  # match_error() has logged it
            state.error = "warning: " + outcome.error
            return False
        if not outcome.matched:
            state.steps.append(
                self._step(
                    "skip",
                    f"domain {key[at + 1 :]!r} is not in the table's domain list: no query (not found)",
                )
            )
        return outcome.matched

    # ------------------------------------------------------------------------------------------
    # connecting and searching

    def _connect(self, directory: Directory) -> None:
        """dict_ldap_connect(): StartTLS and bind failures with postfix's words."""
        if self.config.timeout == 0 and self.config.bind != "none":
            raise _Failed(
                "warning: " + msg.bind_failed(self.config.server_host, self.config.bind_dn, msg.LDAP_TIMEOUT)
            )
        before = len(directory.trace.events)
        try:
            directory.connect()
        except DirectoryProblem as problem:
            raise _Failed(self._connect_failure(problem, self._phase(problem, directory, before))) from None

    def _phase(self, problem: DirectoryProblem, directory: Directory, before: int) -> str:
        """Where the connection failed: connect, starttls or bind (a repeated failure keeps its phase)."""
        if id(problem) in self._phases:
            return self._phases[id(problem)][1]
        phase = (problem.problem.phase or "").lower()
        if phase not in ("connect", "starttls", "bind"):
            operations = [
                event.operation
                for event in directory.trace.events[before:]
                if event.operation in ("connect", "starttls", "bind")
            ]
            phase = operations[-1] if operations else "connect"
        self._phases[id(problem)] = (problem, phase)
        return phase

    def _connect_failure(self, problem: DirectoryProblem, phase: str) -> str:
        kind = problem.problem.kind
        if kind is ProblemKind.NOT_SUPPORTED:
            raise problem
        code = problem.problem.code
        if phase == "starttls" or (phase == "connect" and self.config.start_tls):
            if phase == "connect":
                code = msg.LDAP_SERVER_DOWN
            elif code is None or code <= 0:
                code = msg.LDAP_CONNECT_ERROR
            return "error: " + msg.starttls_failed(code)
        if phase == "bind" and kind is ProblemKind.TIMEOUT:
            code = msg.LDAP_TIMEOUT
        elif phase != "bind" or code is None:
            code = msg.LDAP_SERVER_DOWN
        if self.config.bind == "none":
            return "warning: " + msg.search_failed(code)
        return "warning: " + msg.bind_failed(self.config.server_host, self.config.bind_dn, code)

    def _search(
        self,
        directory: Directory,
        state: _State,
        base: str,
        scope: int,
        query: str,
        attributes: Sequence[str],
    ) -> SearchOutcome:
        """search_st(): one search with the table's limits; no answer at all is an error."""
        attributes = tuple(attributes)

        def step(
            detail: str = f"filter {query!r}", dns: tuple[str, ...] = (), wire: WireSearch | None = None
        ) -> QueryStep:  # this search, as the steps show it
            return QueryStep(
                self.name,
                "search",
                detail,
                base=base,
                scope=SCOPE_NAMES[scope],
                filter=query,
                attributes=attributes,
                dns=dns,
                wire=wire,
            )

        if self.config.timeout == 0:
            state.steps.append(step())
            raise _SearchFailed(msg.LDAP_PARAM_ERROR)
        answer_key = (base, scope, query, attributes)
        known = self.answers.get(answer_key) if self.answers is not None else None
        if known is None and _bad_filter(query):
            state.steps.append(step())
            raise _SearchFailed(msg.LDAP_FILTER_ERROR)
        if known is not None:
            outcome = known
        else:
            try:
                outcome = directory.search(
                    base,
                    scope,
                    query,
                    attributes,
                    size_limit=self.config.size_limit,
                    time_limit=self.config.timeout,
                    deref=self.config.dereference,
                )
            except DirectoryProblem as problem:
                state.steps.append(step(wire=getattr(directory, "last_search", None)))
                if problem.problem.phase != "search":
                    raise _Failed(self._connect_failure(problem, "connect")) from None
                raise _SearchFailed(_search_code(problem)) from None
        entries = outcome.entries
        if self.record_searches:
            state.steps.append(
                step(
                    f"filter {query!r} -> {outcome.result_name} ({len(entries)} entries)",
                    dns=tuple([entry.dn for entry in entries]),
                    wire=None if known else getattr(directory, "last_search", None),
                )
            )
        if self.answers is not None and known is None and outcome.result_code == 0:
            self.answers[answer_key] = outcome  # the fast path's cache (ldap_prefetch.py)
        if outcome.references and not self.config.chase_referrals:
            shown = ", ".join(outcome.references[:2]) + (", ..." if len(outcome.references) > 2 else "")
            state.steps.append(
                self._step(
                    "note",
                    f"{len(outcome.references)} search reference(s) not followed "
                    f"(chase_referrals = no): {shown}",
                )
            )
        if outcome.not_followed:
            state.steps.append(
                self._step(
                    "note",
                    "the server sent referrals: postfix (chase_referrals = yes) "
                    "would follow them; ldapdiag does not",
                )
            )
        return outcome

    # ------------------------------------------------------------------------------------------
    # dict_ldap_get_values()

    def _get_values(self, directory: Directory, state: _State, outcome: SearchOutcome, depth: int) -> None:
        """dict_ldap_get_values(): every entry's values in server order; recursion via special values."""
        cfg = self.config
        is_leaf, is_terminal = True, False  # set once per call: the 3.7 carry-over quirk
        for count, entry in enumerate(outcome.entries, start=1):
            if state.error is None and cfg.size_limit and count > cfg.size_limit:
                self._fail(
                    state,
                    f"warning: dict_ldap_get_values[{depth}]: {cfg.path}: Query size limit "
                    f"({cfg.size_limit}) exceeded",
                )
            own_terminal = any(entry.raw_values(a) for a in cfg.terminal_attributes)
            for attribute in cfg.terminal_attributes:
                if not entry.raw_values(attribute):
                    state.errno = msg.LDAP_DECODING_ERROR  # ldap_get_values_len() of a missing attribute
                    continue
                is_terminal = True
                break
            own_leaf = not any(entry.raw_values(a) for a in cfg.special_attributes)
            if not is_terminal and cfg.leaf_attributes:
                for attribute in cfg.special_attributes:
                    if not entry.raw_values(attribute):
                        state.errno = msg.LDAP_DECODING_ERROR
                        continue
                    is_leaf = False
                    break
            self._note_quirk(state, entry, is_terminal, own_terminal, is_leaf, own_leaf)
            for name, values in entry.raw:
                if state.error is not None or not values:
                    continue
                self._attribute(directory, state, entry, name, values, depth, is_terminal, is_leaf)

    def _attribute(
        self,
        directory: Directory,
        state: _State,
        entry: Entry,
        name: str,
        values: tuple[bytes, ...],
        depth: int,
        is_terminal: bool,
        is_leaf: bool,
    ) -> None:
        cfg = self.config
        attributes = self._attributes
        index = self._indexes.get(name)
        if index is None:
            index = self._indexes[name] = next(
                (i for i, wanted in enumerate(attributes) if _subtype(wanted, name) > 0), len(attributes)
            )
        n_terminal, n_leaf = len(cfg.terminal_attributes), len(cfg.leaf_attributes)
        if index < self._num_attributes or is_terminal:
            if (is_terminal and index >= n_terminal) or (not is_leaf and index < n_terminal + n_leaf):
                why = "non-terminal" if is_terminal else "leaf-only"
                if index < len(attributes):
                    state.steps.append(
                        self._step(
                            "skip", f"{entry.dn}: {len(values)} value(s) of {why} attribute {name} skipped"
                        )
                    )
                return
            taken: list[str] = []
            for raw in values:
                value = c_string(raw)
                expanded = cfg.context.expand(cfg.result_format, value, key=state.key)
                self._flush_template_warnings(state)
                if expanded is None:
                    continue
                state.append(expanded)
                taken.append(expanded)
                if cfg.expansion_limit > 0:
                    state.expansions += 1
                    if state.expansions > cfg.expansion_limit:
                        self._fail(
                            state,
                            f"warning: dict_ldap_get_values[{depth}]: {cfg.path}: Expansion limit "
                            f"exceeded for key: '{state.key}'",
                        )
                        break
            if self.record_searches:
                state.steps.append(
                    QueryStep(
                        self.name, "values", f"{entry.dn}: {name}", dns=(entry.dn,), values=tuple(taken)
                    )
                )
        elif index < len(attributes) and depth < cfg.recursion_limit:
            for raw in values:
                self._special(directory, state, c_string(raw), depth)
                if state.error is not None:
                    break
        elif index < len(attributes):
            self._fail(
                state,
                f"warning: dict_ldap_get_values[{depth}]: {cfg.path}: Recursion limit exceeded for "
                f"special attribute {name}={c_string(values[0])}",
            )

    def _special(self, directory: Directory, state: _State, value: str, depth: int) -> None:
        """A special attribute value: a DN (base search) or an LDAP URL, then recursion."""
        if is_ldap_url(value):
            try:
                url = parse_ldap_url(value)
            except LdapUrlError as error:
                self._fail(
                    state,
                    f"warning: dict_ldap_get_values[{depth}]: malformed URL {value}: "
                    f"{msg.err2string(error.code)}({error.code})",
                )
                return
            attributes = _url_attributes(url.attributes, self.config.attributes)
            if attributes is None:
                state.steps.append(self._step("skip", f"URL {value}: no pertinent attributes"))
                return
            base, scope, query = url.dn, url.scope, url.filter
        else:
            base, scope, query, attributes = value, 0, "objectclass=*", self.config.attributes
        try:
            outcome = self._search(directory, state, base, scope, query, attributes)
        except _SearchFailed as failed:
            state.errno = failed.code
            self._fail(
                state,
                f"warning: dict_ldap_get_values[{depth}]: search error {failed.code}: "
                f"{msg.err2string(failed.code)} ",
            )
            return
        state.errno = outcome.result_code  # ldap_parse_result() leaves the result code
        if outcome.result_code == 0:
            self._get_values(directory, state, outcome, depth + 1)
        elif outcome.result_code == msg.LDAP_NO_SUCH_OBJECT:
            state.steps.append(
                self._log(f"warning: dict_ldap_get_values[{depth}]: DN {value} not found, skipping ")
            )
        else:
            self._fail(
                state,
                f"warning: dict_ldap_get_values[{depth}]: search error {outcome.result_code}: "
                f"{msg.err2string(outcome.result_code)} ",
            )

    def _note_quirk(
        self,
        state: _State,
        entry: Entry,
        is_terminal: bool,
        own_terminal: bool,
        is_leaf: bool,
        own_leaf: bool,
    ) -> None:
        """Say so when the carried-over terminal/leaf state treats this entry differently."""
        cfg = self.config
        if is_terminal and not own_terminal:
            skipped = [
                a
                for a in cfg.result_attributes + cfg.leaf_attributes + cfg.special_attributes
                if entry.raw_values(a)
            ]
            if skipped:
                state.steps.append(
                    self._step(
                        "quirk",
                        f"{entry.dn}: postfix 3.7 keeps the terminal state of an earlier entry of this "
                        f"result, so this entry's {', '.join(skipped)} values are skipped",
                    )
                )
        elif not is_terminal and not is_leaf and own_leaf and cfg.leaf_attributes:
            skipped = [a for a in cfg.leaf_attributes if entry.raw_values(a)]
            if skipped:
                state.steps.append(
                    self._step(
                        "quirk",
                        f"{entry.dn}: postfix 3.7 keeps the non-leaf state of an earlier entry of this "
                        f"result, so this entry's leaf-only {', '.join(skipped)} values are skipped",
                    )
                )

    # ------------------------------------------------------------------------------------------

    def _flush_template_warnings(self, state: _State) -> None:
        warnings = self.config.context.warnings
        if warnings:
            state.steps += [self._log(line) for line in warnings]
            warnings.clear()

    def _step(self, action: str, detail: str) -> QueryStep:
        return QueryStep(self.name, action, detail)

    def _log(self, line: str) -> QueryStep:
        """A line postfix logs (`warning: ...`), kept in the steps."""
        return QueryStep(self.name, "log", line)


def _subtype(wanted: str, returned: str) -> int:
    """attrdesc_subtype(): 1 when `returned` is `wanted` or a subtype (`wanted;option`), -1 the other way."""
    a, b = wanted.lower(), returned.lower()
    if a == b or b.startswith(a + ";"):
        return 1
    if a.startswith(b + ";"):
        return -1
    return 0


def _url_attributes(url_attrs: tuple[str, ...], ours: tuple[str, ...]) -> tuple[str, ...] | None:
    """url_attrs(): the URL's attributes intersected with the table's (the more specific name wins)."""
    if not url_attrs:
        return ours
    chosen: list[str] = []
    for theirs in url_attrs:
        for mine in ours:
            relation = _subtype(theirs, mine)
            if relation > 0:
                chosen.append(mine)
            elif relation < 0:
                chosen.append(theirs)
    return tuple(chosen) or None


def _bad_filter(text: str) -> bool:
    """Whether libldap refuses to encode the filter (LDAP_FILTER_ERROR, before any connection)."""
    try:
        f.parse(text)
    except f.FilterSyntaxError:
        return True
    return False


def _search_code(problem: DirectoryProblem) -> int:
    """The libldap code search_st() returns when no search result came.

    slapd answers a request it cannot decode (the empty filter, which libldap sends as a
    SearchRequest without a filter) with a notice of disconnection carrying protocolError (2),
    and libldap returns that code: "Search error 2: Protocol error" (checked with postmap).
    The Directory reports that closure with the code (problems.closed_without_filter).
    """
    kind = problem.problem.kind
    if kind is ProblemKind.BAD_FILTER:
        return msg.LDAP_FILTER_ERROR
    if kind is ProblemKind.TIMEOUT:
        return msg.LDAP_TIMEOUT
    if kind is ProblemKind.SERVER_CLOSED and problem.problem.code == 2:
        return 2
    return msg.LDAP_SERVER_DOWN
