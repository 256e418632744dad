"""TCP relays to a real slapd, for tests that need to break the connection or pin its port.

`Relay` forwards bytes unchanged and can die as a killed slapd does (`allow`, `kill()`), cut every
open connection as a server closing idle ones (`cut_at`, `cut()`), or listen on a port of exactly
five digits (`five_digit_port`: the golden files' widths never depend on the shared slapd's port).
`RestartingRelay` is a slapd that restarts after `allow` requests. The sandbox has its own relay
(tests/sandbox/relay.py): it crosses network namespaces and guards every request.
"""

from __future__ import annotations

import contextlib
import random
import select
import socket
import threading

_RST = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # SO_LINGER on, 0 s: close() sends a reset


def _listen(five_digit_port: bool) -> socket.socket:
    """A listener on 127.0.0.1: any free port, or one of 10000-32767 (below Linux's ephemeral
    range, 32768-60999, so no kernel-assigned port collides with it)."""
    if not five_digit_port:
        return socket.create_server(("127.0.0.1", 0), backlog=16)
    rng = random.Random()
    for _attempt in range(100):
        with contextlib.suppress(OSError):
            return socket.create_server(("127.0.0.1", rng.randint(10000, 32767)), backlog=16)
    raise RuntimeError("no free 5-digit port for the relay")


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RST)
        sock.close()


class Relay:
    """A TCP relay to a real slapd that forwards `allow` client requests, then dies like a killed
    slapd: every open connection is cut and the port refuses new ones. allow=None: never dies.
    cut_at=N: the Nth request is not forwarded; every open connection is cut instead (cut(): the
    port stays open)."""

    def __init__(
        self, target: str, allow: int | None = None, cut_at: int | None = None, five_digit_port: bool = False
    ) -> None:
        host, port = target.removeprefix("ldap://").rsplit(":", 1)
        self.target = (host, int(port))
        self.allow = allow
        self.cut_at = cut_at
        self.requests = 0
        self.dead = threading.Event()
        self.listener = _listen(five_digit_port)
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.RLock()  # kill() runs with it held
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.dead.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        pair = {client: upstream, upstream: client}
        try:
            while not self.dead.is_set():
                ready, _, _ = select.select(list(pair), [], [], 0.2)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client:
                        with self.lock:
                            self.requests += 1
                            if self.allow is not None and self.requests > self.allow:
                                self.kill()
                                return
                            if self.requests == self.cut_at:
                                self.cut()
                                return
                    pair[sock].sendall(data)
        except (OSError, ValueError):  # ValueError: select() on a socket cut() closed meanwhile
            return
        finally:
            client.close()
            upstream.close()

    def kill(self) -> None:
        """Die: cut every connection (RST) and stop listening."""
        self.dead.set()
        with contextlib.suppress(OSError):  # wakes the accept() under way: no connection is taken after
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.cut()

    def cut(self) -> None:
        """Cut every open connection (RST), as a server closing idle connections; new ones are
        still accepted."""
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for sock in sockets:
            _reset(sock)


class RestartingRelay(Relay):
    """A relay whose slapd "restarts" after `allow` requests: open connections are cut (RST), the
    port keeps accepting, and new connections reach slapd again."""

    def kill(self) -> None:
        self.cut()
        self.allow = None

    def stop(self) -> None:
        self.dead.set()
        self.listener.close()
