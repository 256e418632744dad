"""The sandbox's only door out: a TCP relay from its loopback to the test directory's ports.

The listening sockets are created inside the sandbox's network namespace by the agent and handed
to this process (which lives in the host's namespace) over the control socket; every connection
accepted on them is forwarded to the same port on the host's 127.0.0.1. Client-to-server bytes
pass through the read-only guard; a write request closes the connection and is recorded.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterable

from tests.sandbox.ldapguard import RequestGuard

CHUNK = 65536
ACCEPT_POLL = 0.2


class LdapRelay:
    """Relays connections from listeners (inside the sandbox) to (host, same port) outside."""

    def __init__(self, listeners: Iterable[socket.socket], host: str = "127.0.0.1") -> None:
        self.listeners = list(listeners)
        self.host = host
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.open: set[socket.socket] = set()
        self.local_ports: set[int] = set()  # our source ports towards slapd: its log names them
        self.violations: list[str] = []
        self.errors: list[str] = []
        self.connections = 0
        self.threads = [
            threading.Thread(target=self._accept_loop, args=(sock,), name="ldap-relay", daemon=True)
            for sock in self.listeners
        ]

    def start(self) -> LdapRelay:
        for thread in self.threads:
            thread.start()
        return self

    def _accept_loop(self, listener: socket.socket) -> None:
        """Accept connections until stopped; each gets an upstream connection and two pumps."""
        listener.settimeout(ACCEPT_POLL)
        port = listener.getsockname()[1]
        while not self.stopping.is_set():
            try:
                inner, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            inner.settimeout(None)
            try:
                outer = socket.create_connection((self.host, port), timeout=10)
            except OSError as err:
                self.errors.append(f"relay to {self.host}:{port}: {err}")
                inner.close()  # the daemon sees the server as down, as it would be
                continue
            outer.settimeout(None)
            with self.lock:
                self.connections += 1
                self.local_ports.add(outer.getsockname()[1])
                self.open.update((inner, outer))
            guard = RequestGuard()
            for source, target, check in ((inner, outer, guard), (outer, inner, None)):
                threading.Thread(target=self._pump, args=(source, target, check), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, guard: RequestGuard | None) -> None:
        """Copy bytes one way until EOF; refuse to forward a write request."""
        try:
            while data := source.recv(CHUNK):
                verdict = guard.feed(data) if guard is not None else None
                if verdict is not None:
                    self.violations.append(verdict)
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            self._close_pair(source, target)

    def _close_pair(self, *sockets: socket.socket) -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with self.lock:
                self.open.discard(sock)
            sock.close()

    def close(self) -> None:
        """Stop accepting and cut every relayed connection."""
        self.stopping.set()
        for listener in self.listeners:
            with contextlib.suppress(OSError):
                listener.close()
        with self.lock:
            remaining = list(self.open)
        self._close_pair(*remaining)
        for thread in self.threads:
            thread.join(timeout=2)
