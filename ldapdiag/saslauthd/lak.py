"""saslauthd's LDAP backend (lak.c): the filter it builds and the answer it gives.

Mirrors cyrus-sasl 2.1.28 saslauthd/lak.c: `lak_expand_tokens()` and `lak_escape()` (values
escaped `\\2a \\28 \\29 \\5c`, lowercase hex; `%d` is only the domain of the login itself, never
the realm; a "%" at the very end appends the text since the last token once more),
`lak_authenticate()` with its single retry, `lak_retrieve()` (search as ldap_bind_dn; exactly
one entry), `lak_auth_bind()`,
`lak_auth_custom()` + `lak_check_password()` (the LAST value of the password attribute),
`lak_auth_fastbind()`, and saslauthd/ipc_unix.c `do_request()` (a field over MAX_REQ_LEN bytes,
an empty login or password: NO without a search).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass, field, replace

from ldapdiag.config.model import ConfFile
from ldapdiag.config.saslauthd_conf import effective_settings
from ldapdiag.directory.directory import Directory, WireSearch
from ldapdiag.directory.policy import BindPolicy, ConnectionPolicy
from ldapdiag.directory.problems import DirectoryProblem
from ldapdiag.directory.secret import Secret
from ldapdiag.dovecot import libcrypt
from ldapdiag.dovecot.ldap_search import DirectoryFactory

LAK_BUF_LEN = 128  # lak_user() copies the password into this buffer
# saslauthd-main.h: do_request() (ipc_unix.c) answers NO, without any search, to a login, password,
# service or realm longer than this many bytes (checked: a 257-byte local part through postfix's
# SMTP AUTH reaches no search, 256 bytes does; tests/integration/test_sasl_request_limits.py)
MAX_REQ_LEN = 256
_BIND_FAIL_CODES = frozenset({49, 50, 34, 80})  # lak_bind(): LAK_BIND_FAIL, no retry
_NOT_FOUND_CODES = frozenset({3, 51, 52, 50})  # lak_retrieve(): LAK_USER_NOT_FOUND, no retry


class SaslauthdCannotPredict(Exception):
    """A saslauthd.conf feature ldapdiag does not emulate (SASL binds, group checks)."""


def lak_escape(value: str) -> str:
    """lak_escape(): `* ( ) \\` (and NUL) as \\2a \\28 \\29 \\5c \\00."""
    table = {"*": "\\2a", "(": "\\28", ")": "\\29", "\\": "\\5c", "\0": "\\00"}
    return "".join(table.get(char, char) for char in value)


def _domain_token(domain: str, number: int) -> str | None:
    """lak_tokenize_domains(): the N-th label from the right (strtok: empty labels vanish)."""
    count = domain.count(".") + 1
    if number > count:
        return None
    labels = [label for label in domain.split(".") if label]
    index = count - number
    return lak_escape(labels[index]) if index < len(labels) else None


def lak_expand_tokens(pattern: str, username: str, service: str, realm: str, dn: str = "") -> str:
    """lak_expand_tokens(): %% %u %U %d %1-%9 %r %R %s %D; unknown tokens vanish."""
    out: list[str] = []
    index = 0
    while True:
        percent = pattern.find("%", index)
        if percent < 0:
            out.append(pattern[index:])
            return "".join(out)
        out.append(pattern[index:percent])
        if percent + 1 >= len(pattern):
            out.append(pattern[index:])  # "Incomplete lookup substitution format": strcat(buf, ptr)
            return "".join(out)
        out.append(_token(pattern[percent + 1], username, service, realm, dn))
        index = percent + 2


def _token(token: str, username: str, service: str, realm: str, dn: str) -> str:
    domain = username.split("@", 1)[1] if "@" in username else ""
    if token == "%":
        return "%"
    if token == "u":
        return lak_escape(username)
    if token == "U":
        return lak_escape(username.split("@", 1)[0])
    if token in "123456789":
        source = domain or realm
        return (_domain_token(source, int(token)) or "") if source else ""
    if token == "d":
        return lak_escape(domain)
    if token in "rR":
        return ("@" if token == "R" and realm else "") + lak_escape(realm) if realm else ""
    if token == "s":
        return lak_escape(service)
    if token == "D":
        return lak_escape(dn)
    return ""


@dataclass(frozen=True)
class LakSettings:
    """lak_config() defaults overridden by saslauthd.conf (what the LDAP backend uses)."""

    filter: str = "(uid=%u)"
    search_base: str = ""
    scope: str = "sub"
    auth_method: str = "bind"
    password_attr: str = "userPassword"
    default_realm: str = ""


def lak_settings(conf: ConfFile) -> LakSettings:
    """lak_config() + lak_config_read(): the settings lak_authenticate() uses."""
    values = {key: entry.value for key, entry in effective_settings(conf).items()}
    if values.get("ldap_use_sasl", "")[:1].lower() in ("1", "y", "t") or values.get("ldap_use_sasl") == "on":
        raise SaslauthdCannotPredict("ldap_use_sasl: SASL binds are not emulated by ldapdiag")
    if values.get("ldap_group_dn") or values.get("ldap_group_filter"):
        raise SaslauthdCannotPredict(
            "ldap_group_dn/ldap_group_filter: group checks are not emulated by ldapdiag"
        )
    return LakSettings(
        filter=values.get("ldap_filter", "(uid=%u)"),
        search_base=values.get("ldap_search_base", ""),
        scope={"one": "one", "base": "base"}.get(values.get("ldap_scope", "sub").lower(), "sub"),
        auth_method=values.get("ldap_auth_method", "bind").lower(),
        password_attr=values.get("ldap_password_attr", "userPassword"),
        default_realm=values.get("ldap_default_realm", ""),
    )


@dataclass
class LakOutcome:
    """saslauthd's answer ("OK"/"NO") and why."""

    ok: bool
    reason: str
    filter: str | None = None
    search_base: str | None = None
    dns: tuple[str, ...] = ()
    attempts: int = 0
    steps: list[str] = field(default_factory=list)
    crashes: bool = False  # the saslauthd worker dies (SIGSEGV) instead of answering
    wire: WireSearch | None = field(default=None, compare=False, repr=False)  # the search, for --explain


