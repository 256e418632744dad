"""Sending our own filters through ldap3, exactly as libldap's ldap_search_ext() would encode them.

ldap3 2.9.1 only sends filters its own parser (`ldap3.operation.search.parse_filter`) accepts, and
that parser refuses `(|)`, `(&)` and `mail=x`, and its pyasn1 `And`/`Or` types refuse empty sets.
So this module builds the pyasn1 `Filter` itself from a `filters` tree, with local subclasses of
ldap3's RFC 4511 types (`SET SIZE (0..MAX)` as RFC 4526 allows). search() sends the same bytes
faster: `encode_filter()` writes the filter's BER by hand (tests/unit/test_ber_encoding.py holds
it to ldap3's encoding), carried into the SearchRequest as a pyasn1 `Any`, and the message goes
through the strategy's `sending()` (the read-only guard) as `Connection.search` would send it.
Nothing in ldap3 is patched; other callers of ldap3 see no change.

The empty filter (`""`, see filters.EmptyFilter) makes libldap send a SearchRequest without any
filter element; slapd 2.5 answers with a notice of disconnection (protocolError, "decoding attrs
error") and closes the connection. `search()` sends that same malformed request, so the caller
sees what the server does with it (ldap3 raises LDAPSessionTerminatedByServerError for slapd).
"""

from __future__ import annotations

import select
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from ldap3 import BASE, DEREF_ALWAYS, DEREF_BASE, DEREF_NEVER, DEREF_SEARCH, LEVEL, SUBTREE, Connection
from ldap3.core.exceptions import (
    LDAPException,
    LDAPSessionTerminatedByServerError,
    LDAPSocketOpenError,
    LDAPSocketReceiveError,
    LDAPSocketSendError,
    communication_exception_factory,
)
from ldap3.protocol import rfc4511 as rfc
from ldap3.strategy.sync import SyncStrategy
from pyasn1.type import namedtype, univ

from ldapdiag.directory import filters as f
from ldapdiag.directory.ber_entry import decode_entry, entry_response
from ldapdiag.directory.filters import escape_value, parse

SCOPES: Mapping[str | int, int] = {BASE: 0, LEVEL: 1, SUBTREE: 2, 0: 0, 1: 1, 2: 2}
DEREFS: Mapping[str | int, int] = {
    DEREF_NEVER: 0,
    DEREF_SEARCH: 1,
    DEREF_BASE: 2,
    DEREF_ALWAYS: 3,
    0: 0,
    1: 1,
    2: 2,
    3: 3,
}


# ---------------------------------------------------------------------------------------------
# pyasn1 types: ldap3's RFC 4511 types, with empty AND/OR allowed and byte-safe substrings


class _TextOfBytes:
    """str() of a value as RFC 4515 escapes: ldap3 logs substrings with str(), which fails on non-UTF-8."""

    def __str__(self) -> str:
        return escape_value(self.asOctets())  # type: ignore[attr-defined]


class _Initial(_TextOfBytes, rfc.Initial):
    """initial [0] AssertionValue."""


class _Any(_TextOfBytes, rfc.Any):
    """any [1] AssertionValue."""


class _Final(_TextOfBytes, rfc.Final):
    """final [2] AssertionValue."""


class _Substring(rfc.Substring):
    """substring CHOICE { initial, any, final }."""

    componentType = namedtype.NamedTypes(
        namedtype.NamedType("initial", _Initial()),
        namedtype.NamedType("any", _Any()),
        namedtype.NamedType("final", _Final()),
    )


class _Substrings(rfc.Substrings):
    """SEQUENCE SIZE (1..MAX) OF substring."""

    componentType = _Substring()


class _SubstringFilter(rfc.SubstringFilter):
    """substrings [4] SubstringFilter."""

    componentType = namedtype.NamedTypes(
        namedtype.NamedType("type", rfc.AttributeDescription()),
        namedtype.NamedType("substrings", _Substrings()),
    )


class _And(rfc.And):
    """and [0] SET SIZE (0..MAX) OF Filter (RFC 4526: the empty AND is absolute true)."""

    subtypeSpec = univ.SetOf.subtypeSpec


class _Or(rfc.Or):
    """or [1] SET SIZE (0..MAX) OF Filter (RFC 4526: the empty OR is absolute false)."""

    subtypeSpec = univ.SetOf.subtypeSpec


