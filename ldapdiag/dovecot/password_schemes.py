"""Dovecot 2.3 password schemes: how a stored password is decoded and checked.

Mirrors dovecot 2.3.19.1 src/auth/password-scheme.c (`password_get_scheme()`,
`password_decode()`, `password_verify()` and the builtin schemes), password-scheme-crypt.c
(CRYPT, DES-/SHA256-/SHA512-CRYPT through libc crypt(), BLF-CRYPT), password-scheme-md5crypt.c
and password-scheme-sodium.c (ARGON2I/ARGON2ID), and auth-request.c
`auth_request_password_verify_log()` for the texts dovecot logs.

Nothing here returns, logs or raises the plaintext or the stored hash.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ldapdiag.dovecot import libcrypt
from ldapdiag.dovecot.encodings import DecodeError, base64_decode, hex_decode
from ldapdiag.dovecot.md5crypt import md5_crypt

PASSWORD_MISMATCH = "Password mismatch"  # AUTH_LOG_MSG_PASSWORD_MISMATCH

Encoding = Literal["none", "base64", "hex"]
Verifier = Callable[[bytes, bytes, str], bool]  # plaintext, raw stored data, user -> match


class InvalidPassword(Exception):
    """password_verify() returned -1: the stored data is unusable for the scheme."""


class UnsupportedScheme(Exception):
    """A scheme dovecot has but ldapdiag cannot check."""


@dataclass(frozen=True)
class Scheme:
    """One entry of dovecot's scheme table."""

    name: str
    encoding: Encoding
    raw_length: int  # 0: any length
    verify: Verifier


@dataclass(frozen=True)
class SchemeCheck:
    """The outcome of checking a password against passdb data."""

    result: Literal["ok", "mismatch", "invalid", "unsupported"]
    scheme: str
    reason: str  # dovecot's log text (never the password or the hash)

    @property
    def ok(self) -> bool:
        return self.result == "ok"


# --------------------------------------------------------------------------------------------
# verifiers


def _generated(generate: Callable[[bytes, str], bytes]) -> Verifier:
    """The generic handler: generate and compare (password_verify() without s->password_verify)."""

    def verify(plaintext: bytes, raw: bytes, user: str) -> bool:
        return hmac.compare_digest(generate(plaintext, user), raw)

    return verify


def _digest(name: str) -> Callable[[bytes, str], bytes]:
    return lambda plaintext, _user: hashlib.new(name, plaintext).digest()


def _salted(name: str, label: str) -> Verifier:
    """ssha_verify() and friends: <hash><salt>, the salt any length >= 1."""
    size = hashlib.new(name).digest_size

    def verify(plaintext: bytes, raw: bytes, _user: str) -> bool:
        if len(raw) <= size:
            raise InvalidPassword(f"{label} password is too short")
        digest = hashlib.new(name, plaintext + raw[size:]).digest()
        return hmac.compare_digest(digest, raw[:size])

    return verify


def _plain(plaintext: bytes, raw: bytes, _user: str) -> bool:
    return hmac.compare_digest(plaintext, raw)


def _plain_trunc(plaintext: bytes, raw: bytes, _user: str) -> bool:
    """plain_trunc_verify(): <length>-<password>."""
    index = 0
    length = 0
    while index < len(raw) and raw[index : index + 1].isdigit():
        length = length * 10 + raw[index] - 48
        index += 1
    if index == len(raw) or raw[index : index + 1] != b"-":
        raise InvalidPassword("PLAIN-TRUNC missing length: prefix")
    stored = raw[index + 1 :]
    if len(stored) == length and len(plaintext) >= length:
        return hmac.compare_digest(stored, plaintext[:length])
    return hmac.compare_digest(stored, plaintext)


def _md5_crypt(plaintext: bytes, raw: bytes, _user: str) -> bool:
    """md5_crypt_verify()."""
    return hmac.compare_digest(md5_crypt(plaintext, raw), raw)


def _md5(plaintext: bytes, raw: bytes, user: str) -> bool:
    """md5_verify(): MD5-CRYPT when it starts with $1$, else PLAIN-MD5."""
    if raw.startswith(b"$1$"):
        return _md5_crypt(plaintext, raw, user)
    try:
        decoded = password_decode(raw.decode("latin-1"), "PLAIN-MD5")
    except (DecodeFailed, UnknownScheme):
        raise InvalidPassword("Not a valid MD5-CRYPT or PLAIN-MD5 password") from None
    return password_verify(plaintext, "PLAIN-MD5", decoded, user)