class _Retry(Exception):
    """LAK_RETRY: lak_authenticate() tries once more, then fails."""


class _Fail(Exception):
    """Any other LAK error: NO at once."""


class SaslauthdCrashes(Exception):
    """The password check makes saslauthd die (SIGSEGV) instead of answering; the text says why."""


class _Crash(_Fail):
    """saslauthd dies on this request: the client gets no answer (a failure, never OK)."""


@dataclass
class _Attempt:
    """One lak_authenticate() call: what every authenticator takes."""

    settings: LakSettings
    policy: ConnectionPolicy
    factory: DirectoryFactory
    login: str
    realm: str
    password: str
    service: str
    outcome: LakOutcome


def lak_authenticate(
    settings: LakSettings,
    policy: ConnectionPolicy,
    factory: DirectoryFactory,
    login: str,
    realm: str,
    password: str,
    service: str = "smtp",
) -> LakOutcome:
    """do_request() + lak_authenticate(): OK or NO for one login as saslauthd receives it."""
    for name, value in (("login", login), ("password", password), ("service", service), ("realm", realm)):
        if request_length(value) > MAX_REQ_LEN:  # do_request() reads all four, then checks for NULL
            return LakOutcome(False, f"{name} exceeded MAX_REQ_LEN: {MAX_REQ_LEN}")
    if not login:
        return LakOutcome(False, "NULL login received")
    if not password:
        return LakOutcome(False, "NULL password received")
    outcome = LakOutcome(False, "")
    attempt = _Attempt(
        settings, policy, factory, login, realm or settings.default_realm, password, service, outcome
    )
    faults = factory(policy).trace.faults  # the run's FaultLog (making a Directory connects nothing)
    first = faults.mark()
    for number in (1, 2):
        outcome.attempts = number
        retried = faults.mark()
        try:
            _CHECKS[settings.auth_method](attempt)
        except _Retry as retry:
            outcome.reason = str(retry)
            if number == 1:
                outcome.steps.append(f"{retry}: saslauthd retries once")
                continue
            return outcome
        except _Fail as failed:
            outcome.reason = str(failed)
            outcome.crashes = isinstance(failed, _Crash)
        else:
            outcome.ok = True
            outcome.reason = ""
        faults.recovered(first, retried)  # an answer: the first attempt's faults were overcome
        return outcome
    return outcome