class _Not(rfc.Not):
    """not [2] Filter (explicitly tagged, as in ldap3)."""


class LdapFilter(rfc.Filter):
    """RFC 4511 Filter as libldap sends it; drop-in for ldap3's `Filter` in a SearchRequest."""

    componentType = namedtype.NamedTypes(
        namedtype.NamedType("and", _And()),
        namedtype.NamedType("or", _Or()),
        namedtype.NamedType("notFilter", _Not()),
        namedtype.NamedType("equalityMatch", rfc.EqualityMatch()),
        namedtype.NamedType("substringFilter", _SubstringFilter()),
        namedtype.NamedType("greaterOrEqual", rfc.GreaterOrEqual()),
        namedtype.NamedType("lessOrEqual", rfc.LessOrEqual()),
        namedtype.NamedType("present", rfc.Present()),
        namedtype.NamedType("approxMatch", rfc.ApproxMatch()),
        namedtype.NamedType("extensibleMatch", rfc.ExtensibleMatch()),
    )


_And.componentType = LdapFilter()
_Or.componentType = LdapFilter()
_Not.componentType = namedtype.NamedTypes(namedtype.NamedType("innerNotFilter", LdapFilter()))


class _SearchRequestWithoutFilter(rfc.SearchRequest):
    """A SearchRequest lacking its filter: what ldap_search_ext() sends for the filter ""."""

    componentType = namedtype.NamedTypes(
        *(named for named in rfc.SearchRequest.componentType.namedTypes if named.name != "filter")
    )


# ---------------------------------------------------------------------------------------------
# filter tree -> pyasn1


def to_ldap3_filter(node: f.Filter) -> LdapFilter:
    """The BER filter ldap_pvt_put_filter() writes for this tree, as a pyasn1 value ldap3 can send."""
    result = LdapFilter()
    match node:
        case f.EmptyFilter():
            raise ValueError("the empty filter has no BER form: libldap leaves it out of the request")
        case f.And(children):
            result["and"] = _boolean(_And(), children)
        case f.Or(children):
            result["or"] = _boolean(_Or(), children)
        case f.Not(inner):
            negation = _Not()
            negation["innerNotFilter"] = to_ldap3_filter(inner)
            result["notFilter"] = negation
        case f.Present(attribute):
            result["present"] = rfc.Present(attribute)
        case f.Substrings():
            result["substringFilter"] = _substring_filter(node)
        case f.Extensible():
            result["extensibleMatch"] = _extensible_match(node)
        case f.Equality() | f.GreaterOrEqual() | f.LessOrEqual() | f.Approx():
            name, kind = _ASSERTIONS[type(node)]
            result[name] = _assertion(kind(), node.attribute, node.value)
        case _:
            raise TypeError(f"not a filter: {node!r}")
    return result


_ASSERTIONS: dict[type, tuple[str, type]] = {
    f.Equality: ("equalityMatch", rfc.EqualityMatch),
    f.GreaterOrEqual: ("greaterOrEqual", rfc.GreaterOrEqual),
    f.LessOrEqual: ("lessOrEqual", rfc.LessOrEqual),
    f.Approx: ("approxMatch", rfc.ApproxMatch),
}


def _boolean(container: univ.SetOf, children: Sequence[f.Filter]) -> univ.SetOf:
    """AND/OR set in the order of the text (libldap does not sort)."""
    container.clear()
    for position, child in enumerate(children):
        container[position] = to_ldap3_filter(child)
    return container


def _assertion(ava: univ.Sequence, attribute: str, value: bytes) -> univ.Sequence:
    """AttributeValueAssertion."""
    ava["attributeDesc"] = rfc.AttributeDescription(attribute)
    ava["assertionValue"] = rfc.AssertionValue(value)
    return ava


def _substring_filter(node: f.Substrings) -> _SubstringFilter:
    """SubstringFilter: initial, any..., final in that order (put_substring_filter)."""
    parts: list[tuple[str, univ.OctetString]] = []
    if node.initial is not None:
        parts.append(("initial", _Initial(node.initial)))
    parts.extend(("any", _Any(part)) for part in node.any)
    if node.final is not None:
        parts.append(("final", _Final(node.final)))
    substrings = _Substrings()
    for position, (name, value) in enumerate(parts):
        choice = _Substring()
        choice[name] = value
        substrings[position] = choice
    result = _SubstringFilter()
    result["type"] = rfc.AttributeDescription(node.attribute)
    result["substrings"] = substrings
    return result


