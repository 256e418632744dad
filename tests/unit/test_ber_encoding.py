"""The hand-written BER of ldap3_filter.py and ber_entry.py against ldap3's own pyasn1 encoder/decoder.

encode_filter() must write byte for byte what ldap3's encoder makes of to_ldap3_filter() (the
encoding the rest of the suite checks against libldap), and the SearchRequest sent with it the
bytes of search_request(). decode_entry() must read every searchResEntry ldap3's encoder writes
back to the same DN and attributes, repeats and order kept.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from ldap3.protocol import rfc4511 as rfc
from ldap3.utils.asn1 import decode_message_fast, encode

from ldapdiag.directory import filters as f
from ldapdiag.directory.ber_entry import decode_entry
from ldapdiag.directory.directory import libldap_view
from ldapdiag.directory.ldap3_filter import (
    SearchSpec,
    _encoded_search_request,
    encode_filter,
    encoded_search_message,
    search_request,
    to_ldap3_filter,
)
from tests.unit.test_filters import attributes, extensibles, substrings

# values: specials, NUL-free binary (as RFC 4515 escapes would carry them), unicode, and long
# ones (lengths of 128 and more take BER's long form)
specials = st.sampled_from([b"*", b"(", b")", b"\\", b"\\2a", b" ", b"@", b"\xff", b"\x80"])
values = st.one_of(
    st.binary(max_size=12).map(lambda value: value.replace(b"\0", b"")),
    st.text(max_size=8).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.lists(specials, max_size=5).map(b"".join),
    st.binary(min_size=120, max_size=700),
)
simple = st.one_of(
    st.builds(f.Equality, attributes, values),
    st.builds(f.GreaterOrEqual, attributes, values),
    st.builds(f.LessOrEqual, attributes, values),
    st.builds(f.Approx, attributes, values),
    st.builds(f.Present, attributes),
    substrings(),
    extensibles(),
)
trees = st.recursive(
    simple,
    lambda children: st.one_of(
        st.builds(f.And, st.lists(children, max_size=5).map(tuple)),
        st.builds(f.Or, st.lists(children, max_size=5).map(tuple)),
        st.builds(f.Not, children),
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(trees)
def test_encode_filter_writes_what_ldap3_writes(tree: f.Filter) -> None:
    assert encode_filter(tree) == encode(to_ldap3_filter(tree))


@settings(max_examples=30, deadline=None)
@given(trees, st.text(max_size=20), st.lists(attributes, max_size=4), st.integers(0, 2), st.integers(0, 3))
def test_search_request_bytes_are_unchanged(
    tree: f.Filter, base: str, wanted: list[str], scope: int, deref: int
) -> None:
    ours = _encoded_search_request(base, scope, tree, wanted, 7, 65536, deref)
    assert encode(ours) == encode(search_request(base, scope, tree, wanted, 7, 65536, deref))


@settings(max_examples=60, deadline=None)
@given(
    trees.filter(lambda tree: not isinstance(tree, f.EmptyFilter)),
    st.text(max_size=200),
    st.lists(attributes, max_size=40),
    st.sampled_from([0, 1, 2, "BASE", "LEVEL", "SUBTREE"]),
    st.sampled_from([0, 1, 2, 3, "NEVER", "ALWAYS"]),
    st.integers(0, 2**31 - 1),
    st.integers(0, 2**31 - 1),
    st.integers(1, 2**31 - 1),
)
def test_a_search_message_built_directly_is_what_ldap3_sends(
    tree: f.Filter,
    base: str,
    wanted: list[str],
    scope: object,
    deref: object,
    size: int,
    time: int,
    number: int,
) -> None:
    """SearchStream sends encoded_search_message(): the bytes ldap3's sending() writes for it."""
    spec = SearchSpec(base, scope, tree, wanted, size, time, deref)  # type: ignore[arg-type]
    message = rfc.LDAPMessage()
    message["messageID"] = rfc.MessageID(number)
    message["protocolOp"] = rfc.ProtocolOp().setComponentByName(
        "searchRequest",
        _encoded_search_request(base, scope, tree, wanted, size, time, deref),  # type: ignore[arg-type]
    )
    assert encoded_search_message(number, spec) == encode(message)