def request_length(value: str) -> int:
    """The counted length the saslauthd client sends: strlen() of the bytes (a NUL ends it)."""
    return len(value.encode("utf-8", "surrogateescape").split(b"\0", 1)[0])


def _bind_as(factory: DirectoryFactory, policy: ConnectionPolicy, dn: str, password: str) -> Directory:
    """lak_bind() as `dn`; _Fail for LAK_BIND_FAIL codes, _Retry for everything else."""
    login = BindPolicy("simple", dn=dn, password=Secret(password), origin="saslauthd bind", login=True)
    bound = replace(policy, bind=login)
    directory = factory(bound)
    try:
        directory.connect()
    except DirectoryProblem as error:
        directory.close()
        code = error.problem.code
        if error.problem.phase == "bind" and code in _BIND_FAIL_CODES:
            raise _Fail(f"bind as {dn or '(anonymous)'} failed: {error.problem.message}") from None
        raise _Retry(f"ldap bind/connect failed: {error.problem}") from None
    return directory


def _retrieve(attempt: _Attempt, attributes: tuple[str, ...]) -> tuple[str, tuple[bytes, ...]]:
    """lak_retrieve(): (the entry's DN, the requested attribute's values) of exactly one entry."""
    policy, outcome = attempt.policy, attempt.outcome
    directory = attempt.factory(policy)  # the configured bind (ldap_bind_dn / ldap_bind_pw)
    try:
        try:
            directory.connect()
        except DirectoryProblem as error:
            if error.problem.phase == "bind" and error.problem.code in _BIND_FAIL_CODES:
                raise _Fail(
                    f"bind as {policy.bind.dn or '(anonymous)'} failed: {error.problem.message}"
                ) from None
            raise _Retry(f"ldap bind/connect failed: {error.problem}") from None
        filter_ = lak_expand_tokens(attempt.settings.filter, attempt.login, attempt.service, attempt.realm)
        base = lak_expand_tokens(attempt.settings.search_base, attempt.login, attempt.service, attempt.realm)
        outcome.filter, outcome.search_base = filter_, base
        try:
            result = directory.search(base, attempt.settings.scope, filter_, attributes)
        except DirectoryProblem as error:
            outcome.wire = directory.last_search
            raise _Retry(f"user ldap_search_st() failed: {error.problem}") from None
        outcome.wire = directory.last_search
    finally:
        directory.close()
    outcome.dns = tuple(result.dns)
    if result.result_code not in (0, 32):
        text = f"user ldap_search_st() failed: {result.result_name}"
        if result.result_code in _NOT_FOUND_CODES:
            raise _Fail(text)
        raise _Retry(text)
    if len(result.entries) != 1:
        what = "Entry not found" if not result.entries else "Duplicate entries found"
        raise _Fail(f"{what} ({filter_})")
    entry = result.entries[0]
    values = tuple(v for name in attributes if name != "dn" for v in entry.raw_values(name))
    return entry.dn, values


def _auth_bind(attempt: _Attempt) -> None:
    """lak_auth_bind(): find the entry's DN, bind as it with the password."""
    dn, _ = _retrieve(attempt, ("dn",))
    _truncated_bind(attempt, dn)


def _truncated_bind(attempt: _Attempt, dn: str) -> None:
    """lak_user() keeps at most 127 bytes of the password, then lak_bind() as the user."""
    data = attempt.password.encode("utf-8", "surrogateescape")[: LAK_BUF_LEN - 1]
    attempt.outcome.steps.append(f"bind as {dn}")
    _bind_as(attempt.factory, attempt.policy, dn, data.decode("utf-8", "surrogateescape")).close()


