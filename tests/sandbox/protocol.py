"""The control channel between the harness and its agent: length-prefixed JSON over a UNIX socket pair.

A message may carry file descriptors (the relay's listening sockets travel this way); they ride
on the 4-byte header.
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Sequence
from typing import Any

HEADER = struct.Struct("!I")
MAX_FDS = 16


class ChannelClosed(ConnectionError):
    """The other side went away."""


def send(sock: socket.socket, message: Any, fds: Sequence[int] = ()) -> None:
    """Send one JSON-serialisable message, optionally with file descriptors."""
    payload = json.dumps(message).encode()
    header = HEADER.pack(len(payload))
    if fds:
        socket.send_fds(sock, [header], list(fds))
        sock.sendall(payload)
    else:
        sock.sendall(header + payload)


def receive(sock: socket.socket) -> tuple[Any, list[int]]:
    """The next message and the descriptors that came with it."""
    header = b""
    fds: list[int] = []
    while len(header) < HEADER.size:
        data, more, _flags, _addr = socket.recv_fds(sock, HEADER.size - len(header), MAX_FDS)
        if not data:
            raise ChannelClosed("control channel closed")
        header += data
        fds += more
    (length,) = HEADER.unpack(header)
    payload = bytearray()
    while len(payload) < length:
        chunk = sock.recv(min(length - len(payload), 1 << 20))
        if not chunk:
            raise ChannelClosed("control channel closed mid-message")
        payload += chunk
    return json.loads(payload), fds
