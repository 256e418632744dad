"""Faults: the directory did not answer a question, so ldapdiag could not check what it holds.

The rule (README, "When the directory is broken"): a problem is a *fault* when the outcome depends
on the state of the server or the network - it could not be reached, timed out, closed the
connection, failed TLS or a certificate check, refused the component's own bind, or answered a
search with a limit, a referral, "unavailable", or "no such object" for the configured (static)
search base. Engines still predict what the program does at that moment (postfix: 451 4.3.0
Temporary lookup failure; dovecot: internal failure), but every prediction made while a fault
happened is marked incomplete and the command exits 2. A request the server rejects for its own
text (a filter or DN it cannot parse, DMS's empty filter) is no fault: every server gives the same
answer, so the prediction is certain (a finding). A user's own bind being refused (a login's
password check) is an answer too.

The FaultLog lives on the run's Trace, shared by every Directory of one command. It also
remembers servers that made ldapdiag wait in vain: they are not waited for again in the same
run, so a command ends within the timeout (plus the time to say so) instead of once per lookup.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

from ldapdiag.directory.problems import Problem, ProblemKind

# The longest ldapdiag waits for one answer, set by `--timeout` (None: the components' own).
MAX_WAIT: ContextVar[float | None] = ContextVar("ldapdiag_max_wait", default=None)
# The servers that gave an LDAP answer in this run, whichever component asked (set per command by
# the CLI): a later hang-up from one of them is a cut, not a plain request sent to an ldaps port.
ANSWERED: ContextVar[set[str] | None] = ContextVar("ldapdiag_answered", default=None)


def note_answer(server: str) -> None:
    """`server` gave an LDAP answer (a bind result) in this run."""
    answered = ANSWERED.get()
    if answered is not None:
        answered.add(server)


def answered_before(server: str) -> bool:
    """Whether `server` gave an LDAP answer earlier in this run."""
    answered = ANSWERED.get()
    return answered is not None and server in answered


_ANSWERED_NOT_FAULTS = frozenset(
    {
        ProblemKind.BAD_FILTER,  # libldap refuses the filter text: every server alike
        ProblemKind.NOT_SUPPORTED,
        ProblemKind.CONFIG,
        ProblemKind.CANNOT_START,
        ProblemKind.CERT_ACCEPTED,
    }
)
# LDAP result codes of LDAP_ERROR problems that depend on the server's state
# (operationsError, adminLimitExceeded, busy, unavailable, other); protocolError (2: DMS's empty
# filter) and invalidDNSyntax (34: a stray quote in a base) are the request's own fault.
_SERVER_STATE_CODES = frozenset({1, 11, 51, 52, 80})


def capped(max_wait: float | None) -> float | None:
    """`max_wait` capped by the run's `--timeout` (None: no cap at all)."""
    run_wide = MAX_WAIT.get()
    if run_wide is None:
        return max_wait
    return run_wide if max_wait is None else min(max_wait, run_wide)


def is_fault(problem: Problem, *, login_bind: bool = False, static_base: bool = True) -> bool:
    """Whether `problem` means the directory's answer could not be had (see the module docstring)."""
    kind = problem.kind
    if kind in _ANSWERED_NOT_FAULTS:
        return False
    if login_bind and problem.phase == "bind" and problem.code is not None:
        return False  # a user's password or DN refused: that is the login's answer
    if kind is ProblemKind.SEARCH_BASE_MISSING and problem.phase == "search":
        return static_base  # a base built from the key may well not exist: "not found"
    if kind is ProblemKind.LDAP_ERROR:
        return problem.code is None or problem.code in _SERVER_STATE_CODES
    # closed on a search without a filter (problems.closed_without_filter): the request's own
    return not (kind is ProblemKind.SERVER_CLOSED and problem.code == 2)


@dataclass(frozen=True)
class Fault:
    """One fault: which component met it, and the problem in one line."""

    component: str
    problem: Problem

    def line(self) -> str:
        """`postfix: ldap://host:389: connection refused (...)`."""
        return f"{self.component}: {self.problem}"

    def as_dict(self) -> dict[str, object]:
        return {"component": self.component, **self.problem.as_dict()}


@dataclass
class FaultLog:
    """Every fault of one run, in order, and the servers not to wait for again."""

    faults: list[Fault] = field(default_factory=list)
    unanswered: dict[str, Problem] = field(default_factory=dict)  # server URL -> its timeout
    failovers: dict[str, str] = field(default_factory=dict)  # "component: skipped" -> server that answered

    def failover(self, component: str, skipped: tuple[Problem, ...], answered: str) -> None:
        """Earlier servers of the list failed and `answered` was taken (libldap's failover: no fault)."""
        if skipped:
            why = "; ".join(str(problem) for problem in skipped)
            self.failovers.setdefault(f"{component}: {why}", answered)

    def add(self, component: str, problem: Problem) -> None:
        self.faults.append(Fault(component, problem))
        self.remember_timeout(problem)

    def remember_timeout(self, problem: Problem) -> None:
        """A server that made ldapdiag wait in vain is not waited for again in this run."""
        repeated = "not asked again" in problem.message
        if problem.kind is ProblemKind.TIMEOUT and problem.server and not repeated:
            self.unanswered.setdefault(problem.server, problem)

    def recovered(self, mark: int, until: int | None = None) -> None:
        """The faults from `mark` to `until` (default: the latest) were overcome (postfix's
        dict_ldap and dovecot's db-ldap reopen a lost connection and send the search again):
        they are no faults of the run. Faults the answer itself brought (from `until` on) stay."""
        del self.faults[mark:until]

    def mark(self) -> int:
        """A position: faults since it are `since(mark)`."""
        return len(self.faults)

    def since(self, mark: int) -> list[Fault]:
        return self.faults[mark:]

    def distinct(self, faults: list[Fault] | None = None) -> list[Fault]:
        """Faults without repeats (the same problem met by several lookups), in order."""
        seen: dict[str, Fault] = {}
        for fault in self.faults if faults is None else faults:
            seen.setdefault(fault.line(), fault)
        return list(seen.values())

    def lines(self) -> list[str]:
        """One stderr line per failover (which server answered) and per distinct fault."""
        notes = [f"ldapdiag: note: {skipped}; {url} answered" for skipped, url in self.failovers.items()]
        return notes + [f"ldapdiag: could not check: {fault.line()}" for fault in self.distinct()]

    def given_up(self, server: str) -> Problem | None:
        """The timeout of a server that did not answer earlier in this run, if any."""
        problem = self.unanswered.get(server)
        if problem is None:
            return None
        message = f"not asked again: it did not answer earlier in this run ({problem.message})"
        return Problem(ProblemKind.TIMEOUT, message, server, None, problem.phase)


def summary(faults: list[Fault]) -> str | None:
    """The faults as one line (`; `-joined), None when there are none."""
    lines = list(dict.fromkeys(fault.line() for fault in faults))
    return "; ".join(lines) if lines else None
