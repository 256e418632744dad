"""SeenAddresses (the audit enumeration's memory of the addresses it yielded): exactly a set."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ldapdiag.audit.enumerate import SeenAddresses


class _Colliding(SeenAddresses):
    """Every string hashes to one slot: only the stored bytes can tell them apart."""

    _hash = staticmethod(lambda _key: 12345)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=100))
def test_add_answers_as_a_set_does(texts: list[str]) -> None:
    for seen in (SeenAddresses(), _Colliding()):
        plain: set[str] = set()
        for text in texts:
            assert seen.add(text) == (text not in plain)
            plain.add(text)
        assert len(seen) == len(plain)


def test_colliding_addresses_are_all_kept_across_growth() -> None:
    """A hash collision never drops an address: 1,200 strings in one probe chain, through the
    table's growth from 1,024 slots, each kept once (and surrogate escapes and NUL bytes too)."""
    texts = [f"user{i}@example.org" for i in range(1200)] + ["a\0@x", "\udcff@example.org", ""]
    seen = _Colliding()
    assert all(seen.add(text) for text in texts)
    assert not any(seen.add(text) for text in reversed(texts))
    assert len(seen) == len(texts)


def test_prefixes_and_lengths_are_told_apart() -> None:
    seen = _Colliding()
    assert seen.add("ab@x") and seen.add("ab@xy") and seen.add("b@x") and not seen.add("ab@x")
