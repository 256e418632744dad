"""DNS answers for smtpd's reject_unknown_sender_domain / reject_unknown_recipient_domain.

Mirrors dns/dns_lookup.c `dns_lookup_rl()` as smtpd_check.c `reject_unknown_mailhost()` calls it:
MX, then A, then AAAA, stopping at the first success, at a null MX (`MX 0 .`) or at a malformed
reply; otherwise the most hopeful status of the three wins (DNS_RETRY over DNS_NOTFOUND).

ldapdiag never invents a DNS answer: a real query goes to the nameservers of /etc/resolv.conf
(or the ones given), from the machine that runs ldapdiag. Standard library only (UDP, TCP when
the reply is truncated).
"""

from __future__ import annotations

import random
import socket
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

TYPE_A = 1
TYPE_CNAME = 5
TYPE_MX = 15
TYPE_AAAA = 28
TYPE_NAMES = {TYPE_A: "A", TYPE_MX: "MX", TYPE_AAAA: "AAAA"}

# dns.h status codes, ordered as postfix orders them (higher is more hopeful)
DNS_NOTFOUND = -6
DNS_NULLMX = -5
DNS_FAIL = -4
DNS_INVAL = -3
DNS_RETRY = -2
DNS_POLICY = -1
DNS_OK = 0
STATUS_NAMES = {
    DNS_NOTFOUND: "not found",
    DNS_NULLMX: "null MX",
    DNS_FAIL: "failed",
    DNS_INVAL: "malformed reply",
    DNS_RETRY: "try again",
    DNS_POLICY: "policy",
    DNS_OK: "ok",
}


@dataclass(frozen=True)
class DnsAnswer:
    """The outcome of one mail-host lookup and what was asked on the way."""

    name: str
    status: int
    queries: tuple[str, ...] = field(default=())  # "MX example.net: ok (1 record)" ...

    @property
    def status_name(self) -> str:
        """The dns.h status as words."""
        return STATUS_NAMES[self.status]


class MailhostResolver(Protocol):
    """What reject_unknown_mailhost() asks the DNS."""

    def mailhost(self, name: str) -> DnsAnswer:
        """dns_lookup_l(name, MX, A, AAAA) with the STOP_OK/INVAL/NULLMX flags."""
        ...


def _encode_name(name: str) -> bytes:
    labels = [label for label in name.rstrip(".").split(".") if label]
    return b"".join(bytes([len(p)]) + p for p in (label.encode("ascii") for label in labels)) + b"\0"


def _skip_name(packet: bytes, offset: int) -> int:
    """The offset after a (possibly compressed) name; ValueError when malformed."""
    while True:
        if offset >= len(packet):
            raise ValueError("name runs past the packet")
        length = packet[offset]
        if length & 0xC0 == 0xC0:
            return offset + 2
        if length == 0:
            return offset + 1
        offset += 1 + length


