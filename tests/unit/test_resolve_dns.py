"""The stub resolver behind reject_unknown_sender_domain, against a local fake DNS server."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ldapdiag.postfix.dns import (
    DNS_NOTFOUND,
    DNS_NULLMX,
    DNS_OK,
    DNS_RETRY,
    TYPE_A,
    TYPE_MX,
    StdlibResolver,
    read_resolv_conf,
)

# name -> {qtype: "answer" | "nullmx" | "nodata"} ; "nx" NXDOMAIN, "servfail", "silent"
ZONE: dict[str, object] = {
    "mx.test": {TYPE_MX: "answer"},
    "aonly.test": {TYPE_A: "answer"},
    "nullmx.test": {TYPE_MX: "nullmx"},
    "broken.test": "servfail",
    "silent.test": "silent",
}


def _name(packet: bytes) -> tuple[str, int, int]:
    labels, offset = [], 12
    while packet[offset]:
        labels.append(packet[offset + 1 : offset + 1 + packet[offset]].decode())
        offset += 1 + packet[offset]
    qtype = struct.unpack("!H", packet[offset + 1 : offset + 3])[0]
    return ".".join(labels), qtype, offset + 5


def _answer(query: bytes) -> bytes | None:
    ident = query[:2]
    name, qtype, end = _name(query)
    entry = ZONE.get(name, "nx")
    if entry == "silent":
        return None
    rcode = {"nx": 3, "servfail": 2}.get(entry if isinstance(entry, str) else "", 0)
    records = b""
    count = 0
    if isinstance(entry, dict) and qtype in entry:
        kind = entry[qtype]
        if qtype == TYPE_MX:
            exchange = b"\0" if kind == "nullmx" else b"\x02mx\xc0\x0c"
            rdata = struct.pack("!H", 0 if kind == "nullmx" else 10) + exchange
        else:
            rdata = socket.inet_aton("192.0.2.1")
        records = struct.pack("!HHHIH", 0xC00C, qtype, 1, 60, len(rdata)) + rdata
        count = 1
    header = ident + struct.pack("!5H", 0x8180 | rcode, 1, count, 0, 0)
    return header + query[12:end] + records


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                query, peer = sock.recvfrom(4096)
            except OSError:
                return
            reply = _answer(query)
            if reply is not None:
                sock.sendto(reply, peer)

    threading.Thread(target=serve, daemon=True).start()
    yield sock.getsockname()[1]
    sock.close()


@pytest.mark.parametrize(
    ("name", "status", "asked"),
    [
        ("mx.test", DNS_OK, 1),  # stops at the first success
        ("aonly.test", DNS_OK, 2),  # MX: no data, then A
        ("nullmx.test", DNS_NULLMX, 1),  # stops at the null MX
        ("nowhere.test", DNS_NOTFOUND, 3),  # NXDOMAIN for MX, A and AAAA
        ("broken.test", DNS_RETRY, 3),  # SERVFAIL: try again later
        ("silent.test", DNS_RETRY, 3),  # no answer at all
    ],
)
def test_mailhost_lookup(server: int, name: str, status: int, asked: int) -> None:
    resolver = StdlibResolver(("127.0.0.1",), port=server, timeout=0.2, attempts=1)
    answer = resolver.mailhost(name)
    assert answer.status == status, answer.queries
    assert len(answer.queries) == asked


def test_nameservers_from_resolv_conf(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# comment\nsearch example.org\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\n")
    assert read_resolv_conf(conf) == ("192.0.2.53", "fe80::1")
    assert read_resolv_conf(tmp_path / "missing") == ("127.0.0.1",)
