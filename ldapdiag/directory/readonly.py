"""Read-only by construction: the one place that decides what ldapdiag may put on the wire.

Every LDAP message ldap3 sends passes through its strategy's `sending()` (Connection.bind,
search, extended, unbind, and ldap3_filter's own search requests alike). ReadOnlyConnection
installs a strategy whose `sending()` lets through only bind, search, unbind and the StartTLS
and WhoAmI extended operations, and refuses everything else before a byte is written.

The strategy also opens the TCP connection itself (`_open_socket`), so that connection errors
keep their type and every address of the name is tried in order, as libldap does.
"""

from __future__ import annotations

import socket
from typing import Any

from ldap3 import AUTO_BIND_NONE, SYNC, Connection, Server
from ldap3.core.exceptions import LDAPSocketOpenError
from ldap3.strategy.sync import SyncStrategy

from ldapdiag.directory.ber_entry import decode_entry, entry_response

STARTTLS_OID = "1.3.6.1.4.1.1466.20037"
WHOAMI_OID = "1.3.6.1.4.1.4203.1.11.3"
ALLOWED_OPERATIONS = frozenset({"bindRequest", "searchRequest", "unbindRequest"})
ALLOWED_EXTENDED = frozenset({STARTTLS_OID, WHOAMI_OID})


class WriteAttemptError(RuntimeError):
    """ldapdiag tried to send something other than bind, search, StartTLS, WhoAmI or unbind."""


def check_message(ldap_message: Any) -> None:
    """Refuse any LDAPMessage that is not bind, search, unbind, StartTLS or WhoAmI."""
    operation = ldap_message["protocolOp"].getName()
    if operation in ALLOWED_OPERATIONS:
        return
    if operation == "extendedReq":
        oid = str(ldap_message["protocolOp"]["extendedReq"]["requestName"])
        if oid in ALLOWED_EXTENDED:
            return
        raise WriteAttemptError(f"ldapdiag is read-only: extended operation {oid} refused")
    raise WriteAttemptError(f"ldapdiag is read-only: {operation} refused")


