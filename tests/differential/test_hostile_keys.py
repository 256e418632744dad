"""Hostile keys and logins: the filter ldapdiag sends is byte-identical to the real program's.

Keys and logins with LDAP specials `*()\\`, NUL, non-UTF-8 bytes, long strings and unicode
(hypothesis) are looked up by the real program and by ldapdiag against a capture server
(tests/fake_ad.py's LDAP server, answering every search with no entries) that records the
BER-encoded filter of every SearchRequest as it arrived on the wire:
- postfix: `postmap -q - ldap:TABLE.cf` (keys batched on stdin) vs ldapdiag's lookup_keys();
- dovecot: `doveadm user NAME` on a sandbox dovecot (tests/oracles/dovecot.py) with the
  dovecot-ldap.conf.ext ldapdiag renders vs `ldapdiag user NAME`;
- saslauthd: `testsaslauthd -u LOCAL -r REALM` on `saslauthd -a ldap` with the saslauthd.conf
  ldapdiag renders vs the saslauthd part of `ldapdiag login LOCAL@REALM`.
Wire capture was chosen over the programs' logs: postfix's logger turns unprintable bytes into
`?`, and slapd's stats log re-encodes filters; the wire is what each program really sends.

A pure-Python property then shows that no key can widen a filter: whatever the key, the sent
filter parses to the template's own structure (same operators, attributes and assertion kinds),
and the key's characters only ever end up inside assertion values.
"""

from __future__ import annotations

import functools
import io
import os
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ldapdiag.cli import main
from ldapdiag.config.load import load_config
from ldapdiag.config.model import MailServerConfig
from ldapdiag.config.sources import SourceOptions
from ldapdiag.directory import filters as f
from ldapdiag.postfix.expand import TemplateContext, quote_filter_value
from ldapdiag.postfix.lookup_command import lookup_keys, read_keys
from tests.fake_ad import FakeAdServer, _element, _message, _result
from tests.oracles.dovecot import DovecotSandbox, sandbox_settings
from tests.oracles.postfix import POSTMAP, _write_cool, require
from tests.oracles.saslauthd import SaslauthdSandbox

# ---------------------------------------------------------------------------------------------
# the capture server


class CaptureServer(FakeAdServer):
    """Binds succeed; every search is answered with no entries; raw filters are recorded."""

    def __init__(self) -> None:
        super().__init__({})
        self.filters: list[bytes] = []

    def _search(self, message_id: int, request: bytes, paged: bool) -> bytes:
        offset = 0
        for _index in range(6):  # base, scope, deref, sizeLimit, timeLimit, typesOnly
            _tag, _content, offset = _element(request, offset)
        _tag, _content, end = _element(request, offset)
        self.filters.append(request[offset:end])
        return _message(message_id, _result(0x65, 0))

    def take(self) -> list[bytes]:
        """The filters recorded since the last take()."""
        taken, self.filters = self.filters, []
        return taken


def readable(raw: bytes) -> str:
    """A wire filter back to RFC 4515 text (for assertion messages)."""
    from tests.fake_ad import _filter

    tag, content, _end = _element(raw, 0)
    try:
        return f.encode(_filter(tag, content))
    except Exception:
        return raw.hex()


@pytest.fixture(scope="module")
def capture() -> Iterator[CaptureServer]:
    server = CaptureServer().start()
    yield server
    server.close()


# ---------------------------------------------------------------------------------------------
# hostile strings

SPECIALS = "*()\\&|!=<>~,;+\"#'%@. \t\r"
CHARACTERS = st.one_of(
    st.sampled_from(SPECIALS),
    st.characters(codec="utf-8", exclude_characters="\n"),  # unicode, NUL and controls included
    st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF),  # non-UTF-8 bytes (surrogateescape)
    st.sampled_from("aAzZ09"),
)
SHORT = st.text(CHARACTERS, min_size=1, max_size=40)
LONG = st.text(CHARACTERS, min_size=200, max_size=1000)
KEY = st.one_of(SHORT, SHORT.map(lambda s: s + "@example.org"), LONG)


def fs_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------------------------
# postfix

TABLE = """server_host = {url}
search_base = dc=example,dc=org
query_filter = {query}
result_attribute = mail
bind = no
version = 3
"""
QUERIES = (
    "(&(objectClass=inetOrgPerson)(mail=%s))",
    "(|(uid=%u)(mail=%s)(dc=%d)(o=%1)(cn=*%s*)(sn=%s*))",
)


