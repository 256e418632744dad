"""A tiny plain-LDAP server answering plain searches the way a Windows DC limits them.

Samba 4.17 enforces neither of the limits Windows DCs apply to a search without paging or range
retrieval (tests/integration/test_ad_limits.py proves it), so postfix's and ldapdiag's handling of
them is tested here, against this server: simple binds always succeed; a search returns the
entries of `entries` under the base that match the filter (evaluated with ldapdiag's RFC 4515
parser: equality and substrings case-insensitively, presence, and/or/not), but
- at most `max_page_size` entries without a paged-results control, then sizeLimitExceeded (4),
  as MaxPageSize does; a client sizeLimit below that is honoured the same way;
- with a paged-results control (RFC 2696), pages of the size asked for, at most `max_page_size`
  (a DC lowers a larger page size to MaxPageSize), the cookie being the offset of the next page;
- of a multi-valued attribute more than `max_val_range` values are sent as
  `NAME;range=0-(max_val_range - 1)` with the first values only, as MaxValRange does.
Requests are decoded and replies encoded by hand (BER, RFC 4511): only what these tests send.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterable, Mapping, Sequence

from ldapdiag.directory import filters as f

Entries = Mapping[str, Mapping[str, Sequence[str]]]
PAGED_RESULTS = "1.2.840.113556.1.4.319"


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def _int(tag: int, n: int) -> bytes:
    return _tlv(tag, n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big", signed=True))


def _octets(text: str) -> bytes:
    return _tlv(0x04, text.encode("utf-8"))


def _message(message_id: int, op: bytes) -> bytes:
    return _tlv(0x30, _int(0x02, message_id) + op)


def _result(tag: int, code: int, message: str = "") -> bytes:
    return _tlv(tag, _int(0x0A, code) + _octets("") + _octets(message))


def _paged_done(message_id: int, code: int, cookie: bytes) -> bytes:
    """SearchResultDone carrying the paged-results response control (RFC 2696: size 0, the cookie)."""
    value = _tlv(0x30, _int(0x02, 0) + _tlv(0x04, cookie))
    control = _tlv(0x30, _octets(PAGED_RESULTS) + _tlv(0x04, value))
    return _tlv(0x30, _int(0x02, message_id) + _result(0x65, code) + _tlv(0xA0, control))


def _page_request(controls: bytes) -> tuple[int, bytes] | None:
    """(page size, cookie) of a request's paged-results control, None without one."""
    for _tag, control in _elements(controls):
        parts = _elements(control)
        if parts[0][1] != PAGED_RESULTS.encode():
            continue
        value = next((c for t, c in parts[1:] if t == 0x04), b"")
        size, cookie = _elements(_elements(value)[0][1])
        return int.from_bytes(size[1], "big"), cookie[1]
    return None


def _entry(dn: str, attributes: list[tuple[str, Sequence[str]]]) -> bytes:
    parts = b"".join(
        _tlv(0x30, _octets(name) + _tlv(0x31, b"".join(_octets(v) for v in values)))
        for name, values in attributes
    )
    return _tlv(0x64, _octets(dn) + _tlv(0x30, parts))


