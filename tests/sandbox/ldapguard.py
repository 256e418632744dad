"""The read-only guard: nothing that goes through the sandbox may write to the directory.

Two layers. `RequestGuard` reads the client-to-server bytes of one relayed LDAP connection and
names any write request (add, modify, delete, modify DN, password modify) before it is forwarded,
until the connection switches to TLS. `writes_in_access_log()` checks slapd's stats log afterwards
for write operations on the connections the relay opened, which also covers TLS connections.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

# LDAPMessage protocolOp tags (RFC 4511), [APPLICATION n]
WRITE_OPS = {0x66: "modify", 0x68: "add", 0x4A: "delete", 0x6C: "modify DN"}
EXTENDED_REQUEST = 0x77
STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"
PASSWD_MODIFY_OID = b"1.3.6.1.4.1.4203.1.11.1"
TLS_HANDSHAKE = 0x16
SEQUENCE = 0x30

_ACCEPT = re.compile(r"conn=(\d+) fd=\d+ ACCEPT from IP=[^:]+:(\d+) ")
_WRITE = re.compile(r"conn=(\d+) op=\d+ (ADD|MOD|DEL|MODRDN|PASSMOD)\b")


class RequestGuard:
    """Follows one client-to-server LDAP byte stream; `feed()` names the first write request."""

    def __init__(self) -> None:
        self.buffer = b""
        self.encrypted = False

    def feed(self, data: bytes) -> str | None:
        """A description of a write request completed by `data`, else None."""
        if self.encrypted:
            return None
        self.buffer += data
        while self.buffer:
            if self.buffer[0] == TLS_HANDSHAKE or self.buffer[0] != SEQUENCE:
                self.encrypted = True  # ldaps, or bytes after StartTLS: no longer readable
                return None
            message = _take_element(self.buffer)
            if message is None:
                return None  # wait for more bytes
            content, rest = message
            self.buffer = rest
            verdict = self._inspect(content)
            if verdict is not None:
                return verdict
        return None

    def _inspect(self, content: bytes) -> str | None:
        """Check one LDAPMessage's content (messageID, protocolOp, ...)."""
        message_id = _take_element(content)
        if message_id is None or len(message_id[1]) == 0:
            return None
        operation = message_id[1]
        tag = operation[0]
        if tag in WRITE_OPS:
            return f"LDAP {WRITE_OPS[tag]} request"
        if tag == EXTENDED_REQUEST:
            body = _take_element(operation)
            if body is None:
                return None
            if PASSWD_MODIFY_OID in body[0]:
                return "LDAP password modify request"
            if STARTTLS_OID in body[0]:
                self.encrypted = True
        return None


def _take_element(data: bytes) -> tuple[bytes, bytes] | None:
    """(content, rest) of the BER element at the start of `data`, or None if incomplete."""
    if len(data) < 2:
        return None
    first = data[1]
    if first < 0x80:
        length, header = first, 2
    else:
        count = first & 0x7F
        if len(data) < 2 + count:
            return None
        length, header = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
    if len(data) < header + length:
        return None
    return data[header : header + length], data[header + length :]


def writes_in_access_log(access_log: Path, offset: int, client_ports: Iterable[int]) -> list[str]:
    """slapd stats lines after `offset` that write, on connections from one of `client_ports`."""
    ports = {str(port) for port in client_ports}
    text = access_log.read_bytes()[offset:].decode("utf-8", "replace")
    ours: set[str] = set()
    found = []
    for line in text.splitlines():
        accept = _ACCEPT.search(line)
        if accept and accept.group(2) in ports:
            ours.add(accept.group(1))
        write = _WRITE.search(line)
        if write and write.group(1) in ours:
            found.append(line.strip())
    return found