def test_a_batch_filter_of_thousands_of_keys() -> None:
    """Lengths of two and three octets, as the batch searches of ldap_prefetch.py have them."""
    keys = tuple(f.Equality("mail", f"user{n:05d}@example.org".encode()) for n in range(3000))
    tree = f.And((f.Equality("objectClass", b"PostfixBookMailAccount"), f.Or(keys)))
    assert len(encode_filter(tree)) > 65536
    assert encode_filter(tree) == encode(to_ldap3_filter(tree))


def test_the_empty_filter_has_no_encoding() -> None:
    try:
        encode_filter(f.EmptyFilter())
    except ValueError:
        return
    raise AssertionError("the empty filter was encoded")


# --- entries -------------------------------------------------------------------------------------


def _entry_message(message_id: int, dn: str, items: list[tuple[str, list[bytes]]]) -> bytes:
    """A searchResEntry as ldap3's pyasn1 types encode it."""
    entry = rfc.SearchResultEntry()
    entry["object"] = rfc.LDAPDN(dn)
    attributes_list = rfc.PartialAttributeList()
    for position, (name, vals) in enumerate(items):
        attribute = rfc.PartialAttribute()
        attribute["type"] = rfc.AttributeDescription(name)
        attribute["vals"].clear()
        for index, value in enumerate(vals):
            attribute["vals"][index] = rfc.AttributeValue(value)
        attributes_list[position] = attribute
    entry["attributes"] = attributes_list
    message = rfc.LDAPMessage()
    message["messageID"] = rfc.MessageID(message_id)
    message["protocolOp"] = rfc.ProtocolOp().setComponentByName("searchResEntry", entry)
    return bytes(encode(message))


items = st.lists(
    st.tuples(st.sampled_from(["mail", "MAIL", "cn", "mailAlias", "x-é"]), st.lists(values, max_size=4)),
    max_size=6,
)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 2**31 - 1), st.text(max_size=30), items)
def test_decode_entry_reads_what_ldap3_writes(message_id: int, dn: str, listed: list) -> None:
    message = _entry_message(message_id, dn, listed)
    decoded = decode_entry(message)
    assert decoded is not None
    assert decoded[0] == message_id
    assert decoded[1] == dn.encode("utf-8")
    assert [(name.decode(), values) for name, values in decoded[2]] == listed
    fast = decode_message_fast(message)  # ldap3's own reading agrees on the message ID
    assert fast["messageID"] == message_id and fast["protocolOp"] == 4


def test_other_messages_are_left_to_ldap3() -> None:
    done = rfc.LDAPMessage()
    done["messageID"] = rfc.MessageID(3)
    result = rfc.SearchResultDone()
    result["resultCode"] = rfc.ResultCode(0)
    result["matchedDN"] = rfc.LDAPDN("")
    result["diagnosticMessage"] = rfc.LDAPString("")
    done["protocolOp"] = rfc.ProtocolOp().setComponentByName("searchResDone", result)
    assert decode_entry(bytes(encode(done))) is None
    entry = _entry_message(5, "cn=x", [("cn", [b"x"])])
    assert decode_entry(entry[:-1]) is None  # truncated
    assert decode_entry(entry + b"\x00") is None  # trailing bytes


def test_libldap_view_gives_each_copy_the_first_values() -> None:
    """ldap_get_values_len() finds the first attribute of the name (strcasecmp)."""
    listed = [("mail", [b"a"]), ("cn", [b"c"]), ("MAIL", [b"b"]), ("mail", [b"d", b"e"])]
    assert libldap_view(listed) == (
        ("mail", (b"a",)),
        ("cn", (b"c",)),
        ("MAIL", (b"a",)),
        ("mail", (b"a",)),
    )