def _extensible_match(node: f.Extensible) -> rfc.ExtensibleMatch:
    """MatchingRuleAssertion; dnAttributes only when set, as libldap writes it."""
    match = rfc.ExtensibleMatch()
    if node.rule:
        match["matchingRule"] = rfc.MatchingRule(node.rule)
    if node.attribute:
        match["type"] = rfc.Type(node.attribute)
    match["matchValue"] = rfc.MatchValue(node.value)
    if node.dn_attributes:
        match["dnAttributes"] = rfc.DnAttributes(True)
    return match


# ---------------------------------------------------------------------------------------------
# filter tree -> BER bytes directly (what ldap3's encoder makes of to_ldap3_filter(), much faster)


def _tlv(tag: int, content: bytes) -> bytes:
    """One BER element with a definite length, short form below 128 (pyasn1's encodeLength)."""
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(octets))) + octets + content


_AVA_TAGS: dict[type, int] = {
    f.Equality: 0xA3,  # equalityMatch [3]
    f.GreaterOrEqual: 0xA5,  # greaterOrEqual [5]
    f.LessOrEqual: 0xA6,  # lessOrEqual [6]
    f.Approx: 0xA8,  # approxMatch [8]
}


def encode_filter(node: f.Filter) -> bytes:
    """The BER of the Filter ldap_pvt_put_filter() writes: byte for byte ldap3's encoding of
    to_ldap3_filter(node) (RFC 4511 4.5.1, tags in order of the text, definite lengths)."""
    tag = _AVA_TAGS.get(type(node))
    if tag is not None:
        return _tlv(tag, _tlv(0x04, node.attribute.encode()) + _tlv(0x04, node.value))  # type: ignore[attr-defined]
    match node:
        case f.And(children):
            return _tlv(0xA0, _encode_children(children))
        case f.Or(children):
            return _tlv(0xA1, _encode_children(children))
        case f.Not(inner):
            return _tlv(0xA2, encode_filter(inner))
        case f.Present(attribute):
            return _tlv(0x87, attribute.encode())
        case f.Substrings(attribute, initial, middle, final):
            parts = b"" if initial is None else _tlv(0x80, initial)
            parts += b"".join(_tlv(0x81, part) for part in middle)
            parts += b"" if final is None else _tlv(0x82, final)
            return _tlv(0xA4, _tlv(0x04, attribute.encode()) + _tlv(0x30, parts))
        case f.Extensible(attribute, rule, value, dn_attributes):
            content = _tlv(0x81, rule.encode()) if rule else b""
            content += _tlv(0x82, attribute.encode()) if attribute else b""
            content += _tlv(0x83, value)
            content += b"\x84\x01\xff" if dn_attributes else b""
            return _tlv(0xA9, content)
        case f.EmptyFilter():
            raise ValueError("the empty filter has no BER form: libldap leaves it out of the request")
    raise TypeError(f"not a filter: {node!r}")


def _encode_children(children: Sequence[f.Filter]) -> bytes:
    """encode_filter() of each child, joined; a short equality (the batches' thousands) inline."""
    parts = []
    for child in children:
        if type(child) is f.Equality:
            name, value = child.attribute.encode(), child.value
            size = len(name) + len(value) + 4
            if size < 0x80:  # every length in the short form
                parts.append(bytes((0xA3, size, 0x04, len(name))) + name + bytes((0x04, len(value))) + value)
                continue
        parts.append(encode_filter(child))
    return b"".join(parts)


class _EncodedFilterSearchRequest(rfc.SearchRequest):
    """A SearchRequest whose filter is already BER (encode_filter): pyasn1 copies the bytes."""

    componentType = namedtype.NamedTypes(
        *(
            namedtype.NamedType("filter", univ.Any()) if named.name == "filter" else named
            for named in rfc.SearchRequest.componentType.namedTypes
        )
    )


# ---------------------------------------------------------------------------------------------
# the request