def _stdin(keys: Sequence[str]) -> bytes:
    """The keys as `postmap -q -` reads them: one a line."""
    return b"".join(fs_bytes(k) + b"\n" for k in keys)


def _postmap_filters(capture: CaptureServer, table: Path, keys: Sequence[str]) -> list[bytes]:
    program = require(POSTMAP, "postmap")
    capture.take()
    subprocess.run(
        [program, "-c", str(table.parent), "-q", "-", f"ldap:{table}"],
        input=_stdin(keys),
        capture_output=True,
        timeout=60,
        check=False,
    )
    return capture.take()


@functools.cache
def _config() -> MailServerConfig:
    sets = (
        "ACCOUNT_PROVISIONER=LDAP",
        "LDAP_SERVER_HOST=ldap://127.0.0.1",
        "OVERRIDE_HOSTNAME=mail.example.org",
    )
    return load_config(SourceOptions(use_environment=False, sets=sets), {"HOME": "/root"})


def _ldapdiag_filters(capture: CaptureServer, table: Path, keys: Sequence[str]) -> list[bytes]:
    config = _config()
    capture.take()
    # fast=False: one search per key, as postmap; the batching fast path (ldap_prefetch.py) sends
    # other filters on purpose and is proven by its answers, not by the wire.
    lookup_keys(config, str(table), read_keys(io.BytesIO(_stdin(keys))), fast=False)
    return capture.take()


@pytest.fixture(scope="module")
def postfix_tables(capture: CaptureServer) -> Iterator[list[Path]]:
    require(POSTMAP, "postmap")
    with tempfile.TemporaryDirectory(prefix="ldapdiag-hostile-") as tmp:
        _write_cool(Path(tmp) / "main.cf", "")
        tables = []
        for index, query in enumerate(QUERIES):
            table = Path(tmp) / f"table{index}.cf"
            _write_cool(table, TABLE.format(url=capture.url, query=query))
            tables.append(table)
        yield tables


POSTFIX_EXAMPLES = {"count": 0, "keys": 0}


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(keys=st.lists(KEY, min_size=1, max_size=20))
def _check_postfix(capture: CaptureServer, tables: list[Path], keys: list[str]) -> None:
    for table in tables:
        real = _postmap_filters(capture, table, keys)
        ours = _ldapdiag_filters(capture, table, keys)
        assert ours == real, (
            table.read_text(),
            keys,
            [readable(r) for r in real],
            [readable(o) for o in ours],
        )
    POSTFIX_EXAMPLES["count"] += 1
    POSTFIX_EXAMPLES["keys"] += len(keys)


def test_postfix_sends_the_same_filter(capture: CaptureServer, postfix_tables: list[Path]) -> None:
    """postmap and ldapdiag send byte-identical filters for hostile keys (two templates)."""
    _check_postfix(capture, postfix_tables)
    assert POSTFIX_EXAMPLES["keys"] > 0


def test_postfix_fixed_hostile_keys(capture: CaptureServer, postfix_tables: list[Path]) -> None:
    """Named cases that must never regress, and proof that the capture sees the key's bytes."""
    keys = [
        "*",
        "a*)(objectClass=*",
        "x)(|(mail=*",
        "\\2a",
        "nul\0inside",
        os.fsdecode(b"bad-\xff-utf8"),
        "ü@exämple.org",
        "x" * 1000,
        "a@b@c.example.org",
        "@example.org",
    ]
    sent = []
    for table in postfix_tables:
        real = _postmap_filters(capture, table, keys)
        ours = _ldapdiag_filters(capture, table, keys)
        assert ours == real, [readable(r) for r in real]
        sent += [readable(r) for r in real]
    assert "(mail=\\2a)" in sent[0].lower()  # the key `*` arrived as a value, not a wildcard
    assert "(mail=nul)" in "".join(sent)  # postmap's key ends at the NUL


# ---------------------------------------------------------------------------------------------
# no key can widen a filter (pure Python)