class ReadOnlyStrategy(SyncStrategy):
    """ldap3's synchronous strategy with the guard and our own socket opening."""

    def __init__(self, connection: Connection, connect_timeout: float) -> None:
        super().__init__(connection)
        self.connect_timeout = connect_timeout
        self.socket_errors: list[tuple[object, OSError]] = []
        self.tcp_connected = False

    def sending(self, ldap_message: Any) -> None:
        check_message(ldap_message)
        super().sending(ldap_message)

    def _get_response(self, message_id: int, timeout: Any) -> Any:
        """SyncStrategy._get_response(), with searchResEntry messages decoded by ber_entry.py.

        Same loop as ldap3's: messages of this request until one that is not an entry, reference
        or intermediate response; a Notice of Disconnection or no data ends the session.
        """
        connection = self.connection
        if not connection.fast_decoder or connection.usage:
            return super()._get_response(message_id, timeout)
        from ldap3.strategy.base import RESPONSE_COMPLETE, SESSION_TERMINATED_BY_SERVER

        responses: list[Any] = []
        while True:
            messages = self.receiving()
            if not messages:
                return SESSION_TERMINATED_BY_SERVER
            for message in messages:
                if not message:
                    continue
                entry = decode_entry(message)
                if entry is not None and entry[0] == message_id:
                    responses.append(entry_response(entry[1], entry[2]))
                    continue
                outcome = self._other(message, message_id)
                if outcome is None:
                    continue
                if not isinstance(outcome, dict):
                    return outcome
                responses.append(outcome)
                if outcome["type"] not in ("searchResEntry", "searchResRef", "intermediateResponse"):
                    responses.append(RESPONSE_COMPLETE)
                    return responses

    def _other(self, message: bytes, message_id: int) -> Any:
        """Any other message, as SyncStrategy._get_response() treats it (ldap3's decoder)."""
        from ldap3.core.exceptions import LDAPExtensionError, LDAPSocketReceiveError
        from ldap3.strategy.base import SESSION_TERMINATED_BY_SERVER, TRANSACTION_ERROR
        from ldap3.utils.asn1 import decode_message_fast

        decoded = decode_message_fast(message)
        response = self.decode_response_fast(decoded)
        received = int(decoded["messageID"])
        if received == message_id:
            return response
        if received == 0:  # RFC 4511 4.4 unsolicited notification
            if response["responseName"] == "1.3.6.1.4.1.1466.20036":  # Notice of Disconnection
                return SESSION_TERMINATED_BY_SERVER
            if response["responseName"] == "2.16.840.1.113719.1.27.103.4":
                return TRANSACTION_ERROR
            self.connection.last_error = "unknown unsolicited notification from server"
            raise LDAPSocketReceiveError(self.connection.last_error)
        if response["type"] == "extendedResp":
            self.connection.last_error = "multiple extended responses to a single extended request"
            raise LDAPExtensionError(self.connection.last_error)
        self.connection.last_error = "invalid messageId received"
        raise LDAPSocketReceiveError(self.connection.last_error)

    def _open_socket(self, address: Any, use_ssl: bool = False, unix_socket: bool = False) -> None:
        """BaseStrategy._open_socket(): connect (each address of the name, in order), then TLS for ldaps."""
        connection = self.connection
        self.tcp_connected = False
        last: OSError | None = None
        for family, kind, proto, target in _addresses(connection.server, address):
            sock = socket.socket(family, kind, proto)
            sock.settimeout(self.connect_timeout)
            try:
                sock.connect(target)
            except OSError as error:
                sock.close()
                self.socket_errors.append((target, error))
                last = error
                continue
            connection.socket = sock
            self.tcp_connected = True
            break
        else:
            raise LDAPSocketOpenError(str(last)) from last
        if use_ssl:  # libldap hand-shakes within the network timeout
            connection.server.tls.wrap_socket(connection, do_handshake=True)
        connection.socket.settimeout(connection.receive_timeout)
        connection.closed = False


def _addresses(server: Server, first: Any) -> list[tuple[int, int, int, Any]]:
    """Every address libldap would try: all getaddrinfo() results for TCP, the path for ldapi."""
    if server.ipc:
        return [(socket.AF_UNIX, socket.SOCK_STREAM, 0, first[4])]
    infos = socket.getaddrinfo(server.host, server.port, type=socket.SOCK_STREAM)
    return [(family, kind, proto, target) for family, kind, proto, _, target in infos]


class ReadOnlyConnection(Connection):
    """An ldap3 Connection that can only bind, search, StartTLS, WhoAmI and unbind.

    No auto-bind, no lazy open, no auto_range, no referral chasing by ldap3: the caller decides.
    """

    def __init__(
        self,
        server: Server,
        *,
        user: str | None,
        password: str | None,
        version: int,
        connect_timeout: float,
        receive_timeout: float,
    ) -> None:
        super().__init__(
            server,
            user=user,
            password=password,
            version=version,
            auto_bind=AUTO_BIND_NONE,
            client_strategy=SYNC,
            read_only=False,  # the guard in sending() is the one place that refuses writes
            receive_timeout=receive_timeout,
            auto_referrals=False,
            auto_range=False,
            return_empty_attributes=False,
            raise_exceptions=False,
        )
        self.strategy = ReadOnlyStrategy(self, connect_timeout)
        self.send = self.strategy.send
        self.open = self.strategy.open
        self.get_response = self.strategy.get_response
        self.post_send_single_response = self.strategy.post_send_single_response
        self.post_send_search = self.strategy.post_send_search

    def __repr__(self) -> str:
        return f"ReadOnlyConnection({self.server.name!r}, user={self.user!r})"

    __str__ = __repr__