def _read_message(stream: socket.socket) -> bytes | None:
    """One BER element from the socket (None at end of file)."""

    def exactly(n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            chunk = stream.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    head = exactly(2)
    if head is None:
        return None
    length = head[1]
    extra = b""
    if length & 0x80:
        extra = exactly(length & 0x7F) or b""
        length = int.from_bytes(extra, "big")
    body = exactly(length)
    return None if body is None else head + extra + body


def _element(data: bytes, offset: int) -> tuple[int, bytes, int]:
    """(tag, content, offset after it) of the BER element at `offset`."""
    tag, length = data[offset], data[offset + 1]
    offset += 2
    if length & 0x80:
        size = length & 0x7F
        length = int.from_bytes(data[offset : offset + size], "big")
        offset += size
    return tag, data[offset : offset + length], offset + length


def _elements(data: bytes) -> list[tuple[int, bytes]]:
    items, offset = [], 0
    while offset < len(data):
        tag, content, offset = _element(data, offset)
        items.append((tag, content))
    return items


def _filter(tag: int, content: bytes) -> f.Filter:
    """RFC 4511 Filter (BER) to ldapdiag's filter nodes."""
    if tag in (0xA0, 0xA1):
        children = tuple(_filter(t, c) for t, c in _elements(content))
        return f.And(children) if tag == 0xA0 else f.Or(children)
    if tag == 0xA2:
        return f.Not(_filter(*_elements(content)[0]))
    if tag == 0x87:
        return f.Present(content.decode())
    parts = _elements(content)
    attribute = parts[0][1].decode()
    if tag == 0xA3:
        return f.Equality(attribute, parts[1][1])
    if tag == 0xA4:
        pieces = _elements(parts[1][1])
        initial = next((c for t, c in pieces if t == 0x80), None)
        final = next((c for t, c in pieces if t == 0x82), None)
        return f.Substrings(attribute, initial, tuple(c for t, c in pieces if t == 0x81), final)
    raise ValueError(f"filter choice {tag:#x} is not served")


def _search_request(content: bytes) -> tuple[str, int, int, f.Filter, list[str]]:
    """(base, scope, sizeLimit, filter, attributes) of a SearchRequest's content."""
    parts = _elements(content)
    attributes = [c.decode() for _t, c in _elements(parts[7][1])]
    return (
        parts[0][1].decode(),
        int.from_bytes(parts[1][1], "big"),
        int.from_bytes(parts[3][1], "big"),
        _filter(*parts[6]),
        attributes,
    )


def lowered(attributes: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """An entry's attributes with names and values lowercased (what matches() compares)."""
    return {name.lower(): [v.lower() for v in vals] for name, vals in attributes.items()}


def matches(node: f.Filter, attributes: Mapping[str, Sequence[str]]) -> bool:
    """The filter on one entry (attribute names case-insensitive, values compared case-insensitively)."""
    return _matches(node, lowered(attributes))


def _matches(node: f.Filter, values: dict[str, list[str]]) -> bool:
    if isinstance(node, f.And):
        return all(_matches(child, values) for child in node.filters)
    if isinstance(node, f.Or):
        return any(_matches(child, values) for child in node.filters)
    if isinstance(node, f.Not):
        return not _matches(node.filter, values)
    if isinstance(node, f.Present):
        return node.attribute.lower() in values or node.attribute.lower() == "objectclass"
    if isinstance(node, f.Equality):
        return node.value.decode().lower() in values.get(node.attribute.lower(), [])
    if isinstance(node, f.Substrings):
        parts = [(node.initial or b"").decode().lower(), *(p.decode().lower() for p in node.any)]
        final = (node.final or b"").decode().lower()
        for value in values.get(node.attribute.lower(), []):
            if not value.startswith(parts[0]) or not value.endswith(final):
                continue
            position = len(parts[0])
            for part in parts[1:]:
                position = value.find(part, position)
                if position < 0:
                    break
                position += len(part)
            else:
                if position <= len(value) - len(final):
                    return True
        return False
    return False


class FakeAdServer:
    """Serves `entries` on 127.0.0.1 (a free port) in daemon threads until close()."""

    def __init__(self, entries: Entries, max_page_size: int = 1000, max_val_range: int = 1500) -> None:
        self.entries = {dn: dict(attrs) for dn, attrs in entries.items()}
        self.max_page_size = max_page_size
        self.max_val_range = max_val_range
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.searches: list[str] = []
        self._lowered = {dn: lowered(attrs) for dn, attrs in self.entries.items()}
        self._dns: dict[str, list[str]] = {}
        for dn in self.entries:
            self._dns.setdefault(dn.lower(), []).append(dn)
        self._index: dict[tuple[str, str], list[str]] = {}  # (attribute, value) -> DNs, entry order
        for dn, values in self._lowered.items():
            for name, vals in values.items():
                for value in dict.fromkeys(vals):
                    self._index.setdefault((name, value), []).append(dn)
        self.pages: list[tuple[str, int, int]] = []  # paged searches: (filter, page size, offset)

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.listener.getsockname()[1]}"

    def start(self) -> FakeAdServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            while (data := _read_message(conn)) is not None:
                _tag, body, _end = _element(data, 0)
                items = _elements(body)
                message_id = int.from_bytes(items[0][1], "big")
                op, content = items[1]
                controls = items[2][1] if len(items) > 2 else b""
                if op == 0x60:  # bindRequest
                    conn.sendall(_message(message_id, _result(0x61, 0)))
                elif op == 0x63:  # searchRequest
                    conn.sendall(self._search(message_id, content, _page_request(controls)))
                elif op == 0x42:  # unbindRequest
                    return
                else:
                    conn.sendall(_message(message_id, _result(0x78, 53, "unwilling")))

    def _search(self, message_id: int, request: bytes, paged: tuple[int, bytes] | None) -> bytes:
        base, scope, size_limit, node, attributes = _search_request(request)
        base = base.lower()
        self.searches.append(f.encode(node))
        wanted = [a.lower() for a in attributes]
        found = []
        indexed = self._candidates(node) if scope != 0 else None
        candidates: Iterable[str] = self._dns.get(base, []) if scope == 0 else self.entries
        if indexed is not None:
            candidates = indexed
        for dn in candidates:
            key = dn.lower()
            in_scope = key == base if scope == 0 else (key == base or key.endswith("," + base))
            if in_scope and _matches(node, self._lowered[dn]):
                found.append((dn, self.entries[dn]))
        if scope == 0 and not found and base not in self._dns:
            return _message(message_id, _result(0x65, 32, "no such object"))
        if paged is not None:
            size = min(paged[0] or self.max_page_size, self.max_page_size)
            start = int(paged[1] or b"0")
            self.pages.append((f.encode(node), size, start))
            out = b"".join(
                _message(message_id, _entry(dn, self._attributes(attributes, wanted)))
                for dn, attributes in found[start : start + size]
            )
            cookie = str(start + size).encode() if start + size < len(found) else b""
            return out + _paged_done(message_id, 0, cookie)
        limits = [n for n in (size_limit, self.max_page_size) if n]
        limit = min(limits) if limits else None
        out = b""
        for dn, attributes in found[:limit]:
            out += _message(message_id, _entry(dn, self._attributes(attributes, wanted)))
        code = 4 if limit is not None and len(found) > limit else 0
        return out + _message(message_id, _result(0x65, code))

    def _candidates(self, node: f.Filter) -> list[str] | None:
        """The entries an equality assertion of the filter (or of its AND) allows; None: all of them."""
        if isinstance(node, f.Equality) and node.attribute.lower() != "objectclass":
            return self._index.get((node.attribute.lower(), node.value.decode().lower()), [])
        if isinstance(node, f.And):
            for child in node.filters:
                found = self._candidates(child)
                if found is not None:
                    return found
        return None

    def _attributes(
        self, attributes: Mapping[str, Sequence[str]], wanted: list[str]
    ) -> list[tuple[str, Sequence[str]]]:
        chosen = []
        for name, values in attributes.items():
            if wanted and "*" not in wanted and name.lower() not in wanted:
                continue
            if "1.1" in wanted and len(wanted) == 1:
                continue
            if len(values) > self.max_val_range:
                chosen.append((f"{name};range=0-{self.max_val_range - 1}", values[: self.max_val_range]))
            else:
                chosen.append((name, values))
        return chosen