def _crypt(plaintext: bytes, raw: bytes, user: str) -> bool:
    """crypt_verify(): $2?$ goes to BLF-CRYPT; otherwise libc crypt() and a string compare."""
    if len(raw) > 4 and raw[:2] == b"$2" and raw[3:4] == b"$":
        return _blowfish(plaintext, raw, user)
    if not raw:
        return False
    setting = raw.split(b"\0", 1)[0]
    crypted = _libc_crypt(plaintext, setting)
    if crypted is None:
        raise InvalidPassword("crypt() failed: Invalid argument")
    return hmac.compare_digest(crypted, setting)


def _blowfish(plaintext: bytes, raw: bytes, _user: str) -> bool:
    """crypt_verify_blowfish(): $2[a-z]$ with at least 30 characters, Openwall crypt_blowfish."""
    if not raw:
        return False
    if len(raw) < 30 or raw[:2] != b"$2" or not 97 <= raw[2] <= 122 or raw[3:4] != b"$":
        raise InvalidPassword("Password is not blowfish password")
    crypted = _libc_crypt(plaintext, raw[:29]) if raw[2:3] in b"abxy" else None
    if crypted is None or crypted.startswith(b"*"):
        raise InvalidPassword("crypt_blowfish_rn failed: Invalid argument")
    return crypted == raw


def _libc_crypt(plaintext: bytes, setting: bytes) -> bytes | None:
    try:
        return libcrypt.crypt(plaintext.split(b"\0", 1)[0], setting)
    except libcrypt.CryptUnavailable as error:
        raise UnsupportedScheme(str(error)) from None


def _argon2(plaintext: bytes, raw: bytes, _user: str) -> bool:
    """verify_argon2(): libsodium crypto_pwhash_str_verify(); any failure is a mismatch."""
    try:
        from argon2 import exceptions, low_level
    except ImportError:
        raise UnsupportedScheme(
            "cannot check ARGON2 hashes: the argon2-cffi package is not available (it is compiled, so "
            "the single-file build ldapdiag.pyz leaves it out; use pipx install or the container image)"
        ) from None
    if raw.startswith(b"$argon2id$"):
        kind = low_level.Type.ID
    elif raw.startswith(b"$argon2i$"):
        kind = low_level.Type.I
    else:
        return False
    try:
        return low_level.verify_secret(raw.split(b"\0", 1)[0], plaintext, kind)
    except (exceptions.VerificationError, exceptions.InvalidHashError, ValueError):
        return False


def _digest_md5(plaintext: bytes, user: str) -> bytes:
    """digest_md5_generate(): MD5(user:realm:password), user@realm split at the last '@'."""
    name, _, realm = user.rpartition("@") if "@" in user else (user, "", "")
    return hashlib.md5(f"{name}:{realm}:".encode() + plaintext).digest()


def _unsupported(name: str) -> Verifier:
    def verify(_plaintext: bytes, _raw: bytes, _user: str) -> bool:
        raise UnsupportedScheme(f"ldapdiag cannot check the {name} scheme")

    return verify


def _md4() -> Verifier:
    try:
        hashlib.new("md4")
    except ValueError:
        return _unsupported("PLAIN-MD4")
    return _generated(_digest("md4"))


SCHEMES: dict[str, Scheme] = {
    scheme.name: scheme
    for scheme in (
        Scheme("MD5", "none", 0, _md5),
        Scheme("MD5-CRYPT", "none", 0, _md5_crypt),
        Scheme("SHA", "base64", 20, _generated(_digest("sha1"))),
        Scheme("SHA1", "base64", 20, _generated(_digest("sha1"))),
        Scheme("SHA256", "base64", 32, _generated(_digest("sha256"))),
        Scheme("SHA512", "base64", 64, _generated(_digest("sha512"))),
        Scheme("SMD5", "base64", 0, _salted("md5", "SMD5")),
        Scheme("SSHA", "base64", 0, _salted("sha1", "SSHA")),
        Scheme("SSHA256", "base64", 0, _salted("sha256", "SSHA256")),
        Scheme("SSHA512", "base64", 0, _salted("sha512", "SSHA512")),
        Scheme("PLAIN", "none", 0, _plain),
        Scheme("CLEAR", "none", 0, _plain),
        Scheme("CLEARTEXT", "none", 0, _plain),
        Scheme("PLAIN-TRUNC", "none", 0, _plain_trunc),
        Scheme("CRAM-MD5", "hex", 32, _unsupported("CRAM-MD5")),
        Scheme("HMAC-MD5", "hex", 32, _unsupported("HMAC-MD5")),
        Scheme("SCRAM-SHA-1", "none", 0, _unsupported("SCRAM-SHA-1")),
        Scheme("SCRAM-SHA-256", "none", 0, _unsupported("SCRAM-SHA-256")),
        Scheme("DIGEST-MD5", "hex", 16, _generated(_digest_md5)),
        Scheme("PLAIN-MD4", "hex", 16, _md4()),
        Scheme("PLAIN-MD5", "hex", 16, _generated(_digest("md5"))),
        Scheme("LDAP-MD5", "base64", 16, _generated(_digest("md5"))),
        Scheme("OTP", "none", 0, _unsupported("OTP")),
        Scheme("PBKDF2", "none", 0, _unsupported("PBKDF2")),
        # password-scheme-crypt.c (DES/SHA2 registered when libc's crypt() passes dovecot's self-test)
        Scheme("DES-CRYPT", "none", 0, _crypt),
        Scheme("SHA256-CRYPT", "none", 0, _crypt),
        Scheme("SHA512-CRYPT", "none", 0, _crypt),
        Scheme("BLF-CRYPT", "none", 0, _blowfish),
        Scheme("CRYPT", "none", 0, _crypt),
        # password-scheme-sodium.c (Debian builds dovecot with libsodium)
        Scheme("ARGON2I", "none", 0, _argon2),
        Scheme("ARGON2ID", "none", 0, _argon2),
    )
}


