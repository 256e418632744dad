"""Dovecot's base64 and hex decoders, with their exact notion of valid input.

Mirrors dovecot 2.3.19.1 src/lib/base64.c (`base64_decode()` = `base64_scheme_decode()` with no
flags: blanks and CR/LF anywhere are skipped, '=' padding only where it belongs, leftover bits of
the last character are not checked) and src/lib/hex-binary.c (`hex_to_binary()`).
"""

from __future__ import annotations

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_DECODE = {ord(char): index for index, char in enumerate(_ALPHABET)}
_BLANKS = frozenset(b"\n\r \t")


class DecodeError(ValueError):
    """The input is not valid for the decoder."""


def base64_decode(data: bytes) -> bytes:
    """base64_decode(): decode or raise DecodeError."""
    out = bytearray()
    buf = sub = 0
    index = 0
    size = len(data)
    while index < size:
        value = _DECODE.get(data[index])
        if value is None:
            if data[index] in _BLANKS:
                index += 1
                continue
            break
        if sub == 0:
            buf = value
        elif sub == 1:
            out.append(((buf << 2) | (value >> 4)) & 0xFF)
            buf = value
        elif sub == 2:
            out.append((((buf << 4) & 0xFF) | (value >> 2)) & 0xFF)
            buf = value
        else:
            out.append((((buf << 6) & 0xC0) | value) & 0xFF)
            buf = 0
        sub = (sub + 1) % 4
        index += 1
    if index == size:
        if sub != 0:
            raise DecodeError("unpadded")
        return bytes(out)
    _padding(data, index, sub)
    return bytes(out)


def _padding(data: bytes, index: int, sub: int) -> None:
    """The padding part of base64_decode_more(): one or two '=' as the position needs, blanks."""
    if sub not in (2, 3) or data[index] != ord("="):
        raise DecodeError("invalid character")
    index += 1
    if sub == 2:
        index = _skip_blanks(data, index)
        if index == len(data):
            raise DecodeError("short padding")  # sub_pos stays 3: base64_decode_finish() fails
        if data[index] != ord("="):
            raise DecodeError("invalid padding")
        index += 1
    if _skip_blanks(data, index) != len(data):
        raise DecodeError("data after padding")


def _skip_blanks(data: bytes, index: int) -> int:
    while index < len(data) and data[index] in _BLANKS:
        index += 1
    return index


def hex_decode(text: bytes) -> bytes:
    """hex_to_binary(): pairs of hex digits (either case); anything else raises DecodeError."""
    digits = b"0123456789abcdefABCDEF"
    if len(text) % 2 or any(byte not in digits for byte in text):
        raise DecodeError("not hex")
    return bytes.fromhex(text.decode("ascii"))
