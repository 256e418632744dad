"""Dovecot's password schemes as ldapdiag checks them (password-scheme*.c), with dovecot's error texts.

Hashes were made with `doveadm pw` (dovecot 2.3.19.1) or libcrypt; the differential tests check
the same schemes against a running dovecot.
"""

from __future__ import annotations

import base64
import hashlib

import pytest

from ldapdiag.dovecot import libcrypt
from ldapdiag.dovecot.encodings import DecodeError, base64_decode
from ldapdiag.dovecot.md5crypt import md5_crypt
from ldapdiag.dovecot.password_schemes import check_password, password_get_scheme

PW = "correct horse"
SSHA = "{SSHA}" + base64.b64encode(hashlib.sha1(PW.encode() + b"salt").digest() + b"salt").decode()


def _crypt(setting: bytes) -> str:
    result = libcrypt.crypt(PW.encode(), setting)
    assert result is not None
    return result.decode()


@pytest.mark.parametrize(
    "stored",
    [
        "{PLAIN}" + PW,
        "{plain}" + PW,
        "{CLEARTEXT}" + PW,
        SSHA,
        "{SHA}" + base64.b64encode(hashlib.sha1(PW.encode()).digest()).decode(),
        "{SHA256.HEX}" + hashlib.sha256(PW.encode()).hexdigest(),
        "{SHA512}" + base64.b64encode(hashlib.sha512(PW.encode()).digest()).decode(),
        "{PLAIN-MD5}" + hashlib.md5(PW.encode()).hexdigest(),
        "{MD5}" + base64.b64encode(hashlib.md5(PW.encode()).digest()).decode(),  # PLAIN-MD5 after all
        "{SSHA512}" + base64.b64encode(hashlib.sha512(PW.encode() + b"s").digest() + b"s").decode(),
        "{MD5-CRYPT}" + md5_crypt(PW.encode(), b"$1$abcdefgh").decode(),
        "{CRYPT}" + _crypt(b"$1$saltsalt"),
        "{CRYPT}" + _crypt(b"$5$saltsaltsaltsalt"),
        "{SHA512-CRYPT}" + _crypt(b"$6$saltsaltsaltsalt"),
        "{CRYPT}" + _crypt(b"$y$j9T$F5Jx5fExrKuPp53xLKQ..1"),
        "{BLF-CRYPT}" + _crypt(b"$2y$05$abcdefghijklmnopqrstuu"),
        "{PLAIN-TRUNC}5-" + PW[:5],
        "{ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$" + "",
    ],
)
def test_right_password_matches(stored: str) -> None:
    if stored.startswith("{ARGON2ID}"):
        argon2 = pytest.importorskip("argon2")
        stored = "{ARGON2ID}" + argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PW)
    assert check_password(PW, stored, "SSHA", "user").result == "ok"
    if not stored.startswith("{PLAIN-TRUNC}"):  # PLAIN-TRUNC accepts any longer password with that prefix
        assert check_password(PW + "x", stored, "SSHA", "user").result == "mismatch"


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        ("{SSHA}c2hvcnQ=", "Invalid password in passdb: SSHA password is too short"),
        (
            "{SHA}not*base64",
            "Password data is not valid for scheme SHA: Input isn't valid base64 encoded data",
        ),
        (
            "{SHA}MDEyMzQ1Njc4OQ==",
            "Password data is not valid for scheme SHA: Input length isn't valid (10 instead of 20)",
        ),
        (
            "{SHA256.HEX}zz",
            "Password data is not valid for scheme SHA256.HEX: Input isn't valid HEX encoded data",
        ),
        ("{FOO}bar", "Unknown scheme FOO"),
        ("{BLF-CRYPT}nothing", "Invalid password in passdb: Password is not blowfish password"),
        (
            "{BLF-CRYPT}$2c$05$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
            "Invalid password in passdb: crypt_blowfish_rn failed: Invalid argument",
        ),
        ("{MD5}!!!", "Invalid password in passdb: Not a valid MD5-CRYPT or PLAIN-MD5 password"),
        ("{PLAIN-TRUNC}abc", "Invalid password in passdb: PLAIN-TRUNC missing length: prefix"),
        (
            "{SSHA}pw-bare",
            "Password data is not valid for scheme SSHA: Input isn't valid base64 encoded data",
        ),
        ("{SSHA}" + PW, "Invalid password in passdb: SSHA password is too short"),  # blanks are skipped
    ],
)
def test_invalid_data_gives_dovecots_text(stored: str, reason: str) -> None:
    check = check_password(PW, stored, "SSHA", "user")
    assert (check.result, check.reason) == ("invalid", reason)


def test_bare_value_takes_the_default_scheme() -> None:
    assert check_password(PW, PW, "PLAIN", "u").result == "ok"
    assert check_password(PW, PW, "SSHA", "u").result == "invalid"


def test_crypt_failure_token_is_a_mismatch() -> None:
    assert check_password(PW, "{CRYPT}!locked", "SSHA", "u").result == "mismatch"


def test_get_scheme() -> None:
    assert password_get_scheme("{SSHA}abc") == ("SSHA", "abc")
    assert password_get_scheme("$1$salt$hash$junk") == ("MD5-CRYPT", "$1$salt$hash")
    assert password_get_scheme("plain") == (None, "plain")


@pytest.mark.parametrize("text", [b"YWJj", b"YW Jj\n", b"YWI=", b"YQ==", b"YQ= =\r\n"])
def test_base64_accepts_what_dovecot_accepts(text: bytes) -> None:
    assert base64_decode(text) == base64.b64decode(
        text.replace(b" ", b"").replace(b"\n", b"").replace(b"\r", b"")
    )


@pytest.mark.parametrize("text", [b"YWJ", b"YQ=", b"YQ==x", b"Y===", b"*"])
def test_base64_rejects_what_dovecot_rejects(text: bytes) -> None:
    with pytest.raises(DecodeError):
        base64_decode(text)


def test_md5_crypt_matches_libc() -> None:
    for salt in (b"$1$saltsalt", b"$1$ab", b"$1$"):
        assert md5_crypt(b"secret", salt) == libcrypt.crypt(b"secret", salt)


def test_no_password_or_hash_in_reasons() -> None:
    canary = "CANARY-pw-7f3a"
    stored = "{SSHA}" + base64.b64encode(hashlib.sha1(b"other" + b"salt").digest() + b"salt").decode()
    for value in (stored, "{SHA}not*base64" + canary, "{BLF-CRYPT}x" + canary):
        check = check_password(canary, value, "SSHA", "u")
        assert canary not in check.reason and stored not in check.reason
