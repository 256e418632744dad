"""Server lists as each component hands them to libldap (ldapdiag.directory.servers).

Expectations come from the C sources: postfix 3.7.11 dict_ldap_open() (server_host tokens split at
CHARS_COMMA_SP; a URL kept as written, a bare `host` becomes `ldap://host:<server_port>`,
`host:port` becomes `ldap://host:port`), OpenLDAP 2.5.13 url.c (ldap_url_parse_ext() with
LDAP_PVT_URL_PARSE_DEF_PORT: 389 for ldap, 636 for ldaps; ldap_url_parselist_ext() splits at ", ";
ldap_url_parsehosts() for dovecot's `hosts`), dovecot 2.3.19.1 db_ldap_init_ld() (`uris` wins over
`hosts`) and cyrus-sasl 2.1.28 lak_config() (default `ldap://localhost/`). The postfix part is also
checked against the real postmap, which logs the URL list it builds.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest

from ldapdiag.directory.servers import (
    DEFAULT_LDAPI_SOCKET,
    ServerListError,
    dovecot_servers,
    parse_host_list,
    parse_url,
    parse_url_list,
    postfix_servers,
    saslauthd_servers,
)
from tests.oracles import postfix as oracle


def urls(specs: tuple) -> list[str]:
    return [spec.url for spec in specs]


# --- postfix server_host ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server_host", "port", "url_list", "expected"),
    [
        ("localhost", 389, "ldap://localhost:389", ["ldap://localhost:389"]),  # the default
        ("ldap.example.org", 3389, "ldap://ldap.example.org:3389", ["ldap://ldap.example.org:3389"]),
        ("ldap.example.org:10389", 3389, "ldap://ldap.example.org:10389", ["ldap://ldap.example.org:10389"]),
        ("ldap://ldap.example.org", 3389, "ldap://ldap.example.org", ["ldap://ldap.example.org:389"]),
        ("ldaps://ldap.example.org", 389, "ldaps://ldap.example.org", ["ldaps://ldap.example.org:636"]),
        (
            "ldap://ldap.example.org:389/",
            389,
            "ldap://ldap.example.org:389/",
            ["ldap://ldap.example.org:389"],
        ),
        (
            "a.example.org, ldaps://b.example.org:1636\tc.example.org:1389",
            389,
            "ldap://a.example.org:389 ldaps://b.example.org:1636 ldap://c.example.org:1389",
            ["ldap://a.example.org:389", "ldaps://b.example.org:1636", "ldap://c.example.org:1389"],
        ),
        ("LDAP://Upper.Example.org", 389, "LDAP://Upper.Example.org", ["ldap://Upper.Example.org:389"]),
        (
            "ldapi://%2Fvar%2Frun%2Fslapd%2Fldapi",
            389,
            "ldapi://%2Fvar%2Frun%2Fslapd%2Fldapi",
            ["ldapi://%2Fvar%2Frun%2Fslapd%2Fldapi"],
        ),
    ],
)
def test_postfix_server_host(server_host: str, port: int, url_list: str, expected: list[str]) -> None:
    servers = postfix_servers(server_host, port)
    assert servers.url_list == url_list
    assert urls(servers.servers) == expected


def test_postfix_ldaps_and_ldapi_urls_force_version_3() -> None:
    """dict_ldap_open(): "URL scheme %s requires protocol version 3" for any scheme but ldap."""
    assert postfix_servers("ldaps://x", 389).needs_v3
    assert postfix_servers("ldapi://", 389).needs_v3
    assert not postfix_servers("ldap://x x:1", 389).needs_v3
    assert postfix_servers("ldaps://x", 389).ldaps


def test_postfix_skips_urls_libldap_cannot_parse() -> None:
    """dict_ldap_open(): "error parsing URL %s: ...; skipping"."""
    servers = postfix_servers("ldap://bad:port ldap://good", 389)
    assert servers.skipped == ("ldap://bad:port",)
    assert urls(servers.servers) == ["ldap://good:389"]


def test_postfix_bare_host_with_bad_port_fails_the_whole_list() -> None:
    """`host:abc` becomes ldap://host:abc, which ldap_initialize() refuses: no server at all."""
    with pytest.raises(ServerListError, match="not a number"):
        postfix_servers("good.example.org host:abc", 389)


