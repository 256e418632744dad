"""Certificate material for the demo slapd: a per-run CA and a server certificate it signed."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOSTS = ("localhost", "127.0.0.1")


@dataclass(frozen=True)
class ServerCerts:
    """PEM bytes: the CA clients should trust, the server's certificate chain and its key."""

    ca_pem: bytes
    chain_pem: bytes
    key_pem: bytes = field(repr=False)

    def write(self, folder: Path) -> CertFiles:
        """Write the three PEM files into `folder` (the key with mode 0600)."""
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        files = CertFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
        files.ca_file.write_bytes(self.ca_pem)
        files.cert_file.write_bytes(self.chain_pem)
        _write_private(files.key_file, self.key_pem)
        return files


@dataclass(frozen=True)
class CertFiles:
    """Where a ServerCerts was written."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def generate_certs(
    hosts: Sequence[str] = DEFAULT_HOSTS,
    *,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> ServerCerts:
    """A fresh CA and a server certificate for `hosts` (DNS names or IPs), via trustme."""
    try:
        import trustme
    except ImportError:
        if tuple(hosts) != DEFAULT_HOSTS or not_before or not_after:
            raise
        return bundled_certs()
    ca = trustme.CA(organization_name="ldapdiag demo")
    leaf = ca.issue_cert(*hosts, not_before=not_before, not_after=not_after)
    chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
    return ServerCerts(ca.cert_pem.bytes(), chain, leaf.private_key_pem.bytes())


def expired_certs(hosts: Sequence[str] = DEFAULT_HOSTS) -> ServerCerts:
    """A server certificate that expired yesterday (valid the 30 days before)."""
    now = dt.datetime.now(dt.UTC)
    return generate_certs(hosts, not_before=now - dt.timedelta(days=31), not_after=now - dt.timedelta(days=1))


def bundled_certs() -> ServerCerts:
    """python-slapd's fixed test CA and server certificate (localhost, 127.0.0.1, ::1)."""
    import slapd

    folder = Path(slapd.__file__).parent / "certs"
    return ServerCerts(
        (folder / "ca.pem").read_bytes(),
        (folder / "server.pem").read_bytes(),
        (folder / "server.key").read_bytes(),
    )


def _write_private(path: Path, data: bytes) -> None:
    """Create `path` readable by its owner only, then write `data`."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
