"""Problem classification (LDAP result codes of RFC 4511, socket and TLS errors) and the read-only guard."""

from __future__ import annotations

import errno
import socket
import ssl

import pytest
from ldap3 import MODIFY_REPLACE, SUBTREE
from ldap3.core.exceptions import LDAPSessionTerminatedByServerError, LDAPSocketReceiveError
from ldap3.operation.add import add_operation
from ldap3.operation.bind import bind_operation
from ldap3.operation.compare import compare_operation
from ldap3.operation.delete import delete_operation
from ldap3.operation.extended import extended_operation
from ldap3.operation.modify import modify_operation
from ldap3.operation.modifyDn import modify_dn_operation
from ldap3.operation.search import search_operation
from ldap3.operation.unbind import unbind_operation
from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp
from ldap3.utils.conv import to_raw

from ldapdiag.directory.filters import FilterSyntaxError
from ldapdiag.directory.problems import ProblemKind, from_exception, from_result
from ldapdiag.directory.readonly import STARTTLS_OID, WHOAMI_OID, WriteAttemptError, check_message

SERVER = "ldap://127.0.0.1:389"


@pytest.mark.parametrize(
    ("code", "phase", "kind"),
    [
        (49, "bind", ProblemKind.INVALID_CREDENTIALS),
        (8, "bind", ProblemKind.STRONGER_AUTH_REQUIRED),
        (13, "bind", ProblemKind.STRONGER_AUTH_REQUIRED),
        (2, "bind", ProblemKind.PROTOCOL_VERSION),
        (32, "search", ProblemKind.SEARCH_BASE_MISSING),
        (4, "search", ProblemKind.SIZE_LIMIT),
        (3, "search", ProblemKind.TIME_LIMIT),
        (10, "search", ProblemKind.REFERRAL),
        (50, "search", ProblemKind.INSUFFICIENT_ACCESS),
        (2, "starttls", ProblemKind.STARTTLS_REFUSED),
        (52, "starttls", ProblemKind.STARTTLS_REFUSED),
        (80, "search", ProblemKind.LDAP_ERROR),
    ],
)
def test_result_codes(code: int, phase: str, kind: ProblemKind) -> None:
    problem = from_result(code, "text from the server", SERVER, phase, base="dc=x")
    assert problem is not None and problem.kind is kind and problem.code == code
    assert "\n" not in str(problem) and str(problem).startswith(SERVER)


def test_success_is_no_problem() -> None:
    assert from_result(0, "", SERVER, "bind") is None


def test_unauthenticated_bind() -> None:
    problem = from_result(53, "unauthenticated bind (DN with no password) disallowed", SERVER, "bind")
    assert problem is not None and problem.kind is ProblemKind.UNAUTHENTICATED_BIND


def _raised_from(inner: BaseException, outer: BaseException) -> BaseException:
    """`outer` raised while handling `inner` (its __context__), as ldap3 does."""
    try:
        try:
            raise inner
        except BaseException:
            raise outer  # noqa: B904 - the implicit context is the point
    except BaseException as caught:
        return caught


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), ProblemKind.CONNECTION_REFUSED),
        (OSError(errno.EHOSTUNREACH, "No route to host"), ProblemKind.HOST_UNREACHABLE),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), ProblemKind.HOST_UNREACHABLE),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), ProblemKind.NAME_NOT_RESOLVED),
        (TimeoutError("timed out"), ProblemKind.TIMEOUT),
        (
            ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"),
            ProblemKind.TLS_HANDSHAKE_FAILED,
        ),
        (LDAPSessionTerminatedByServerError("session terminated by server"), ProblemKind.SERVER_CLOSED),
        (ConnectionResetError(errno.ECONNRESET, "reset"), ProblemKind.SERVER_CLOSED),
        (FilterSyntaxError("missing ')'", 3, "(a=b"), ProblemKind.BAD_FILTER),
    ],
)
def test_exceptions(error: BaseException, kind: ProblemKind) -> None:
    assert from_exception(error, SERVER, "bind", 2.0).kind is kind


def test_the_cause_is_found_behind_ldap3s_wrapper() -> None:
    """ldap3 raises its own exception while handling the socket's: the context keeps the real one."""
    wrapped = _raised_from(
        TimeoutError("timed out"), LDAPSocketReceiveError("error receiving data: timed out")
    )
    problem = from_exception(wrapped, SERVER, "bind", 2.0)
    assert problem.kind is ProblemKind.TIMEOUT and "within 2 s" in problem.message


# --- read-only guard --------------------------------------------------------------------------


def message(name: str, request: object) -> LDAPMessage:
    ldap_message = LDAPMessage()
    ldap_message["messageID"] = MessageID(1)
    ldap_message["protocolOp"] = ProtocolOp().setComponentByName(name, request)
    return ldap_message


ALLOWED = [
    ("bindRequest", lambda: bind_operation(3, "SIMPLE", "cn=x", "pw")),
    ("searchRequest", lambda: search_operation("dc=x", "(a=b)", SUBTREE, 0, None, 0, 0, False, False, False)),
    ("unbindRequest", lambda: unbind_operation()),
    ("extendedReq", lambda: extended_operation(STARTTLS_OID)),
    ("extendedReq", lambda: extended_operation(WHOAMI_OID)),
]
REFUSED = [
    ("addRequest", lambda: add_operation("cn=y,dc=x", {"objectClass": ["top"]}, False)),
    ("delRequest", lambda: delete_operation("cn=y,dc=x")),
    ("modifyRequest", lambda: modify_operation("cn=y,dc=x", {"sn": [(MODIFY_REPLACE, ["z"])]}, False)),
    ("modDNRequest", lambda: modify_dn_operation("cn=y,dc=x", "cn=z")),
    ("compareRequest", lambda: compare_operation("cn=y,dc=x", "sn", "z", False)),
    ("extendedReq", lambda: extended_operation("1.3.6.1.4.1.4203.1.11.1", to_raw("x"))),  # password modify
    ("extendedReq", lambda: extended_operation("1.3.6.1.4.1.1466.20036")),
]


@pytest.mark.parametrize(("name", "build"), ALLOWED)
def test_guard_lets_read_operations_through(name: str, build) -> None:
    check_message(message(name, build()))


@pytest.mark.parametrize(("name", "build"), REFUSED)
def test_guard_refuses_everything_else(name: str, build) -> None:
    with pytest.raises(WriteAttemptError, match="read-only"):
        check_message(message(name, build()))
