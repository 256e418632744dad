"""Failures classified into problems a person can act on, each told in one line.

The classification looks at what actually happened (the socket error, the TLS alert, the LDAP
result code of RFC 4511), never at ldap3's message texts alone. Messages name the server and,
where it helps, what the component would do; they never contain a password.
"""

from __future__ import annotations

import enum
import errno
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, replace

from ldap3.core.exceptions import LDAPSessionTerminatedByServerError, LDAPStartTLSError

from ldapdiag.directory.filters import FilterSyntaxError
from ldapdiag.errors import LdapdiagError


class ProblemKind(enum.Enum):
    """The problems `ldapdiag check` and the engines tell apart."""

    NAME_NOT_RESOLVED = "host name not found"
    HOST_UNREACHABLE = "host unreachable"
    CONNECTION_REFUSED = "connection refused"
    TLS_HANDSHAKE_FAILED = "TLS handshake failed"
    CERT_UNTRUSTED = "certificate untrusted"
    CERT_EXPIRED = "certificate expired"
    CERT_NOT_YET_VALID = "certificate not yet valid"
    HOSTNAME_MISMATCH = "certificate hostname mismatch"
    CERT_TRUST_UNKNOWN = "certificate trust unknown"
    CERT_ACCEPTED = "certificate accepted despite problems"
    STARTTLS_REFUSED = "StartTLS refused"
    STRONGER_AUTH_REQUIRED = "strong(er) authentication required"
    INVALID_CREDENTIALS = "invalid credentials"
    BIND_DN_MISSING = "bind DN missing"
    UNAUTHENTICATED_BIND = "bind without password"
    PROTOCOL_VERSION = "protocol version refused"
    SEARCH_BASE_MISSING = "search base does not exist"
    INSUFFICIENT_ACCESS = "insufficient access"
    SIZE_LIMIT = "size limit exceeded"
    TIME_LIMIT = "time limit exceeded"
    TIMEOUT = "timeout"
    REFERRAL = "referral"
    SERVER_CLOSED = "server closed the connection"
    BAD_FILTER = "bad search filter"
    NOT_SUPPORTED = "not supported by ldapdiag"
    CONFIG = "configuration refused"
    CANNOT_START = "cannot start"
    LDAP_ERROR = "LDAP error"

    @property
    def slug(self) -> str:
        """A stable identifier for JSON output: `cert-untrusted`."""
        return self.name.lower().replace("_", "-")


# RFC 4511 result codes (and libldap's client-side ones) ldapdiag names.
RESULT_NAMES: dict[int, str] = {
    0: "success",
    1: "operationsError",
    2: "protocolError",
    3: "timeLimitExceeded",
    4: "sizeLimitExceeded",
    7: "authMethodNotSupported",
    8: "strongerAuthRequired",
    10: "referral",
    11: "adminLimitExceeded",
    12: "unavailableCriticalExtension",
    13: "confidentialityRequired",
    32: "noSuchObject",
    34: "invalidDNSyntax",
    48: "inappropriateAuthentication",
    49: "invalidCredentials",
    50: "insufficientAccessRights",
    51: "busy",
    52: "unavailable",
    53: "unwillingToPerform",
    80: "other",
}


def result_name(code: int | None) -> str:
    """The RFC 4511 name of a result code."""
    if code is None:
        return "none"
    return RESULT_NAMES.get(code, f"code {code}")


@dataclass(frozen=True)
class Problem:
    """One thing that went wrong, in words a person can act on."""

    kind: ProblemKind
    message: str  # one line, without the server (see __str__)
    server: str | None = None
    code: int | None = None  # the LDAP result code, when the server answered
    phase: str | None = None  # connect, the TLS handshake, StartTLS, bind, search...

    def __str__(self) -> str:
        return f"{self.server}: {self.message}" if self.server else self.message

    def as_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "kind": self.kind.slug,
            "message": self.message,
            "server": self.server,
            "code": self.code,
            "phase": self.phase,
        }


class DirectoryProblem(LdapdiagError):
    """An operation could not be done; carries the classified Problem.

    A refused certificate also carries the verdict (`verdict`, a tls.CertificateVerdict) and the
    other reasons the component would refuse it (`also`).
    """

    def __init__(
        self, problem: Problem, verdict: object | None = None, also: tuple[Problem, ...] = ()
    ) -> None:
        super().__init__(str(problem))
        self.problem = problem
        self.verdict = verdict
        self.also = also


# ---------------------------------------------------------------------------------------------
# from exceptions


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The exception and every exception it was raised from or during (cause and context)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def from_exception(
    error: BaseException, server: str | None, phase: str, timeout: float | None = None
) -> Problem:
    """A socket, TLS or ldap3 error during `phase` (connect, tls, starttls, bind, search)."""
    for item in _chain(error):
        problem = _classify_one(item, server, phase, timeout)
        if problem is not None:
            return replace(problem, phase=phase)
    detail = " ".join(str(error).split()) or type(error).__name__
    return Problem(ProblemKind.LDAP_ERROR, f"{phase} failed: {detail}", server, phase=phase)


