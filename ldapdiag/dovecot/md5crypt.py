"""The MD5-crypt ($1$) algorithm as dovecot computes it.

Mirrors dovecot 2.3.19.1 src/auth/password-scheme-md5crypt.c `password_generate_md5_crypt()`:
the salt is whatever follows `$1$` up to the next '$' (at most 8 characters, any bytes - libc's
crypt() would refuse characters outside [./0-9A-Za-z], dovecot does not).
"""

from __future__ import annotations

import hashlib

_ITOA64 = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_MAGIC = b"$1$"


def _to64(value: int, count: int) -> bytes:
    out = bytearray()
    for _ in range(count):
        out.append(_ITOA64[value & 0x3F])
        value >>= 6
    return bytes(out)


def md5_crypt(password: bytes, salt: bytes) -> bytes:
    """password_generate_md5_crypt(password, salt): `$1$<salt>$<22 characters>`."""
    password = password.split(b"\0", 1)[0]
    salt = salt.split(b"\0", 1)[0]
    if salt.startswith(_MAGIC):
        salt = salt[len(_MAGIC) :]
    salt = salt.split(b"$", 1)[0][:8]
    final = hashlib.md5(password + salt + password).digest()
    context = hashlib.md5(password + _MAGIC + salt)
    remaining = len(password)
    while remaining > 0:
        context.update(final[: min(16, remaining)])
        remaining -= 16
    length = len(password)
    while length:
        context.update(b"\0" if length & 1 else password[:1])
        length >>= 1
    final = context.digest()
    for round_ in range(1000):
        step = hashlib.md5()
        step.update(password if round_ & 1 else final)
        if round_ % 3:
            step.update(salt)
        if round_ % 7:
            step.update(password)
        step.update(final if round_ & 1 else password)
        final = step.digest()
    encoded = b"".join(
        _to64((final[a] << 16) | (final[b] << 8) | final[c], 4)
        for a, b, c in ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5))
    )
    return _MAGIC + salt + b"$" + encoded + _to64(final[11], 2)
