"""crypt(3) from the system's libcrypt (libxcrypt on Debian 12), as dovecot's mycrypt() and
saslauthd's lak_check_crypt() call it.

Both programs hand the stored hash to libc's crypt() as the setting, so the same library decides
which prefixes work ($1$, $5$, $6$, $y$, $2b$, DES...). libxcrypt answers an unusable setting with
a failure token ("*0" or "*1"), never a match.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from functools import lru_cache


class CryptUnavailable(RuntimeError):
    """No libcrypt on this machine: crypt() hashes cannot be checked."""


_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _library() -> ctypes.CDLL:
    name = ctypes.util.find_library("crypt") or "libcrypt.so.1"
    try:
        library = ctypes.CDLL(name)
    except OSError:
        raise CryptUnavailable("libcrypt is not installed") from None
    library.crypt.restype = ctypes.c_char_p
    library.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    return library


def crypt(key: bytes, setting: bytes) -> bytes | None:
    """crypt(key, setting): the hash, a failure token, or None when libcrypt returned NULL."""
    library = _library()
    with _LOCK:  # crypt() returns a static buffer
        return library.crypt(key, setting)
