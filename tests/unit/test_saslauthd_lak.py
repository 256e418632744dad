"""saslauthd's token expansion and password checks (lak.c), and how cyrus SASL splits a login
for saslauthd (canonusr.c, checkpw.c). The filters were also checked against a real saslauthd:
see tests/differential/test_saslauthd_differential.py."""

from __future__ import annotations

import base64
import hashlib

import pytest

from ldapdiag.dovecot import libcrypt
from ldapdiag.saslauthd.lak import SaslauthdCrashes, lak_check_password, lak_escape, lak_expand_tokens
from ldapdiag.saslauthd.smtp_auth import cyrus_split


@pytest.mark.parametrize(
    ("pattern", "user", "realm", "expected"),
    [
        # as postfix hands a login over: local part and realm; %d is empty then (checked)
        ("%u/%U/%d/%r/%1/%2/%s", "alice", "example.org", "alice/alice//example.org/org/example/smtp"),
        ("%u/%U/%d/%r/%1", "a@b.c", "z", "a@b.c/a/b.c/z/c"),
        ("(uid=%u)", "st*r(x)\\", "", "(uid=st\\2ar\\28x\\29\\5c)"),
        ("%%%R%q|", "u", "r", "%@r|"),
        ("(uid=%u)%", "u", "", "(uid=u))%"),  # a trailing %: the text since the last token again
        ("%3", "u", "a.b", ""),
    ],
)
def test_expand_tokens(pattern: str, user: str, realm: str, expected: str) -> None:
    assert lak_expand_tokens(pattern, user, "smtp", realm) == expected


def test_escape_is_lowercase_hex() -> None:
    assert lak_escape("*()\\") == "\\2a\\28\\29\\5c"


@pytest.mark.parametrize(
    ("login", "realm", "expected"),
    [
        ("alice@example.org", "example.org", ("alice@example.org", "alice", "example.org")),
        ("alice", "example.org", ("alice@example.org", "alice", "example.org")),
        ("alice", "", ("alice", "alice", "")),
        ("a@b@c", "x", ("a@b@c", "a@b", "c")),
        ("  alice ", "example.org", ("alice@example.org", "alice", "example.org")),
    ],
)
def test_cyrus_split(login: str, realm: str, expected: tuple[str, str, str]) -> None:
    assert cyrus_split(login, realm) == expected


def test_check_password_schemes() -> None:
    pw = "secret"
    ssha = base64.b64encode(hashlib.sha1(pw.encode() + b"salt").digest() + b"salt").decode()
    md5 = base64.b64encode(hashlib.md5(pw.encode()).digest()).decode()
    crypted = libcrypt.crypt(pw.encode(), b"$6$saltsalt")
    assert crypted is not None
    for stored in ("{SSHA}" + ssha, "{ssha}" + ssha, "{MD5}" + md5, "{CRYPT}" + crypted.decode(), pw):
        assert lak_check_password(stored, pw)
        assert not lak_check_password(stored, pw + "x")
    assert not lak_check_password("{PLAIN}" + pw, pw)  # not a lak scheme: compared as text
    assert not lak_check_password("", pw)
    assert not lak_check_password(pw, "")


def test_salted_value_shorter_than_digest_crashes() -> None:
    # lak.c lak_check_hashed() digests `clen - digest size` bytes after the salt: negative for a
    # value shorter than the digest; for {SSHA} the real saslauthd dies of SIGSEGV (the
    # differential test's custom/badssha and custom/ssha19 probes), for {SMD5} it answers NO
    # (custom/badsmd5)
    short = base64.b64encode(b"short").decode()
    nineteen = base64.b64encode(hashlib.sha1(b"pw").digest()[:19]).decode()
    for stored in ("{SSHA}" + short, "{ssha}" + short, "{SSHA}" + nineteen, "{SSHA}"):
        with pytest.raises(SaslauthdCrashes) as crashed:
            lak_check_password(stored, "pw")
        reason = str(crashed.value)
        assert reason.startswith("saslauthd crashes")
        assert short not in reason and nineteen not in reason  # never the stored value
    full = base64.b64encode(hashlib.sha1(b"pw").digest()).decode()  # 20 bytes: an empty salt
    assert lak_check_password("{SSHA}" + full, "pw")
    for stored in ("{SMD5}" + short, "{SHA}" + short, "{MD5}" + short, "short", "{CRYPT}x"):
        assert not lak_check_password(stored, "pw")  # no crash: an answer