def search_request(
    base: str,
    scope: str | int,
    node: f.Filter,
    attributes: Sequence[str],
    size_limit: int = 0,
    time_limit: int = 0,
    deref: str | int = DEREF_NEVER,
) -> rfc.SearchRequest:
    """The SearchRequest ldap_build_search_req() builds: attributes as given, no filter for ""."""
    request = _SearchRequestWithoutFilter() if isinstance(node, f.EmptyFilter) else rfc.SearchRequest()
    _fill(request, base, scope, attributes, size_limit, time_limit, deref)
    if not isinstance(node, f.EmptyFilter):
        request["filter"] = to_ldap3_filter(node)
    return request


def _encoded_search_request(
    base: str,
    scope: str | int,
    node: f.Filter,
    attributes: Sequence[str],
    size_limit: int = 0,
    time_limit: int = 0,
    deref: str | int = DEREF_NEVER,
) -> rfc.SearchRequest:
    """search_request() with the filter encoded by encode_filter(): the same bytes on the wire."""
    request = _EncodedFilterSearchRequest()
    _fill(request, base, scope, attributes, size_limit, time_limit, deref)
    request["filter"] = univ.Any(encode_filter(node))
    return request


def _fill(
    request: rfc.SearchRequest,
    base: str,
    scope: str | int,
    attributes: Sequence[str],
    size_limit: int,
    time_limit: int,
    deref: str | int,
) -> None:
    """Every SearchRequest field but the filter (pyasn1 encodes the fields in schema order)."""
    request["baseObject"] = rfc.LDAPDN(base)
    request["scope"] = rfc.Scope(_lookup(SCOPES, scope, "scope"))
    request["derefAliases"] = rfc.DerefAliases(_lookup(DEREFS, deref, "deref"))
    request["sizeLimit"] = rfc.Integer0ToMax(size_limit)
    request["timeLimit"] = rfc.Integer0ToMax(time_limit)
    request["typesOnly"] = rfc.TypesOnly(False)
    selection = rfc.AttributeSelection()
    selection.clear()
    for position, attribute in enumerate(attributes):
        selection[position] = rfc.Selector(attribute)
    request["attributes"] = selection