def _shape(node: f.Filter) -> object:
    """The structure of a filter: operators, attributes and assertion kinds, values left out."""
    if isinstance(node, (f.And, f.Or)):
        return (type(node).__name__, tuple(_shape(child) for child in node.filters))
    if isinstance(node, f.Not):
        return ("Not", _shape(node.filter))
    if isinstance(node, f.Substrings):
        return (
            "Substrings",
            node.attribute.lower(),
            node.initial is not None,
            len(node.any),
            node.final is not None,
        )
    return (type(node).__name__, getattr(node, "attribute", "").lower())


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(key=KEY, query=st.sampled_from(QUERIES))
def test_no_key_widens_a_postfix_filter(key: str, query: str) -> None:
    """db_common_expand() with rfc2254 quoting: the filter keeps the template's shape for every key."""
    key = key.split("\0", 1)[0]  # dict_get() gets a C string: no key holds a NUL (see read_keys())
    context = TemplateContext("table.cf")
    context.parse(query, True)
    sent = context.expand(query, key, quote=quote_filter_value)
    if sent is None:  # the key cannot fill the template: no query at all
        return
    template = f.parse(query.replace("%s", "k").replace("%u", "k").replace("%d", "k").replace("%1", "k"))
    assert _shape(f.parse(sent)) == _shape(template)


# ---------------------------------------------------------------------------------------------
# dovecot and saslauthd: one configuration rendered by ldapdiag, fed to the real programs

DOVECOT_FILTER = "(&(objectClass=inetOrgPerson)(|(uid=%n)(mail=%u)(dc=%d)(cn=*%Ln*)))"
SASLAUTHD_FILTER = "(&(objectClass=inetOrgPerson)(|(uid=%u)(mail=%U@%d)(cn=%r)(o=%1)))"


def _login_text(excluded: str, long: bool = True) -> st.SearchStrategy[str]:
    """Hostile login local parts: argv carries no NUL, and `excluded` is left out too."""
    characters = st.one_of(
        st.sampled_from([c for c in SPECIALS if c not in excluded]),
        st.characters(codec="utf-8", exclude_characters="\n\0" + excluded),
        st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF),
        st.sampled_from("aAzZ09"),
    )
    short = st.text(characters, min_size=1, max_size=40)
    return st.one_of(short, st.text(characters, min_size=200, max_size=1000)) if long else short


DOVECOT_LOCAL = _login_text("@*?")  # doveadm user takes `*` and `?` as a mask, not a name
# Long logins differ (see test_saslauthd_long_login): only short ones until ldapdiag models it.
SASLAUTHD_LOCAL = _login_text("@", long=False)


@pytest.fixture(scope="module")
def sasl_capture() -> Iterator[CaptureServer]:
    server = CaptureServer().start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def login_options(capture: CaptureServer, sasl_capture: CaptureServer) -> tuple[str, ...]:
    sets = [
        "ACCOUNT_PROVISIONER=LDAP",
        f"LDAP_SERVER_HOST={capture.url}",
        "LDAP_SEARCH_BASE=dc=example,dc=org",
        "LDAP_BIND_DN=cn=admin,dc=example,dc=org",
        f"DOVECOT_USER_FILTER={DOVECOT_FILTER}",
        "DOVECOT_PASS_ATTRS=uid=user,userPassword=password",
        "ENABLE_SASLAUTHD=1",
        "SASLAUTHD_MECHANISMS=ldap",
        f"SASLAUTHD_LDAP_SERVER={sasl_capture.url}",
        f"SASLAUTHD_LDAP_FILTER={SASLAUTHD_FILTER}",
        "OVERRIDE_HOSTNAME=mail.example.org",
    ]
    return ("--no-env", *(arg for item in sets for arg in ("--set", item)))


def _load(options: tuple[str, ...]) -> MailServerConfig:
    sets = tuple(options[index + 1] for index, arg in enumerate(options) if arg == "--set")
    return load_config(SourceOptions(use_environment=False, sets=sets), {"HOME": "/root"})


def _cli(args: list[str], stdin: str | None = None) -> None:
    result = CliRunner().invoke(main, args, input=stdin)
    assert result.exit_code in (0, 1, 2), result.output
    assert "internal error" not in result.stderr, result.stderr


@pytest.fixture(scope="module")
def dovecot(login_options: tuple[str, ...]) -> Iterator[DovecotSandbox]:
    config = _load(login_options)
    assert config.dovecot_ldap is not None
    with DovecotSandbox(config.dovecot_ldap.text, sandbox_settings(config.dovecot_main)) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def saslauthd(login_options: tuple[str, ...]) -> Iterator[SaslauthdSandbox]:
    config = _load(login_options)
    assert config.saslauthd is not None
    with SaslauthdSandbox(config.saslauthd.text) as sandbox:
        yield sandbox


