"""Lookup keys as postfix's dictionaries receive them: UTF-8 checks and case folding."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeyPolicy:
    """How a table receives keys: folded (postmap and the maps of smtpd) and UTF-8 mode."""

    fold: bool = True  # DICT_FLAG_FOLD_FIX
    utf8: bool = False  # smtputf8_enable: the dict_utf8 wrapper validates and casefolds


def is_valid_utf8(text: str) -> bool:
    """valid_utf8_string(): the key's bytes are well-formed UTF-8 (no undecodable bytes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def casefold(text: str, utf8: bool) -> str:
    """casefold() (util/casefold.c): ASCII lowercase, or ICU full case folding in UTF-8 mode."""
    if text.isascii():
        return text.lower()  # for ASCII text exactly A-Z -> a-z
    if not utf8:
        return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)
    return text.casefold()
