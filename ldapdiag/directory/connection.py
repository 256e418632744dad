"""Open a connection the way the component would: server list, ldaps/StartTLS, certificate, bind.

The order of events mirrors libldap as the components drive it (ldap_new_connection(),
ldap_int_open_connection(), ldap_start_tls_s(), then the component's bind):

1. The servers are tried in list order; a server is taken when the TCP connection opens and,
   for ldaps://, the TLS handshake (certificate checks included) succeeds. Otherwise the next one.
2. StartTLS, when configured, on the server taken. Its failure is final (no next server).
3. The bind the component makes (postfix `bind`, dovecot always, saslauthd always).

Certificates are always inspected; a certificate the component would refuse stops here (step 1
moves on, step 2 fails), one it would accept is reported and the connection goes on.
"""

from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from ldap3 import NONE, Server
from ldap3.core.exceptions import LDAPException, LDAPStartTLSError
from ldap3.protocol import rfc4511 as rfc

from ldapdiag.directory.faults import FaultLog, answered_before, note_answer
from ldapdiag.directory.policy import ConnectionPolicy
from ldapdiag.directory.problems import (
    DirectoryProblem,
    Problem,
    ProblemKind,
    from_exception,
    from_result,
    plain_answer_from_tls_port,
)
from ldapdiag.directory.readonly import STARTTLS_OID, ReadOnlyConnection, ReadOnlyStrategy
from ldapdiag.directory.servers import ServerSpec
from ldapdiag.directory.tls import (
    CertificateVerdict,
    Judgement,
    TrustAnchors,
    VerdictTls,
    judge,
    trust_from_error,
)
from ldapdiag.directory.trace import Trace, TraceEvent


@dataclass(frozen=True)
class Patience:
    """How long ldapdiag waits: the component's own timeouts, capped by `max_wait` (seconds).

    `faults` (the run's FaultLog) remembers servers that did not answer within it: they are
    skipped at once, as failed, for the rest of the run (one wait per server, not per lookup).
    """

    max_wait: float | None = None
    faults: FaultLog | None = None

    def cap(self, seconds: float) -> float:
        return min(seconds, self.max_wait) if self.max_wait else seconds