LOGIN_EXAMPLES = {"dovecot": 0, "saslauthd": 0}


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(local=DOVECOT_LOCAL, domain=st.sampled_from(["", "@example.org", "@Sub.Example.ORG"]))
def _check_dovecot(
    capture: CaptureServer, sandbox: DovecotSandbox, options: tuple[str, ...], local: str, domain: str
) -> None:
    name = local + domain
    capture.take()
    sandbox.user(name)
    real = capture.take()
    _cli(["user", name, *options])
    ours = capture.take()
    assert ours == real, (name, [readable(r) for r in real], [readable(o) for o in ours])
    LOGIN_EXAMPLES["dovecot"] += 1


def test_dovecot_sends_the_same_filter(
    capture: CaptureServer, dovecot: DovecotSandbox, login_options: tuple[str, ...]
) -> None:
    """`doveadm user NAME` and `ldapdiag user NAME` send byte-identical userdb filters."""
    _check_dovecot(capture, dovecot, login_options)
    assert LOGIN_EXAMPLES["dovecot"] > 0


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(local=SASLAUTHD_LOCAL, realm=st.sampled_from(["example.org", "Sub.Example.ORG"]))
def _check_saslauthd(
    capture: CaptureServer, sandbox: SaslauthdSandbox, options: tuple[str, ...], local: str, realm: str
) -> None:
    capture.take()
    sandbox.answer(*postfix_sends(local, realm), "pw")
    real = capture.take()
    _cli(["login", f"{local}@{realm}", "--password-stdin", *options], stdin="pw\n")
    ours = capture.take()
    assert ours == real, (local, realm, [readable(r) for r in real], [readable(o) for o in ours])
    LOGIN_EXAMPLES["saslauthd"] += 1


def postfix_sends(local: str, realm: str) -> tuple[str, str]:
    """The user and realm saslauthd receives when postfix's SMTP AUTH gets LOCAL@REALM: cyrus SASL
    2.1.28 lib/canonusr.c `_canonuser_internal()` strips isspace() (C locale) around the whole
    login, lib/checkpw.c `saslauthd_verify_password()` splits it at its last '@'. testsaslauthd
    sends `-u`/`-r` as given, so it is given these (checked against postfix itself in
    tests/integration/test_sasl_request_limits.py)."""
    user, _, user_realm = f"{local}@{realm}".strip(" \t\n\v\f\r").rpartition("@")
    return user, user_realm


def test_saslauthd_sends_the_same_filter(
    sasl_capture: CaptureServer, saslauthd: SaslauthdSandbox, login_options: tuple[str, ...]
) -> None:
    """testsaslauthd (user and realm as postfix splits the login) and `ldapdiag login` send
    byte-identical filters."""
    _check_saslauthd(sasl_capture, saslauthd, login_options)
    assert LOGIN_EXAMPLES["saslauthd"] > 0


@pytest.mark.parametrize("length", [256, 257, 300])
def test_saslauthd_long_login(
    sasl_capture: CaptureServer, saslauthd: SaslauthdSandbox, login_options: tuple[str, ...], length: int
) -> None:
    """saslauthd's do_request() (cyrus-sasl 2.1.28 saslauthd/ipc_unix.c) answers NO without any
    search to a login longer than MAX_REQ_LEN (256 bytes, saslauthd-main.h); ldapdiag predicts it."""
    local = "a" * length
    sasl_capture.take()
    saslauthd.answer(*postfix_sends(local, "example.org"), "pw")
    real = sasl_capture.take()
    assert bool(real) is (length <= 256)  # the limit is real, and this test can tell
    _cli(["login", f"{local}@example.org", "--password-stdin", *login_options], stdin="pw\n")
    assert sasl_capture.take() == real


def test_saslauthd_login_of_only_whitespace(
    sasl_capture: CaptureServer, saslauthd: SaslauthdSandbox, login_options: tuple[str, ...]
) -> None:
    """`\\r@example.org`: testsaslauthd -u '\\r' reaches saslauthd as is, and saslauthd searches
    for it; but through postfix, cyrus SASL strips the blank first and saslauthd receives an empty
    login ("NULL login received": no search; checked in tests/integration/test_sasl_request_limits.py).
    ldapdiag's login predicts SMTP AUTH through postfix, so the path that matters is the second."""
    sasl_capture.take()
    saslauthd.answer("\r", "example.org", "pw")
    assert sasl_capture.take(), "testsaslauthd's raw path searches for '\\r'"
    assert postfix_sends("\r", "example.org") == ("", "example.org")
    saslauthd.answer("", "example.org", "pw")
    real = sasl_capture.take()
    assert real == []
    _cli(["login", "\r@example.org", "--password-stdin", *login_options], stdin="pw\n")
    assert sasl_capture.take() == real
