"""fold() (been_here's BH_FLAG_FOLD with SMTPUTF8 off) lowers ASCII letters A-Z and nothing else."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ldapdiag.postfix.virtual_alias import fold

UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@given(st.text())
def test_only_ascii_capitals_change(text: str) -> None:
    folded = fold(text)
    assert len(folded) == len(text)
    for before, after in zip(text, folded, strict=True):
        assert after == (before.lower() if before in UPPER else before)


def test_non_ascii_letters_keep_their_case() -> None:
    """The `str.lower()` shortcut is only taken for ASCII text: `Ä`, `İ` and the Kelvin sign stay."""
    assert fold("Äb@EXAMPLE.org") == "Äb@example.org"
    assert fold("İx@X") == "İx@x"
    assert fold("\u212a@K") == "\u212a@k"