def _classify_one(
    error: BaseException, server: str | None, phase: str, timeout: float | None
) -> Problem | None:
    waited = f" within {timeout:g} s" if timeout is not None else ""
    if isinstance(error, FilterSyntaxError):
        return Problem(ProblemKind.BAD_FILTER, f"Bad search filter: {error}", server, -7)
    if isinstance(error, socket.gaierror):
        return Problem(ProblemKind.NAME_NOT_RESOLVED, f"host name not found ({error.strerror})", server)
    if isinstance(error, TimeoutError | socket.timeout):
        what = "no TCP connection" if phase == "connect" else f"no answer to {phase}"
        return Problem(ProblemKind.TIMEOUT, f"{what}{waited} (timeout)", server)
    if isinstance(error, ssl.SSLError):
        reason = getattr(error, "reason", None) or _openssl_reason(str(error))
        return Problem(
            ProblemKind.TLS_HANDSHAKE_FAILED, f"TLS handshake failed: {_tls_reason(reason)}", server
        )
    if isinstance(error, ConnectionRefusedError):
        return Problem(
            ProblemKind.CONNECTION_REFUSED, "connection refused (nothing listens on that port)", server
        )
    if isinstance(error, ConnectionResetError | BrokenPipeError | LDAPSessionTerminatedByServerError):
        return Problem(ProblemKind.SERVER_CLOSED, f"the server closed the connection during {phase}", server)
    if isinstance(error, OSError) and error.errno in (
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.EADDRNOTAVAIL,
    ):
        return Problem(ProblemKind.HOST_UNREACHABLE, f"host unreachable ({error.strerror})", server)
    if isinstance(error, LDAPStartTLSError):
        return Problem(ProblemKind.STARTTLS_REFUSED, f"StartTLS refused: {error}", server)
    if isinstance(error, EOFError):
        return Problem(ProblemKind.SERVER_CLOSED, f"the server closed the connection during {phase}", server)
    return None


def _openssl_reason(text: str) -> str:
    """`[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1000)` -> WRONG_VERSION_NUMBER."""
    start = text.find("[SSL: ")
    return text[start + 6 : text.index("]", start)] if start >= 0 and "]" in text[start:] else text


def _tls_reason(reason: str) -> str:
    """OpenSSL reasons in words: WRONG_VERSION_NUMBER is what a plain LDAP port answers."""
    known = {
        "WRONG_VERSION_NUMBER": "the server does not speak TLS on this port (a plain LDAP port?)",
        "UNEXPECTED_EOF_WHILE_READING": "the server closed the connection during the handshake",
        "TLSV1_ALERT_PROTOCOL_VERSION": "no TLS version in common",
        "SSLV3_ALERT_HANDSHAKE_FAILURE": "no cipher or protocol in common",
        "RECORD_LAYER_FAILURE": "the server does not speak TLS on this port",
        "PACKET_LENGTH_TOO_LONG": "the server does not speak TLS on this port",
    }
    return known.get(reason, reason.replace("_", " ").lower())


def closed_without_filter(problem: Problem) -> Problem:
    """slapd answers a SearchRequest without a filter (libldap sends DMS's empty filter so) with a
    notice of disconnection carrying protocolError (2), then closes: the request's own fault."""
    message = "the server closed the connection on a search without a filter (protocolError)"
    return replace(problem, code=2, message=message)


def plain_answer_from_tls_port(server: str | None) -> Problem:
    """A plain LDAP request sent to an ldaps port: slapd waits for a TLS ClientHello, then drops us."""
    return Problem(
        ProblemKind.SERVER_CLOSED,
        "the server closed the connection without an LDAP answer (is this an ldaps:// port? use ldaps://)",
        server,
    )


# ---------------------------------------------------------------------------------------------
# from LDAP results


def from_result(
    code: int, message: str, server: str | None, phase: str, base: str | None = None
) -> Problem | None:
    """The problem an LDAP result code means in `phase` (bind, search, starttls); None for success."""
    if code == 0:
        return None
    text = " ".join(message.split())
    said = f": {text}" if text else ""
    kind, words = _RESULT_PROBLEMS.get(
        code, (ProblemKind.LDAP_ERROR, f"{phase} failed ({result_name(code)})")
    )
    if code == 32 and phase == "search":
        words = f"search base {base!r} does not exist (or the bind DN may not see it)"
    elif code == 2 and phase == "bind":
        kind, words = ProblemKind.PROTOCOL_VERSION, "bind refused: protocol error (LDAPv2 binds are refused?)"
    elif code == 53 and phase == "bind" and "unauthenticated" in text.lower():
        kind, words = ProblemKind.UNAUTHENTICATED_BIND, "bind refused: a bind DN with an empty password"
    elif phase == "starttls":
        kind, words = ProblemKind.STARTTLS_REFUSED, f"StartTLS refused ({result_name(code)})"
    message = words if code == 32 and phase == "search" else f"{words}{said}"
    return Problem(kind, message, server, code, phase)


_RESULT_PROBLEMS: dict[int, tuple[ProblemKind, str]] = {
    3: (ProblemKind.TIME_LIMIT, "time limit exceeded"),
    4: (ProblemKind.SIZE_LIMIT, "size limit exceeded"),
    7: (ProblemKind.STRONGER_AUTH_REQUIRED, "authentication method not supported"),
    8: (ProblemKind.STRONGER_AUTH_REQUIRED, "strong(er) authentication required (TLS or SASL needed)"),
    10: (ProblemKind.REFERRAL, "the server answered with a referral"),
    13: (ProblemKind.STRONGER_AUTH_REQUIRED, "confidentiality required (use StartTLS or ldaps)"),
    32: (ProblemKind.SEARCH_BASE_MISSING, "no such object"),
    48: (ProblemKind.STRONGER_AUTH_REQUIRED, "inappropriate authentication"),
    49: (ProblemKind.INVALID_CREDENTIALS, "invalid credentials (wrong bind DN or password)"),
    50: (ProblemKind.INSUFFICIENT_ACCESS, "insufficient access rights"),
    2: (ProblemKind.LDAP_ERROR, "protocol error"),
}