def _integer(tag: int, number: int) -> bytes:
    """A BER INTEGER/ENUMERATED: minimal two's complement (pyasn1's IntegerEncoder)."""
    size = max(1, (number.bit_length() + 8) // 8)
    return bytes((tag, size)) + number.to_bytes(size, "big", signed=True)


def encoded_search_message(message_id: int, spec: SearchSpec) -> bytes:
    """The LDAPMessage of a searchRequest (RFC 4511 4.5.1) as ldap3 encodes search_request():
    byte for byte pyasn1's BER of _encoded_search_request() in an LDAPMessage, built directly."""
    request = b"".join(
        (
            _tlv(0x04, spec.base.encode()),
            _integer(0x0A, _lookup(SCOPES, spec.scope, "scope")),
            _integer(0x0A, _lookup(DEREFS, spec.deref, "deref")),
            _integer(0x02, spec.size_limit),
            _integer(0x02, spec.time_limit),
            b"\x01\x01\x00",  # typesOnly FALSE
            encode_filter(spec.node),
            _tlv(0x30, b"".join(_tlv(0x04, name.encode()) for name in spec.attributes)),
        )
    )
    return _tlv(0x30, _integer(0x02, message_id) + _tlv(0x63, request))


def _lookup(table: Mapping[str | int, int], key: str | int, what: str) -> int:
    """An ldap3 constant or the protocol number."""
    try:
        return table[key]
    except KeyError:
        raise ValueError(f"unknown {what} {key!r}") from None


# ---------------------------------------------------------------------------------------------
# sending


@dataclass(frozen=True)
class SearchResult:
    """What the server answered: entries and references in server order, and the final result."""

    responses: tuple[dict[str, Any], ...]  # ldap3's searchResEntry / searchResRef dicts
    result: dict[str, Any]  # ldap3's searchResDone dict: result, description, message, referrals

    @property
    def entries(self) -> list[dict[str, Any]]:
        """The searchResEntry responses."""
        return [response for response in self.responses if response["type"] == "searchResEntry"]

    @property
    def references(self) -> list[dict[str, Any]]:
        """The searchResRef responses (continuation references, not followed)."""
        return [response for response in self.responses if response["type"] == "searchResRef"]

    @property
    def dns(self) -> list[str]:
        """DNs of the entries, in server order."""
        return [entry["dn"] for entry in self.entries]


def search(
    connection: Connection,
    base: str,
    scope: str | int,
    filter_: f.Filter | str | bytes,
    attributes: Sequence[str],
    size_limit: int = 0,
    time_limit: int = 0,
    deref: str | int = DEREF_NEVER,
) -> SearchResult:
    """ldap_search_ext(): send the filter as libldap encodes it; FilterSyntaxError where it fails (-7).

    `attributes` go out as given (empty: all user attributes; `["1.1"]`: none). ldap3's auto_range
    and auto_referrals are off for this call, so what comes back is what the server sent.
    """
    node = filter_ if isinstance(filter_, f.Filter) else parse(filter_)
    empty = isinstance(node, f.EmptyFilter)
    if empty:
        request = search_request(base, scope, node, attributes, size_limit, time_limit, deref)
    else:
        request = _encoded_search_request(base, scope, node, attributes, size_limit, time_limit, deref)
    _check_strategy(connection)
    with connection.connection_lock, _server_answers_only(connection):
        if connection.lazy:
            connection._fire_deferred()  # what Connection.search does first
        # sent without ldap3's send(): no restarts (RESTARTABLE would resend its last request), and
        # ldap3 cannot describe these requests (its decode_request needs a pyasn1 filter)
        message_id = _send_without_filter(connection, request, "" if empty else f.encode(node))
        responses = SyncStrategy.post_send_search(connection.strategy, message_id)
        result = dict(connection.result)
    return SearchResult(tuple(responses), result)


@dataclass(frozen=True)
class SearchSpec:
    """One search of search_many(): what search() takes, the filter already parsed (not empty)."""

    base: str
    scope: str | int
    node: f.Filter
    attributes: Sequence[str]
    size_limit: int = 0
    time_limit: int = 0
    deref: str | int = DEREF_NEVER


_NOT_FINAL = frozenset({"searchResEntry", "searchResRef", "intermediateResponse"})


def search_many(
    connection: Connection, searches: Sequence[SearchSpec], window: int = 4, texts: Sequence[str] = ()
) -> list[SearchResult]:
    """Several searches on one connection, up to `window` of them in flight (RFC 4511 4.1.1.1).

    Each request is what search() sends for it; the server answers them independently and the
    messages are sorted out by message ID. Not what postfix does (one synchronous search per
    lookup): for the batch searches of ldap_prefetch.py, whose answers are only ever used as
    the answers of the searches postfix sends. Any failure leaves the connection unusable
    (an exception, as search() raises it); the caller starts again on a new one. `texts`: the
    filters as text (f.encode), when the caller has them already.
    """
    stream = SearchStream(connection, searches, window, texts)
    results: list[SearchResult | None] = [None] * len(searches)
    while not stream.done:
        for position, result in stream.step(block=True):
            results[position] = result
    return [result for result in results if result is not None]


class SearchStream:
    """search_many() a step at a time: between steps the caller works while the server answers.

    No other operation may use the connection until the stream is `done` (their answers would
    meet the stream's); a failure raises as search_many() does, and the connection is unusable.
    """

    def __init__(
        self,
        connection: Connection,
        searches: Sequence[SearchSpec],
        window: int = 4,
        texts: Sequence[str] = (),
    ) -> None:
        for spec in searches:  # what building a request can refuse, refused before anything is sent
            if isinstance(spec.node, f.EmptyFilter):
                raise ValueError("search_many() sends no empty filter: use search()")
            _lookup(SCOPES, spec.scope, "scope")
            _lookup(DEREFS, spec.deref, "deref")
        _check_strategy(connection)
        self.connection = connection
        self.searches = searches
        self.window = window
        self.texts: list[str] = list(texts) or [""] * len(searches)  # filled as they are sent
        self._given = bool(texts)
        self.sent = 0
        self._pending: dict[int, tuple[int, list[dict[str, Any]]]] = {}

    @property
    def done(self) -> bool:
        """Every search sent and answered."""
        return self.sent == len(self.searches) and not self._pending

    def step(self, block: bool = True) -> list[tuple[int, SearchResult]]:
        """Send while the window has room, then read what has come (wait for it when `block`):
        the searches answered in this step, as (position in `searches`, result)."""
        connection = self.connection
        finished: list[tuple[int, SearchResult]] = []
        with connection.connection_lock, _server_answers_only(connection):
            if connection.lazy:
                connection._fire_deferred()
            self._send()
            if self._pending and (block or _readable(connection.socket)):
                self._receive(finished)
                self._send()
            connection.result = None
            connection.response = None
        return finished

    def _send(self) -> None:
        searches, pending = self.searches, self._pending
        start = self.sent
        end = min(len(searches), start + self.window - len(pending))  # each built as it goes out
        if end <= start:
            return
        if not self._given:
            for position in range(start, end):
                self.texts[position] = f.encode(searches[position].node)
        going = [(searches[position], self.texts[position]) for position in range(start, end)]
        for position, message_id in enumerate(_send_searches(self.connection, going), start):
            pending[message_id] = (position, [])
        self.sent = end

    def _receive(self, finished: list[tuple[int, SearchResult]]) -> None:
        connection, pending = self.connection, self._pending
        strategy = connection.strategy
        messages = strategy.receiving()
        if not messages:
            _terminated(connection)
        for message in messages:
            message_id, response = _decode_message(strategy, message)
            slot = pending.get(message_id)
            if slot is None:
                if message_id == 0 and response.get("responseName") == "1.3.6.1.4.1.1466.20036":
                    _terminated(connection)  # RFC 4511 4.4.1 Notice of Disconnection
                connection.last_error = "invalid messageId received"
                raise LDAPSocketReceiveError(connection.last_error)
            if response["type"] in _NOT_FINAL:
                slot[1].append(response)
                continue
            del pending[message_id]
            strategy._outstanding.pop(message_id, None)
            responses = [item for item in slot[1] if item["type"] != "intermediateResponse"]
            finished.append((slot[0], SearchResult(tuple(responses), dict(response))))


def _readable(sock: Any) -> bool:
    """Whether a read would not wait: bytes in the socket, or decrypted ones in the TLS layer."""
    pending = getattr(sock, "pending", None)
    if pending is not None and pending() > 0:
        return True
    return bool(select.select([sock], [], [], 0)[0])


def _decode_message(strategy: Any, message: bytes) -> tuple[int, dict[str, Any]]:
    """(messageID, ldap3's response dict) of one received message; entries by ber_entry.py."""
    entry = decode_entry(message)
    if entry is not None:
        return entry[0], entry_response(entry[1], entry[2])
    from ldap3.utils.asn1 import decode_message_fast

    decoded = decode_message_fast(message)
    return int(decoded["messageID"]), strategy.decode_response_fast(decoded)


def _terminated(connection: Connection) -> None:
    """What ldap3's get_response() does when the server ends the session."""
    with suppress(OSError, LDAPException):
        connection.strategy.close()
    connection.last_error = "session terminated by server"
    raise LDAPSessionTerminatedByServerError(connection.last_error)


PAGED_RESULTS = "1.2.840.113556.1.4.319"  # RFC 2696


def search_pages(
    connection: Connection,
    base: str,
    scope: str | int,
    filter_: f.Filter | str | bytes,
    attributes: Sequence[str],
    page_size: int,
    max_pages: int = 1000,
) -> SearchResult:
    """The same search in RFC 2696 pages of `page_size` until the server's cookie is empty.

    Not what postfix, dovecot or saslauthd do (they send one plain search): for audits that must
    see everything, e.g. AD's MaxPageSize-limited answers. The result is the last page's.
    """
    from ldap3.protocol.rfc2696 import paged_search_control

    node = filter_ if isinstance(filter_, f.Filter) else parse(filter_)
    request = search_request(base, scope, node, attributes, 0, 0, DEREF_NEVER)
    _check_strategy(connection)
    responses: list[dict[str, Any]] = []
    cookie: bytes | None = None
    result: dict[str, Any] = {}
    with connection.connection_lock, _server_answers_only(connection):
        for _page in range(max_pages):
            control = paged_search_control(False, page_size, cookie)
            responses += connection.post_send_search(connection.send("searchRequest", request, [control]))
            result = dict(connection.result)
            paged = (result.get("controls") or {}).get(PAGED_RESULTS) or {}
            cookie = (paged.get("value") or {}).get("cookie") or None
            if not cookie or result.get("result") != 0:
                break
    return SearchResult(tuple(responses), result)


def _check_strategy(connection: Connection) -> None:
    """Only synchronous strategies that talk to a real server: SYNC, SAFE_SYNC, (SAFE_)RESTARTABLE."""
    strategy = connection.strategy
    if not isinstance(strategy, SyncStrategy) or strategy.no_real_dsa or strategy.pooled:
        raise ValueError(f"search() needs a synchronous connection to a real server, not {strategy!r}")


@contextmanager
def _server_answers_only(connection: Connection) -> Iterator[None]:
    """Turn off ldap3's auto_range and auto_referrals for one call: callers decide about referrals."""
    saved = connection.auto_range, connection.auto_referrals
    connection.auto_range = connection.auto_referrals = False
    try:
        yield
    finally:
        connection.auto_range, connection.auto_referrals = saved


def _send_searches(connection: Connection, specs: Sequence[tuple[SearchSpec, str]]) -> list[int]:
    """BaseStrategy.send() of several searches (spec, filter text), their message IDs: the
    messages encoded directly (encoded_search_message) and written at once, one system call
    for them all; through pyasn1 one by one where ldap3 does more than write the bytes (SASL
    signing, usage statistics)."""
    if connection.sasl_mechanism is not None or connection.usage:
        return [
            _send_without_filter(
                connection,
                _encoded_search_request(
                    spec.base,
                    spec.scope,
                    spec.node,
                    spec.attributes,
                    spec.size_limit,
                    spec.time_limit,
                    spec.deref,
                ),
                text,
            )
            for spec, text in specs
        ]
    if not connection.listening:
        raise LDAPSocketOpenError("unable to send message, socket is not open")
    numbers: list[int] = []
    messages: list[bytes] = []
    for spec, text in specs:
        message_id = connection.server.next_message_id()
        messages.append(encoded_search_message(message_id, spec))
        numbers.append(message_id)
        connection.request = _request_description(
            spec.base,
            _lookup(SCOPES, spec.scope, "scope"),
            _lookup(DEREFS, spec.deref, "deref"),
            spec.size_limit,
            spec.time_limit,
            list(spec.attributes),
            text,
        )
        connection.strategy._outstanding[message_id] = connection.request
    try:
        connection.socket.sendall(b"".join(messages))
    except OSError as error:  # what BaseStrategy.sending() raises
        connection.last_error = "socket sending error" + str(error)
        raise communication_exception_factory(LDAPSocketSendError, type(error)(str(error)))(
            connection.last_error
        ) from None
    return numbers


def _send_without_filter(connection: Connection, request: rfc.SearchRequest, filter_text: str = "") -> int:
    """BaseStrategy.send() for a request ldap3 cannot describe (no filter, or one already BER)."""
    if not connection.listening:
        raise LDAPSocketOpenError("unable to send message, socket is not open")
    strategy = connection.strategy
    message_id = connection.server.next_message_id()
    message = rfc.LDAPMessage()
    message["messageID"] = rfc.MessageID(message_id)
    message["protocolOp"] = rfc.ProtocolOp().setComponentByName("searchRequest", request)
    connection.request = _request_dict(request, filter_text)
    strategy._outstanding[message_id] = connection.request
    strategy.sending(message)
    return message_id


def _request_dict(request: rfc.SearchRequest, filter_text: str = "") -> dict[str, Any]:
    """_request_description() of a pyasn1 SearchRequest (typesOnly is always FALSE here)."""
    return _request_description(
        str(request["baseObject"]),
        int(request["scope"]),
        int(request["derefAliases"]),
        int(request["sizeLimit"]),
        int(request["timeLimit"]),
        [str(selector) for selector in request["attributes"]],
        filter_text,
    )


def _request_description(
    base: str,
    scope: int,
    deref: int,
    size_limit: int,
    time_limit: int,
    attributes: list[str],
    filter_text: str,
) -> dict[str, Any]:
    """ldap3's description of a search request (search_request_to_dict), with the filter's text."""
    return {
        "base": base,
        "scope": scope,
        "dereferenceAlias": deref,
        "sizeLimit": size_limit,
        "timeLimit": time_limit,
        "typesOnly": False,
        "filter": filter_text,
        "attributes": attributes,
        "type": "searchRequest",
        "controls": None,
    }