def _auth_custom(attempt: _Attempt) -> None:
    """lak_auth_custom(): read the password attribute, check it locally."""
    _, values = _retrieve(attempt, (attempt.settings.password_attr,))
    if not values:
        raise _Fail("no password attribute returned")
    stored = values[-1].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    try:
        matches = lak_check_password(stored, attempt.password)
    except SaslauthdCrashes as crash:
        raise _Crash(str(crash)) from None
    if not matches:
        raise _Fail("Invalid password")


def _auth_fastbind(attempt: _Attempt) -> None:
    """lak_auth_fastbind(): the filter expanded is the DN to bind as."""
    dn = lak_expand_tokens(attempt.settings.filter, attempt.login, attempt.service, attempt.realm)
    if not dn:
        raise _Fail("empty DN")
    attempt.outcome.filter = dn
    _truncated_bind(attempt, dn)


_CHECKS = {"bind": _auth_bind, "custom": _auth_custom, "fastbind": _auth_fastbind}


def lak_check_password(stored: str, password: str) -> bool:
    """lak_check_password(): {CRYPT}/{UNIX} via crypt(), {MD5}/{SMD5}/{SHA}/{SSHA} digests,
    anything else compared as plain text. SaslauthdCrashes where lak_check_hashed() crashes."""
    if not stored or not password:
        return False
    secret = password.encode("utf-8", "surrogateescape")
    schemes = {"{crypt}": None, "{unix}": None, "{md5}": ("md5", False), "{smd5}": ("md5", True)}
    schemes |= {"{sha}": ("sha1", False), "{ssha}": ("sha1", True)}
    for prefix, rock in schemes.items():
        if stored[: len(prefix)].lower() == prefix:
            data = stored[len(prefix) :]
            if rock is None:
                return _check_crypt(data, secret)
            return _check_hashed(data, secret, *rock)
    return hmac.compare_digest(stored.encode("utf-8", "surrogateescape"), secret)


# cyrus-sasl lib/checkpw.c saslauthd_verify_password(): no answer ("size read failed") is
# SASL_FAIL; postfix xsasl_cyrus_server.c makes SASL_FAIL a temporary failure and smtpd_sasl_glue.c
# answers 454 (not checked against a real postfix: the oracle asks saslauthd only)
CRASH_REPLY = "postfix answers 454 4.7.0 Temporary authentication failure: generic failure"


def _check_crypt(stored: str, secret: bytes) -> bool:
    """lak_check_crypt()."""
    if len(stored) < 2:
        return False
    crypted = libcrypt.crypt(secret, stored.encode("utf-8", "surrogateescape"))
    return bool(crypted) and crypted == stored.encode("utf-8", "surrogateescape")


def _check_hashed(stored: str, secret: bytes, digest_name: str, salted: bool) -> bool:
    """lak_check_hashed(): EVP base64 decode, digest(password [+ salt]), compare the digest bytes."""
    try:
        cred = base64.b64decode("".join(stored.split()), validate=False)
    except (binascii.Error, ValueError):
        return False
    size = hashlib.new(digest_name).digest_size
    if len(cred) < size:
        if salted and digest_name == "sha1":
            # it digests `clen - 20` (negative, so a huge size_t) bytes past the buffer: SIGSEGV
            # (checked for 5 and 19 bytes). A short {SMD5} does not crash it (checked for 15
            # bytes: NO; most likely OpenSSL's md5 block loop ends at once on an end pointer that
            # wrapped around, while sha1's counts blocks down).
            raise SaslauthdCrashes(
                f"saslauthd crashes: the {{SSHA}} value decodes to {len(cred)} bytes, fewer than "
                f"the 20-byte sha1 digest; {CRASH_REPLY}"
            )
        return False
    digest = hashlib.new(digest_name, secret + (cred[size:] if salted else b"")).digest()
    return hmac.compare_digest(digest, cred[:size])
