"""One LDAP search as dovecot's db-ldap sends it, with the outcome dovecot derives from it.

Mirrors dovecot 2.3.19.1 src/auth/db-ldap.c `db_ldap_request_search()` (an empty base is sent as
NULL: the root), `db_ldap_handle_request_result()` (noSuchObject is not an error: the search just
finds nothing; any other failure code is "ldap_search(base=... filter=...) failed: ..."; a second
entry fails the request with "LDAP search returned multiple entries" before any field is set) and
`ldap_handle_error()` (a filter libldap cannot parse: "ldap_search(...) parsing failed"). A search
the server closed the connection on is sent again on a new connection, three times in all
(`ldap_input()`, `db_ldap_conn_close()`, `db_ldap_request_queue_next()`): a server that went away
or closed an idle connection costs nothing when the new one answers; one that closes it on every
send (slapd on an empty filter) fails the request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ldapdiag.directory.directory import Directory, Entry, SearchOutcome, WireSearch
from ldapdiag.directory.policy import ConnectionPolicy
from ldapdiag.directory.problems import DirectoryProblem, ProblemKind

DirectoryFactory = Callable[[ConnectionPolicy], Directory]

SEND_ATTEMPTS = 3  # db-ldap.c DB_LDAP_REQUEST_MAX_ATTEMPT_COUNT

# ldap_err2string() texts of OpenLDAP 2.5 (libraries/libldap/error.c) for codes a search meets.
LDAP_ERROR_TEXTS = {
    1: "Operations error",
    2: "Protocol error",
    3: "Time limit exceeded",
    4: "Size limit exceeded",
    7: "Authentication method not supported",
    8: "Strong(er) authentication required",
    10: "Referral",
    11: "Administrative limit exceeded",
    12: "Critical extension is unavailable",
    13: "Confidentiality required",
    16: "No such attribute",
    17: "Undefined attribute type",
    18: "Inappropriate matching",
    21: "Invalid syntax",
    32: "No such object",
    34: "Invalid DN syntax",
    48: "Inappropriate authentication",
    49: "Invalid credentials",
    50: "Insufficient access",
    51: "Server is busy",
    52: "Server is unavailable",
    53: "Server is unwilling to perform",
    54: "Loop detected",
    80: "Other (e.g., implementation specific) error",
}


def ldap_err2string(code: int) -> str:
    """ldap_err2string() for the codes ldapdiag meets."""
    return LDAP_ERROR_TEXTS.get(code, f"Unknown error (code {code})")


@dataclass(frozen=True)
class DovecotSearch:
    """What one dovecot search found."""

    base: str
    scope: str
    filter: str
    attributes: tuple[str, ...]
    entries: tuple[Entry, ...]
    error: str | None  # dovecot's error text: the request fails (internal failure)
    wire: WireSearch | None = field(default=None, compare=False, repr=False)  # as sent, for --explain

    @property
    def entry(self) -> Entry | None:
        """The one entry dovecot uses (None when there is none, or an error)."""
        return self.entries[0] if self.error is None and len(self.entries) == 1 else None


def _sent_until_answered(
    directory: Directory, base: str, scope: str, filter_: str, attributes: tuple[str, ...]
) -> SearchOutcome:
    """db_ldap_request_queue_next() after ldap_conn_reconnect(): a search whose connection the
    server closed is sent again on a new connection, SEND_ATTEMPTS times in all. The closures
    an answer overcame are no faults of the run."""
    faults = directory.trace.faults
    first = faults.mark()
    for attempt in range(1, SEND_ATTEMPTS + 1):
        answered = faults.mark()
        try:
            outcome = directory.search(base, scope, filter_, attributes)
        except DirectoryProblem:
            if attempt == SEND_ATTEMPTS or not directory.reopen():
                raise
            continue
        faults.recovered(first, answered)
        return outcome
    raise AssertionError("unreachable: the last attempt returns or raises")


def dovecot_search(
    directory: Directory, base: str, scope: str, filter_: str, attributes: Sequence[str]
) -> DovecotSearch:
    """db_ldap_request_search() + db_ldap_handle_request_result() for a passdb/userdb lookup."""
    attrs = tuple(attributes)
    try:
        outcome = _sent_until_answered(directory, base, scope, filter_, attrs)
    except DirectoryProblem as problem:
        if problem.problem.kind is ProblemKind.BAD_FILTER:
            text = f"ldap_search({filter_}) parsing failed: Bad search filter"
        elif problem.problem.kind is ProblemKind.SERVER_CLOSED and problem.problem.phase == "search":
            empty = " (the filter is empty)" if filter_ == "" else ""
            text = (
                f"the LDAP server drops the connection on this search{empty}: dovecot logs "
                f'"Reply with unknown msgid 0", sends it {SEND_ATTEMPTS} times in all, and fails '
                "the request (temp_fail)"
            )
        else:
            text = f"LDAP server not reachable as dovecot reaches it: {problem.problem}"
        return DovecotSearch(base, scope, filter_, attrs, (), text, directory.last_search)
    if outcome.result_code not in (0, 32):
        text = f"ldap_search(base={base} filter={filter_}) failed: {ldap_err2string(outcome.result_code)}"
        return DovecotSearch(base, scope, filter_, attrs, outcome.entries, text, directory.last_search)
    if len(outcome.entries) > 1:
        return DovecotSearch(
            base,
            scope,
            filter_,
            attrs,
            outcome.entries,
            "LDAP search returned multiple entries",
            directory.last_search,
        )
    return DovecotSearch(base, scope, filter_, attrs, outcome.entries, None, directory.last_search)