# --------------------------------------------------------------------------------------------
# the scheme table interface


class UnknownScheme(Exception):
    """password_scheme_lookup() found no such scheme (or an unknown encoding suffix)."""


class DecodeFailed(Exception):
    """password_decode() returned -1; the message is dovecot's."""


def scheme_lookup(name: str) -> tuple[Scheme, Encoding]:
    """password_scheme_lookup(): case-insensitive name, optional .b64/.base64/.hex suffix."""
    base, dot, suffix = name.partition(".")
    scheme = SCHEMES.get(base.upper())
    if scheme is None:
        raise UnknownScheme(name)
    if not dot:
        return scheme, scheme.encoding
    if suffix.lower() in ("b64", "base64"):
        return scheme, "base64"
    if suffix.lower() == "hex":
        return scheme, "hex"
    raise UnknownScheme(name)


def password_get_scheme(password: str) -> tuple[str | None, str]:
    """password_get_scheme(): ("SCHEME", rest) for `{SCHEME}rest`; $1$ hashes are MD5-CRYPT."""
    if password.startswith("$1$"):
        end = password.find("$", 3)
        if end >= 0:
            stop = password.find("$", end + 1)
            return "MD5-CRYPT", password if stop < 0 else password[:stop]
    if not password.startswith("{"):
        return None, password
    close = password.find("}")
    if close < 0:
        return None, password
    return password[1:close], password[close + 1 :]


def password_decode(password: str, scheme_name: str) -> bytes:
    """password_decode(): the raw stored data; UnknownScheme or DecodeFailed (dovecot's text)."""
    scheme, encoding = scheme_lookup(scheme_name)
    data = password.encode("utf-8", "surrogateescape")
    guessed = False
    if encoding != "none" and scheme.raw_length and "." not in scheme_name:
        encoding = "hex" if len(data) == scheme.raw_length * 2 else "base64"
        guessed = True
    raw = data
    if encoding == "hex":
        try:
            raw = hex_decode(data)
        except DecodeError:
            if not guessed:
                raise DecodeFailed("Input isn't valid HEX encoded data") from None
            encoding = "base64"
    if encoding == "base64":
        try:
            raw = base64_decode(data)
        except DecodeError:
            raise DecodeFailed("Input isn't valid base64 encoded data") from None
    if scheme.raw_length and len(raw) != scheme.raw_length:
        raise DecodeFailed(f"Input length isn't valid ({len(raw)} instead of {scheme.raw_length})")
    return raw


def password_verify(plaintext: bytes, scheme_name: str, raw: bytes, user: str) -> bool:
    """password_verify(): match or not; InvalidPassword / UnsupportedScheme otherwise."""
    scheme, _ = scheme_lookup(scheme_name)
    return scheme.verify(plaintext, raw, user)


def check_password(plaintext: str, stored: str, default_scheme: str, user: str) -> SchemeCheck:
    """auth_request_password_verify_log() for passdb data `stored` (already `{SCHEME}`-prefixed
    by auth_request_set_password(), or bare: then `default_scheme` applies)."""
    scheme, data = password_get_scheme(stored)
    if scheme is None:
        scheme, data = default_scheme, stored
    try:
        raw = password_decode(data, scheme)
    except UnknownScheme:
        return SchemeCheck("invalid", scheme, f"Unknown scheme {scheme}")
    except DecodeFailed as error:
        return SchemeCheck("invalid", scheme, f"Password data is not valid for scheme {scheme}: {error}")
    try:
        matched = password_verify(plaintext.encode("utf-8", "surrogateescape"), scheme, raw, user)
    except InvalidPassword as error:
        return SchemeCheck("invalid", scheme, f"Invalid password in passdb: {error}")
    except UnsupportedScheme as error:
        return SchemeCheck("unsupported", scheme, str(error))
    return SchemeCheck("ok" if matched else "mismatch", scheme, "" if matched else PASSWORD_MISMATCH)