@dataclass
class Session:
    """An open, possibly bound, connection to the server the component would use."""

    policy: ConnectionPolicy
    server: ServerSpec
    connection: ReadOnlyConnection
    tls_mode: str  # "none", "ldaps" or "starttls"
    verdict: CertificateVerdict | None
    judgement: Judgement | None
    skipped: tuple[Problem, ...]  # why earlier servers of the list were not taken
    bind_result: int | None = None  # None: the component does not bind
    bind_problem: Problem | None = None
    operation_timeout: float = 10.0
    closed: bool = field(default=False)

    @property
    def url(self) -> str:
        return self.server.url

    def close(self, trace: Trace) -> None:
        """Unbind and close (an unbind on a broken connection is not an error)."""
        if self.closed:
            return
        self.closed = True
        start = time.monotonic()
        try:
            if not self.connection.closed:
                self.connection.unbind()
        except (LDAPException, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                self.connection.strategy.close()
        trace.add(
            TraceEvent(self.policy.component, "unbind", self.url, time.monotonic() - start, result="done")
        )


class _ServerFailed(Exception):
    """This server is not taken; libldap goes on with the next one."""

    def __init__(self, problem: Problem, refusal: DirectoryProblem | None = None) -> None:
        super().__init__(str(problem))
        self.problem = problem
        self.refusal = refusal  # with the certificate verdict, when the certificate was refused


def open_session(
    policy: ConnectionPolicy,
    trace: Trace,
    *,
    ca_files: tuple[Path, ...] = (),
    ca_dirs: tuple[Path, ...] = (),
    patience: Patience = Patience(),
) -> Session:
    """ldap_initialize() + first connection + StartTLS + bind, as `policy`'s component does them."""
    anchors = TrustAnchors(
        policy.tls.ca_sources,
        ca_files if policy.tls.ca_sources else (),
        ca_dirs if policy.tls.ca_sources else (),
    )
    skipped: list[Problem] = []
    refusal: DirectoryProblem | None = None
    for spec in policy.servers:
        given_up = patience.faults.given_up(spec.url) if patience.faults is not None else None
        if given_up is not None:
            trace.add(TraceEvent(policy.component, "connect", spec.url, 0.0, result=given_up.kind.value))
            skipped.append(given_up)
            continue
        try:
            session = _connect(spec, policy, anchors, trace, patience, tuple(skipped))
        except _ServerFailed as failed:
            skipped.append(failed.problem)
            refusal = failed.refusal
            if patience.faults is not None:
                patience.faults.remember_timeout(failed.problem)
            continue
        try:
            if policy.start_tls and spec.tls_on_connect:
                _start_tls_over_ldaps(session, trace)
            elif policy.start_tls:
                session = _start_tls(session, anchors, trace, patience)
            _bind(session, trace)
        except BaseException:
            session.close(trace)
            raise
        return session
    if len(skipped) == 1:
        raise refusal or DirectoryProblem(skipped[0])
    summary = "; ".join(str(problem) for problem in skipped)
    problem = Problem(skipped[-1].kind, f"no server of the list could be reached: {summary}")
    raise DirectoryProblem(problem, refusal.verdict if refusal else None)


# ---------------------------------------------------------------------------------------------
# connecting


def _new_connection(
    spec: ServerSpec, policy: ConnectionPolicy, tls: VerdictTls, patience: Patience
) -> ReadOnlyConnection:
    """An ldap3 connection object for one server (nothing sent yet)."""
    if spec.scheme == "ldapi":
        server = Server(f"ldapi://{quote(spec.host, safe='')}", get_info=NONE)
    else:
        server = Server(spec.host, port=spec.port, use_ssl=spec.tls_on_connect, tls=tls, get_info=NONE)
    return ReadOnlyConnection(
        server,
        user=None,
        password=None,
        version=policy.version,
        connect_timeout=patience.cap(policy.connect_timeout),
        receive_timeout=patience.cap(policy.operation_timeout),
    )


def _tcp_open(
    spec: ServerSpec, policy: ConnectionPolicy, tls: VerdictTls, patience: Patience
) -> ReadOnlyConnection:
    """ldap_int_open_connection(): TCP (every address), then the TLS handshake for ldaps."""
    if spec.scheme != "ldapi":
        try:
            socket.getaddrinfo(spec.host, spec.port, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise _ServerFailed(from_exception(error, spec.url, "connect")) from None
    connection = _new_connection(spec, policy, tls, patience)
    try:
        connection.open(read_server_info=False)
    except (LDAPException, OSError) as error:
        with contextlib.suppress(Exception):
            connection.strategy.close()
        if tls.verify_error is not None:
            raise _VerifyFailed() from error
        strategy = connection.strategy
        if isinstance(strategy, ReadOnlyStrategy) and not strategy.tcp_connected and strategy.socket_errors:
            cause: BaseException = strategy.socket_errors[-1][1]
            phase, waited = "connect", policy.connect_timeout
        else:
            cause, phase, waited = tls.handshake_error or error, "the TLS handshake", policy.connect_timeout
        raise _ServerFailed(from_exception(cause, spec.url, phase, patience.cap(waited))) from None
    return connection


class _VerifyFailed(Exception):
    """OpenSSL could not verify the certificate; the handshake must be repeated without checks."""


def _connect(
    spec: ServerSpec,
    policy: ConnectionPolicy,
    anchors: TrustAnchors,
    trace: Trace,
    patience: Patience,
    skipped: tuple[Problem, ...],
) -> Session:
    """Take this server or raise _ServerFailed (ldaps: a refused certificate moves on too)."""
    start = time.monotonic()
    event = TraceEvent(policy.component, "connect", spec.url, 0.0)
    verdict = judgement = None
    try:
        connection, verdict, judgement = _open_with_verdict(spec, policy, anchors, patience)
    except _ServerFailed as failed:
        trace.add(_done(event, start, failed.problem.kind.value))
        raise
    detail = verdict.tls_version or "" if verdict else ""
    trace.add(_done(event, start, "connected", detail))
    session = Session(
        policy,
        spec,
        connection,
        "ldaps" if spec.tls_on_connect else "none",
        verdict,
        judgement,
        skipped,
        operation_timeout=patience.cap(policy.operation_timeout),
    )
    return session


def _open_with_verdict(
    spec: ServerSpec, policy: ConnectionPolicy, anchors: TrustAnchors, patience: Patience
) -> tuple[ReadOnlyConnection, CertificateVerdict | None, Judgement | None]:
    """TCP (+ ldaps handshake with verification; again without it for the facts when that fails)."""
    tls = VerdictTls(spec.host, anchors, verify=True)
    try:
        connection = _tcp_open(spec, policy, tls, patience)
        trusted, error = True, None
    except _VerifyFailed:
        trusted, error = trust_from_error(tls.verify_error)
        tls = VerdictTls(spec.host, anchors, verify=False)
        connection = _tcp_open(spec, policy, tls, patience)
    if not spec.tls_on_connect:
        return connection, None, None
    verdict = tls.verdict(spec.url, policy.tls.local_fqdn, trusted, error)
    judgement = judge(verdict, policy.tls)
    if not judgement.accepted:
        with contextlib.suppress(Exception):
            connection.strategy.close()
        refusal = DirectoryProblem(judgement.refused[0], verdict, judgement.refused[1:])
        raise _ServerFailed(judgement.refused[0], refusal)
    return connection, verdict, judgement


def _done(event: TraceEvent, start: float, result: str, detail: str = "") -> TraceEvent:
    return TraceEvent(
        event.component, event.operation, event.server, time.monotonic() - start, result=result, detail=detail
    )


# ---------------------------------------------------------------------------------------------
# StartTLS


def _start_tls(session: Session, anchors: TrustAnchors, trace: Trace, patience: Patience) -> Session:
    """ldap_start_tls_s() on the server taken: refused, a failed handshake or a refused certificate end it."""
    policy, spec = session.policy, session.server
    start = time.monotonic()
    timeout = patience.cap(policy.operation_timeout)
    try:
        connection, tls, trusted, error = _start_tls_with_fallback(session, anchors, patience, timeout)
    except DirectoryProblem as failure:
        trace.add(_event(session, "starttls", start, failure.problem.kind.value, failure.problem.code))
        raise
    verdict = tls.verdict(spec.url, policy.tls.local_fqdn, trusted, error)
    judgement = judge(verdict, policy.tls)
    session.connection, session.tls_mode, session.verdict, session.judgement = (
        connection,
        "starttls",
        verdict,
        judgement,
    )
    if not judgement.accepted:
        trace.add(_event(session, "starttls", start, judgement.refused[0].kind.value, 0))
        raise DirectoryProblem(judgement.refused[0], verdict, judgement.refused[1:])
    trace.add(_event(session, "starttls", start, "success", 0, verdict.tls_version or ""))
    return session


def _start_tls_with_fallback(
    session: Session, anchors: TrustAnchors, patience: Patience, timeout: float
) -> tuple[ReadOnlyConnection, VerdictTls, bool, str | None]:
    """StartTLS with verification; when OpenSSL cannot verify, again on a new connection without it."""
    spec, policy = session.server, session.policy
    tls: VerdictTls = session.connection.server.tls
    try:
        _start_tls_once(session.connection, spec, timeout)
        return session.connection, tls, True, None
    except _VerifyFailed:
        trusted, error = trust_from_error(tls.verify_error)
    with contextlib.suppress(Exception):
        session.connection.strategy.close()
    tls = VerdictTls(spec.host, anchors, verify=False)
    try:
        connection = _tcp_open(spec, policy, tls, patience)
    except _ServerFailed as failed:
        raise DirectoryProblem(failed.problem) from None
    try:
        _start_tls_once(connection, spec, timeout)
    except BaseException:
        with contextlib.suppress(Exception):
            connection.strategy.close()
        raise
    return connection, tls, trusted, error


def _start_tls_over_ldaps(session: Session, trace: Trace) -> None:
    """ldap_start_tls_s() on an ldaps:// connection: libldap sends StartTLS inside TLS.

    Checked with postmap ("Unable to set STARTTLS: 1: Operations error"); dovecot makes it fatal
    ("Don't use both tls=yes and ldaps URI").
    """
    start = time.monotonic()
    connection = session.connection
    try:
        connection.extended(STARTTLS_OID)
    except (LDAPException, OSError) as error:
        problem = from_exception(error, session.url, "StartTLS", session.operation_timeout)
        trace.add(_event(session, "starttls", start, problem.kind.value))
        raise DirectoryProblem(problem) from None
    result = connection.result or {}
    code = int(result.get("result", 80))
    trace.add(_event(session, "starttls", start, _name(result), code))
    if code != 0:
        text = " ".join(str(result.get("message", "")).split())
        message = (
            f"StartTLS refused ({text or _name(result)}): {session.policy.component} sends StartTLS on an "
            "ldaps:// connection (start_tls/tls = yes with an ldaps URL)"
        )
        raise DirectoryProblem(Problem(ProblemKind.STARTTLS_REFUSED, message, session.url, code, "StartTLS"))


def _start_tls_once(connection: ReadOnlyConnection, spec: ServerSpec, timeout: float) -> None:
    """The StartTLS extended operation and the handshake through VerdictTls."""
    tls: VerdictTls = connection.server.tls
    try:
        connection.start_tls(read_server_info=False)
    except (LDAPException, OSError) as error:
        if tls.verify_error is not None:
            raise _VerifyFailed() from error
        if tls.handshake_error is not None:
            raise DirectoryProblem(_tls_problem(tls.handshake_error, spec, timeout)) from None
        result = connection.result or {}
        code = result.get("result")
        if isinstance(error, LDAPStartTLSError) and isinstance(code, int) and code != 0:
            problem = from_result(code, str(result.get("message", "")), spec.url, "starttls")
            if problem is not None:
                raise DirectoryProblem(problem) from None
        raise DirectoryProblem(_tls_problem(error, spec, timeout)) from None


def _tls_problem(error: BaseException, spec: ServerSpec, timeout: float) -> Problem:
    problem = from_exception(error, spec.url, "StartTLS", timeout)
    if problem.kind is ProblemKind.TLS_HANDSHAKE_FAILED:
        return Problem(
            problem.kind, problem.message.replace("TLS handshake", "TLS handshake after StartTLS"), spec.url
        )
    if problem.kind is ProblemKind.LDAP_ERROR:
        return Problem(
            ProblemKind.TLS_HANDSHAKE_FAILED, f"TLS handshake after StartTLS failed: {error}", spec.url
        )
    return problem


# ---------------------------------------------------------------------------------------------
# bind


def _bind(session: Session, trace: Trace) -> None:
    """The bind: postfix dict_ldap_bind_st(), dovecot db_ldap_bind_simple(), saslauthd lak_bind()."""
    bind = session.policy.bind
    if bind.method == "none":
        return
    if bind.method == "sasl":
        problem = Problem(ProblemKind.NOT_SUPPORTED, "SASL binds are not supported by ldapdiag", session.url)
        raise DirectoryProblem(problem)
    start = time.monotonic()
    connection = session.connection
    request = rfc.BindRequest()
    request["version"] = rfc.Version(session.policy.version)
    request["name"] = bind.dn
    secret = bind.password.reveal() if bind.password is not None else ""
    request["authentication"] = rfc.AuthenticationChoice().setComponentByName("simple", rfc.Simple(secret))
    try:
        connection.post_send_single_response(connection.send("bindRequest", request, None))
    except (LDAPException, OSError) as error:
        problem = _closed_hint(
            from_exception(error, session.url, "bind", session.operation_timeout), session, trace
        )
        trace.add(_event(session, "bind", start, problem.kind.value, bind_dn=bind.dn))
        raise DirectoryProblem(problem) from None
    finally:
        connection.request = None  # ldap3 keeps a description of the request, password included
        del request, secret
    result = connection.result or {}
    code = int(result.get("result", 80))
    note_answer(session.url)
    connection.bound = code == 0
    session.bind_result = code
    trace.add(_event(session, "bind", start, _name(result), code, bind_dn=bind.dn))
    problem = from_result(code, str(result.get("message", "")), session.url, "bind")
    if problem is not None:
        session.bind_problem = problem
        raise DirectoryProblem(problem)


def _closed_hint(problem: Problem, session: Session, trace: Trace) -> Problem:
    """A plain request answered by a hang-up: most likely an ldaps port reached with ldap://,
    unless that server gave an LDAP answer earlier in this run (then it was cut, not TLS)."""
    if problem.kind is not ProblemKind.SERVER_CLOSED or session.tls_mode != "none":
        return problem
    if answered_before(session.url) or any(
        event.server == session.url and event.result_code is not None for event in trace.events
    ):
        return problem
    return plain_answer_from_tls_port(session.url)


def _name(result: dict[str, object]) -> str:
    return str(result.get("description") or result.get("result"))


def _event(
    session: Session,
    operation: str,
    start: float,
    result: str,
    code: int | None = None,
    detail: str = "",
    bind_dn: str | None = None,
) -> TraceEvent:
    return TraceEvent(
        session.policy.component,
        operation,  # type: ignore[arg-type]
        session.url,
        time.monotonic() - start,
        result_code=code,
        result=result,
        bind_dn=bind_dn,
        detail=detail,
    )