def _read_name(packet: bytes, offset: int, depth: int = 0) -> str:
    """A (possibly compressed) name as text."""
    labels: list[str] = []
    while depth < 32:
        length = packet[offset]
        if length & 0xC0 == 0xC0:
            pointer = struct.unpack("!H", packet[offset : offset + 2])[0] & 0x3FFF
            rest = _read_name(packet, pointer, depth + 1)
            return ".".join([*labels, rest]) if rest else ".".join(labels)
        if length == 0:
            return ".".join(labels)
        labels.append(packet[offset + 1 : offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length
    raise ValueError("compression loop")


@dataclass
class StdlibResolver:
    """A stub resolver: nameservers from /etc/resolv.conf unless given, `timeout` s per try."""

    nameservers: tuple[str, ...] = ()
    port: int = 53
    timeout: float = 2.0
    attempts: int = 2

    def __post_init__(self) -> None:
        if not self.nameservers:
            self.nameservers = read_resolv_conf()

    def query(self, name: str, qtype: int) -> tuple[int, list[tuple[int, bytes, int]]]:
        """(status, [(type, packet, rdata offset)]) for one question."""
        question = _encode_name(name) + struct.pack("!HH", qtype, 1)
        for _attempt in range(self.attempts):
            for server in self.nameservers:
                ident = random.randrange(65536)
                packet = struct.pack("!6H", ident, 0x0100, 1, 0, 0, 0) + question
                reply = self._udp(server, packet, ident)
                if reply is not None and reply[2] & 0x02:  # truncated: ask again over TCP
                    reply = self._tcp(server, packet) or reply
                if reply is not None:
                    return self._parse(reply, qtype)
        return DNS_RETRY, []

    def _udp(self, server: str, packet: bytes, ident: int) -> bytes | None:
        family = socket.AF_INET6 if ":" in server else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.settimeout(self.timeout)
            try:
                sock.sendto(packet, (server, self.port))
                while True:
                    reply, _peer = sock.recvfrom(65535)
                    if len(reply) >= 12 and struct.unpack("!H", reply[:2])[0] == ident:
                        return reply
            except OSError:
                return None

    def _tcp(self, server: str, packet: bytes) -> bytes | None:
        try:
            with socket.create_connection((server, self.port), timeout=self.timeout) as sock:
                sock.sendall(struct.pack("!H", len(packet)) + packet)
                data = b""
                while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
                    chunk = sock.recv(65535)
                    if not chunk:
                        return None
                    data += chunk
                return data[2:]
        except OSError:
            return None

    @staticmethod
    def _parse(reply: bytes, qtype: int) -> tuple[int, list[tuple[int, bytes, int]]]:
        _ident, flags, qdcount, ancount = struct.unpack("!4H", reply[:8])
        rcode = flags & 0x0F
        if rcode == 3:
            return DNS_NOTFOUND, []
        if rcode == 2:
            return DNS_RETRY, []
        if rcode != 0:
            return DNS_FAIL, []
        try:
            offset = 12
            for _ in range(qdcount):
                offset = _skip_name(reply, offset) + 4
            records = []
            for _ in range(ancount):
                offset = _skip_name(reply, offset)
                rtype, _cls, _ttl, length = struct.unpack("!HHIH", reply[offset : offset + 10])
                offset += 10
                if rtype == qtype:
                    records.append((rtype, reply, offset))
                offset += length
        except (ValueError, struct.error, IndexError):
            return DNS_RETRY, []
        return (DNS_OK, records) if records else (DNS_NOTFOUND, [])

    def mailhost(self, name: str) -> DnsAnswer:
        """dns_lookup_l(name, STOP_OK|STOP_INVAL|STOP_NULLMX|STOP_MX_POLICY, MX, A, AAAA)."""
        try:
            ascii_name = name if name.isascii() else name.encode("idna").decode("ascii")
        except UnicodeError:
            return DnsAnswer(name, DNS_NOTFOUND, (f"{name}: not a valid IDN",))
        best = DNS_NOTFOUND - 1
        asked: list[str] = []
        for qtype in (TYPE_MX, TYPE_A, TYPE_AAAA):
            status, records = self.query(ascii_name, qtype)
            if qtype == TYPE_MX and status == DNS_OK:
                status = self._mx_status(records)
            asked.append(f"{TYPE_NAMES[qtype]} {ascii_name}: {STATUS_NAMES[status]} ({len(records)} records)")
            if status in (DNS_OK, DNS_INVAL, DNS_NULLMX) or (qtype == TYPE_MX and status == DNS_POLICY):
                return DnsAnswer(name, status, tuple(asked))
            best = max(best, status)
        return DnsAnswer(name, best, tuple(asked))

    @staticmethod
    def _mx_status(records: list[tuple[int, bytes, int]]) -> int:
        """dns_get_rr(): an MX whose exchange is the root is a null MX."""
        for _rtype, packet, offset in records:
            try:
                if _read_name(packet, offset + 2) == "":
                    return DNS_NULLMX
            except (ValueError, IndexError):
                return DNS_RETRY
        return DNS_OK


def read_resolv_conf(path: Path = Path("/etc/resolv.conf")) -> tuple[str, ...]:
    """The `nameserver` lines of resolv.conf (127.0.0.1 when there are none, as libresolv does)."""
    servers = []
    try:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "nameserver":
                servers.append(parts[1].split("%")[0])
    except OSError:
        pass
    return tuple(servers) or ("127.0.0.1",)
