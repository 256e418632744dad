"""A DNS stub for the sandbox: A and MX for its test domains, NXDOMAIN for every other name.

postfix's `reject_unknown_sender_domain` (DMS's sender restrictions) needs the sender domain in
DNS, and real DNS must never be asked. Names under a known domain get `A UNROUTABLE_IP` and
`MX 10 <domain>`; other record types of known names get an empty answer (NODATA); `hosts` names get
their own A record (e.g. an AD domain controller's name -> 127.0.0.1, where the relay listens). UDP only: the
answers are far below 512 bytes.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterable, Mapping

TYPE_A = 1
TYPE_MX = 15
CLASS_IN = 1
RCODE_NXDOMAIN = 3
RCODE_FORMERR = 1
TTL = 60


class DnsStub:
    """A UDP DNS server on (address, port) answering from a fixed set of domains, in a daemon thread."""

    def __init__(
        self,
        domains: Iterable[str],
        address: str,
        answer_ip: str,
        port: int = 53,
        hosts: Mapping[str, str] | None = None,
    ) -> None:
        self.domains = {d.lower().rstrip(".") for d in domains if d}
        self.answer_ip = answer_ip
        self.hosts = {name.lower().rstrip("."): ip for name, ip in (hosts or {}).items()}  # A records by name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, port))
        self.thread = threading.Thread(target=self._serve, name="dns-stub", daemon=True)

    def start(self) -> DnsStub:
        self.thread.start()
        return self

    def _serve(self) -> None:
        """Answer queries until the socket is closed."""
        while True:
            try:
                query, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            reply = self.answer(query)
            if reply is not None:
                self.sock.sendto(reply, peer)

    def known(self, name: str) -> str | None:
        """The configured domain `name` is or lies under, if any."""
        name = name.lower().rstrip(".")
        for domain in self.domains:
            if name == domain or name.endswith("." + domain):
                return domain
        return None

    def answer(self, query: bytes) -> bytes | None:
        """The response to one query packet (None for garbage)."""
        if len(query) < 12:
            return None
        ident, flags, qdcount = struct.unpack("!HHH", query[:6])
        parsed = _question(query) if qdcount == 1 else None
        if parsed is None:
            return struct.pack("!6H", ident, 0x8000 | (flags & 0x0100) | RCODE_FORMERR, 0, 0, 0, 0)
        name, qtype, end = parsed
        domain = self.known(name)
        answers: list[bytes] = []
        host_ip = self.hosts.get(name.lower().rstrip("."))
        if host_ip is not None:
            domain = domain or name
            if qtype == TYPE_A:
                answers.append(_record(TYPE_A, socket.inet_aton(host_ip)))
        elif domain is not None and qtype == TYPE_A:
            answers.append(_record(TYPE_A, socket.inet_aton(self.answer_ip)))
        elif domain is not None and qtype == TYPE_MX and name.lower().rstrip(".") == domain:
            answers.append(_record(TYPE_MX, struct.pack("!H", 10) + _encode_name(domain)))
        rcode = RCODE_NXDOMAIN if domain is None else 0
        header = struct.pack("!6H", ident, 0x8400 | (flags & 0x0100) | 0x0080 | rcode, 1, len(answers), 0, 0)
        return header + query[12:end] + b"".join(answers)

    def close(self) -> None:
        self.sock.close()


def _question(packet: bytes) -> tuple[str, int, int] | None:
    """(name, qtype, end offset) of the first question, or None when malformed."""
    labels: list[str] = []
    offset = 12
    while True:
        if offset >= len(packet):
            return None
        length = packet[offset]
        offset += 1
        if length == 0:
            break
        if length > 63 or offset + length > len(packet):
            return None
        labels.append(packet[offset : offset + length].decode("ascii", "replace"))
        offset += length
    if offset + 4 > len(packet):
        return None
    qtype, _qclass = struct.unpack("!HH", packet[offset : offset + 4])
    return ".".join(labels), qtype, offset + 4


def _encode_name(name: str) -> bytes:
    """A domain name in DNS wire format."""
    return b"".join(bytes([len(p)]) + p.encode("ascii") for p in name.split(".") if p) + b"\0"


def _record(rtype: int, rdata: bytes) -> bytes:
    """An answer record for the question's name (compression pointer to offset 12)."""
    return struct.pack("!HHHIH", 0xC00C, rtype, CLASS_IN, TTL, len(rdata)) + rdata
