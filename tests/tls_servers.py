"""Servers with particular certificates (or none), and sockets that misbehave, for the directory tests.

Session fixtures: each slapd starts once for the whole suite. The certificates come from
ldapdiag.demo.certs (trustme): an expired one, one for another IP address, one with DNS names only,
and a CA that signed none of them.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ldapdiag.demo import RunningDirectory, expired_certs, generate_certs, serve_scenario
from tests.ldap_server import BASIC_SETUP, missing_ldap_tools


def _serve(**options: object) -> Iterator[RunningDirectory]:
    missing = missing_ldap_tools()
    if missing:
        pytest.skip(f"{missing} is not installed (Debian: slapd, ldap-utils)")
    with serve_scenario(BASIC_SETUP, **options) as directory:  # type: ignore[arg-type]
        yield directory


@pytest.fixture(scope="session")
def plain_directory() -> Iterator[RunningDirectory]:
    """basic-setup on a slapd without any TLS: StartTLS is refused, there is no ldaps port."""
    yield from _serve(tls=False)


@pytest.fixture(scope="session")
def expired_directory() -> Iterator[RunningDirectory]:
    """basic-setup with a certificate (localhost, 127.0.0.1) that expired yesterday."""
    yield from _serve(certs=expired_certs())


@pytest.fixture(scope="session")
def other_ip_directory() -> Iterator[RunningDirectory]:
    """basic-setup with a certificate for 127.0.0.2 only, served on 127.0.0.1 (an IP SAN mismatch)."""
    yield from _serve(certs=generate_certs(("127.0.0.2",)))


@pytest.fixture(scope="session")
def dns_only_directory() -> Iterator[RunningDirectory]:
    """basic-setup with a certificate for the name localhost only, reached by its IP address."""
    yield from _serve(certs=generate_certs(("localhost",)))


@pytest.fixture(scope="session")
def other_ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA certificate that signed none of the servers' certificates."""
    path = tmp_path_factory.mktemp("other-ca") / "ca.pem"
    path.write_bytes(generate_certs().ca_pem)
    return path


@pytest.fixture(scope="session")
def closed_port() -> int:
    """A local TCP port nothing listens on."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


@dataclass
class SilentServer:
    """A TCP server that accepts connections and never sends a byte."""

    port: int
    accepted: list[socket.socket]

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def silent_server() -> Iterator[SilentServer]:
    """Accepts every connection, reads nothing, answers nothing, until the session ends."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    server = SilentServer(listener.getsockname()[1], [])

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            server.accepted.append(connection)

    thread = threading.Thread(target=accept, name="silent-ldap-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        listener.close()
        for connection in server.accepted:
            connection.close()
        thread.join(timeout=2)
