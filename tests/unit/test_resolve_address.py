"""Address handling as postfix does it: quoting, extensions, the key order of mail_addr_find()."""

from __future__ import annotations

import pytest

from ldapdiag.postfix.address import mail_addr_find, quote_822_local, strip_extension, unquote_822_local
from tests.unit.resolve_support import RecordingTable


@pytest.mark.parametrize(
    ("internal", "external"),
    [
        ("alice@example.org", "alice@example.org"),
        ("a.b@example.org", "a.b@example.org"),
        ("a b@example.org", '"a b"@example.org'),
        ("a..b@example.org", '"a..b"@example.org'),
        (".a@example.org", '".a"@example.org'),
        ('a"b@example.org', '"a\\"b"@example.org'),
        ("a(b)@example.org", '"a(b)"@example.org'),
        ("ä@example.org", "ä@example.org"),  # 8-bit clean
        ("@example.org", '""@example.org'),
    ],
)
def test_quote_822_local(internal: str, external: str) -> None:
    assert quote_822_local(internal) == external
    assert unquote_822_local(external) == internal


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("alice+tag@example.org", ("alice@example.org", "+tag")),
        ("alice+a+b@example.org", ("alice@example.org", "+a+b")),
        ("alice+@example.org", ("alice@example.org", "+")),
        ("+alice@example.org", None),  # the localpart would be empty
        ("alice@example.org", None),
        ("postmaster+x@example.org", ("postmaster@example.org", "+x")),
        ("alice+tag", ("alice", "+tag")),
    ],
)
def test_strip_extension(address: str, expected: tuple[str, str] | None) -> None:
    assert strip_extension(address, "+") == expected


def test_owner_and_request_are_not_split_with_a_dash_delimiter() -> None:
    assert strip_extension("owner-list@example.org", "-") is None
    assert strip_extension("list-request@example.org", "-") is None
    assert strip_extension("a-b@example.org", "-") == ("a@example.org", "-b")
    assert strip_extension("MAILER-DAEMON@example.org", "-") is None  # never split these names
    assert strip_extension("double-bounce@example.org", "-") is None


def test_key_order_for_a_remote_domain() -> None:
    table = RecordingTable({})
    found = mail_addr_find(table, "Alice+Tag@Example.org", delimiters="+", is_local_domain=lambda d: 0)
    assert table.asked == ["Alice+Tag@Example.org", "Alice@Example.org", "@Example.org"]
    assert (found.value, found.error, found.extension) == (None, None, None)


def test_key_order_for_a_local_domain_adds_the_localparts() -> None:
    table = RecordingTable({})
    mail_addr_find(table, "alice+tag@localhost", delimiters="+", is_local_domain=lambda d: 1)
    assert table.asked == ["alice+tag@localhost", "alice@localhost", "alice+tag", "alice", "@localhost"]


def test_the_extension_is_returned_when_the_bare_address_matches() -> None:
    table = RecordingTable({"alice@example.org": "x"})
    found = mail_addr_find(table, "alice+tag@example.org", delimiters="+", is_local_domain=lambda d: 0)
    assert (found.value, found.extension) == ("x", "+tag")


def test_a_table_error_stops_the_search() -> None:
    table = RecordingTable({"@example.org": "catchall"}, failing=frozenset({"alice@example.org"}))
    found = mail_addr_find(table, "alice+x@example.org", delimiters="+", is_local_domain=lambda d: 0)
    assert table.asked == ["alice+x@example.org", "alice@example.org"]
    assert found.value is None and found.error is not None


def test_external_first_asks_the_quoted_form_then_the_internal_form() -> None:
    table = RecordingTable({})
    mail_addr_find(table, "a b@example.org", delimiters="+", is_local_domain=lambda d: 0)
    assert table.asked[:2] == ['"a b"@example.org', "a b@example.org"]
    table = RecordingTable({})
    mail_addr_find(
        table, "a b@example.org", delimiters="+", is_local_domain=lambda d: 0, query_form="external"
    )
    assert table.asked == ['"a b"@example.org', "@example.org"]


def test_answers_are_cached_per_table_and_key() -> None:
    table = RecordingTable({"alice@example.org": "x"})
    cache: dict = {}
    for _ in range(3):
        found = mail_addr_find(
            table, "alice@example.org", delimiters="+", is_local_domain=lambda d: 0, cache=cache
        )
    assert table.asked == ["alice@example.org"]
    assert found.trail[0].cached