def _postmap_url_list(server_host: str, server_port: int | None = None) -> str:
    """The URL list the real postmap logs: "dict_ldap_open: FILE server_host URL is ..."."""
    program = oracle.require(oracle.POSTMAP, "postmap")
    text = f"server_host = {server_host}\n" + (f"server_port = {server_port}\n" if server_port else "")
    with tempfile.TemporaryDirectory(prefix="ldapdiag-postmap-") as tmp:
        oracle._write_cool(Path(tmp) / "main.cf", "")
        table = Path(tmp) / "t.cf"
        oracle._write_cool(table, text)
        result = oracle._run([program, "-c", tmp, "-v", "-q", oracle.NON_UTF8_KEY, f"ldap:{table}"])
    match = re.search(r"server_host URL is (.*)$", result.stderr, re.MULTILINE)
    assert match, result.stderr[-2000:]
    return match.group(1)


@pytest.mark.parametrize(
    ("server_host", "server_port"),
    [
        ("ldap.example.org", None),
        ("ldap.example.org", 3389),
        ("ldap.example.org:10389", 3389),
        ("ldap://ldap.example.org/", 3389),
        ("a.example.org, ldaps://b.example.org:1636  c.example.org:1389", 7389),
        ("ldap://bad:port ldap://good", None),
    ],
)
def test_postfix_url_list_matches_postmap(server_host: str, server_port: int | None) -> None:
    assert postfix_servers(server_host, server_port or 389).url_list == _postmap_url_list(
        server_host, server_port
    )


# --- libldap URL parsing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scheme", "host", "port"),
    [
        ("ldap://h", "ldap", "h", 389),
        ("ldaps://h", "ldaps", "h", 636),
        ("ldap://h:1389/dc=x??sub", "ldap", "h", 1389),
        ("ldap://[::1]:1389", "ldap", "::1", 1389),
        ("ldap://[::1]", "ldap", "::1", 389),
        ("<URL:ldap://h:7>", "ldap", "h", 7),  # skip_url_prefix(): enclosed and URL: prefix
        ("ldap://", "ldap", "localhost", 389),  # NOEMPTY_HOST: libldap connects to localhost
        ("ldap://h%3a1", "ldap", "h:1", 389),  # hex escapes are undone after the port is split
    ],
)
def test_parse_url(text: str, scheme: str, host: str, port: int) -> None:
    spec = parse_url(text)
    assert (spec.scheme, spec.host, spec.port) == (scheme, host, port)


@pytest.mark.parametrize("text", ["ldap://h:", "ldap://h:x", "ldap://[::1", "<ldap://h", "http://h", "h"])
def test_parse_url_refuses(text: str) -> None:
    with pytest.raises(ServerListError):
        parse_url(text)


def test_ldapi_without_path_is_the_default_socket() -> None:
    assert parse_url("ldapi://").host == DEFAULT_LDAPI_SOCKET
    assert parse_url("ldapi://%2Ftmp%2Fs").host == "/tmp/s"


def test_url_list_separators_are_comma_and_space_only() -> None:
    """ldap_url_parselist_ext(): sep ", "; a tab is part of the URL (and breaks it)."""
    assert urls(parse_url_list("ldap://a,ldap://b  ldap://c")) == [
        "ldap://a:389",
        "ldap://b:389",
        "ldap://c:389",
    ]
    with pytest.raises(ServerListError):
        parse_url_list("ldap://a\tldap://b")


def test_one_bad_url_fails_the_whole_list() -> None:
    with pytest.raises(ServerListError):
        parse_url_list("ldap://good ldap://bad:x")


# --- dovecot and saslauthd --------------------------------------------------------------------


def test_dovecot_uris_win_over_hosts() -> None:
    assert urls(dovecot_servers("ldaps://u", "h")) == ["ldaps://u:636"]
    assert urls(dovecot_servers(None, "h1 h2:1389")) == ["ldap://h1:389", "ldap://h2:1389"]
    with pytest.raises(ServerListError, match="No uris or hosts set"):
        dovecot_servers(None, None)


def test_dovecot_hosts_like_ldap_url_parsehosts() -> None:
    assert urls(parse_host_list("[::1]:1389, ::1 [fe80::1]")) == [
        "ldap://[::1]:1389",
        "ldap://[::1]:389",
        "ldap://[fe80::1]:389",
    ]


def test_saslauthd_default_and_list() -> None:
    assert urls(saslauthd_servers(None)) == ["ldap://localhost:389"]
    assert urls(saslauthd_servers("ldaps://a ldap://b:1")) == ["ldaps://a:636", "ldap://b:1"]
    with pytest.raises(ServerListError):
        saslauthd_servers("ldap.example.org")  # ldap_initialize() wants URLs
