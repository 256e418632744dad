"""Server lists as postfix, dovecot and saslauthd hand them to libldap, as normalized server specs.

Every component ends in libldap (OpenLDAP 2.5, Debian 12), which tries the servers of the list in
order and keeps the first one it can connect to (for ldaps:// the TLS handshake is part of
connecting, so a refused certificate moves on to the next server; StartTLS and the bind come
later and do not). The lists reach libldap in three ways:

- postfix `server_host` (dict_ldap_open()): split at commas and blanks; an LDAP URL is kept as
  written (one that ldap_url_parse() rejects is skipped with an error), a bare `host` becomes
  `ldap://host:<server_port>` and `host:port` becomes `ldap://host:port`; the joined list goes to
  ldap_initialize(), which parses it again (ldap_url_parselist_ext()).
- dovecot `uris` (ldap_initialize(), wins when set) or `hosts` (ldap_init(hosts, 389):
  ldap_url_parsehosts()), in db_ldap_init_ld().
- saslauthd `ldap_servers` (lak_connect(): ldap_initialize()), default `ldap://localhost/`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

Scheme = Literal["ldap", "ldaps", "ldapi"]

LDAP_PORT = 389
LDAPS_PORT = 636
# Debian's slapd socket: libldap's LDAPI_SOCK for an ldapi:// URL without a path.
DEFAULT_LDAPI_SOCKET = "/var/run/slapd/ldapi"
# postfix CHARS_COMMA_SP; libldap's ldap_str2charray() separators are ", " (a tab is no separator).
POSTFIX_SEPARATORS = ", \t\r\n"
LIBLDAP_SEPARATORS = ", "

_PREFIXES: tuple[tuple[str, str], ...] = (
    ("ldap://", "ldap"),
    ("pldap://", "pldap"),
    ("ldaps://", "ldaps"),
    ("pldaps://", "pldaps"),
    ("ldapi://", "ldapi"),
)
_HEX = re.compile(rb"%([0-9A-Fa-f]{2})")


class ServerListError(ValueError):
    """A server list the component's libldap call refuses (the whole list, as ldap_initialize() does)."""


@dataclass(frozen=True)
class ServerSpec:
    """One server as libldap will contact it."""

    scheme: Scheme
    host: str  # host name or address (IPv6 without brackets); for ldapi the socket path
    port: int  # 0 for ldapi
    written: str  # the list element as the component wrote it

    @property
    def url(self) -> str:
        """The normalized URL (what ldapdiag names the server by in problems and traces)."""
        if self.scheme == "ldapi":
            return f"ldapi://{quote(self.host, safe='')}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def tls_on_connect(self) -> bool:
        """ldaps: the TLS handshake is part of connecting."""
        return self.scheme == "ldaps"

    def __str__(self) -> str:
        return self.url


def _split(text: str, separators: str) -> list[str]:
    """ldap_str2charray() / mystrtok(): tokens between separator runs, empty tokens dropped."""
    return [token for token in re.split(f"[{re.escape(separators)}]+", text) if token]


def _hex_unescape(text: str) -> str:
    """ldap_pvt_hex_unescape(): %XX escapes to bytes."""
    data = _HEX.sub(lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8", "surrogateescape"))
    return data.decode("utf-8", "surrogateescape")


def skip_url_prefix(text: str) -> tuple[str, str, bool] | None:
    """skip_url_prefix(): (scheme, rest, enclosed) for an LDAP URL, None for anything else."""
    rest = text
    enclosed = rest.startswith("<")
    if enclosed:
        rest = rest[1:]
    if rest[:4].lower() == "url:":
        rest = rest[4:]
    for prefix, scheme in _PREFIXES:
        if rest[: len(prefix)].lower() == prefix:
            return scheme, rest[len(prefix) :], enclosed
    return None


def is_ldap_url(text: str) -> bool:
    """ldap_is_ldap_url(): whether the text starts like an LDAP URL."""
    return skip_url_prefix(text) is not None


def parse_url(text: str) -> ServerSpec:
    """ldap_url_parse_ext() with NOEMPTY_HOST and DEF_PORT, as ldap_initialize() calls it."""
    prefix = skip_url_prefix(text)
    if prefix is None:
        raise ServerListError(f"{text!r} is not an LDAP URL (ldap://, ldaps:// or ldapi://)")
    scheme, rest, enclosed = prefix
    if scheme in ("pldap", "pldaps"):
        raise ServerListError(f"{text!r}: PROXY-protocol URLs ({scheme}://) are not supported by ldapdiag")
    if enclosed:
        if not rest.endswith(">"):
            raise ServerListError(f"{text!r}: missing closing '>'")
        rest = rest[:-1]
    hostport = re.split(r"[/?]", rest, maxsplit=1)[0]
    if scheme == "ldapi":
        path = _hex_unescape(hostport) or DEFAULT_LDAPI_SOCKET
        return ServerSpec("ldapi", path, 0, text)
    host, port = _host_and_port(hostport, text)
    if port == 0:
        port = LDAPS_PORT if scheme == "ldaps" else LDAP_PORT
    return ServerSpec(scheme, host or "localhost", port, text)  # type: ignore[arg-type]


def _host_and_port(hostport: str, text: str) -> tuple[str, int]:
    """The host:port part of a URL: `[v6]:port`, `host:port`; an empty or bad port is an error."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise ServerListError(f"{text!r}: missing ']' after the IPv6 address")
        host, after = hostport[1:end], hostport[end + 1 :]
        if after and not after.startswith(":"):
            raise ServerListError(f"{text!r}: unexpected text after the IPv6 address")
        port_text = after[1:] if after else None
    else:
        host, sep, port_text = hostport.partition(":")
        port_text = port_text if sep else None
    port = 0
    if port_text is not None:
        port_text = _hex_unescape(port_text)
        if not port_text.isdigit():
            raise ServerListError(f"{text!r}: the port {port_text!r} is not a number")
        port = int(port_text)
    return _hex_unescape(host), port


def parse_url_list(text: str) -> tuple[ServerSpec, ...]:
    """ldap_url_parselist_ext() as ldap_initialize() calls it: one bad URL fails the whole list."""
    urls = _split(text, LIBLDAP_SEPARATORS)
    if not urls:
        raise ServerListError("the server list is empty")
    return tuple(parse_url(url) for url in urls)


def parse_host_list(text: str, default_port: int = LDAP_PORT) -> tuple[ServerSpec, ...]:
    """ldap_url_parsehosts(): `host`, `host:port`, `[v6]`, `[v6]:port`, a bare IPv6 address."""
    specs: list[ServerSpec] = []
    for token in _split(text, LIBLDAP_SEPARATORS):
        host, port = token, default_port
        if ":" in token:
            if token.count(":") > 1 and not token.startswith("["):
                host = token  # a bare IPv6 address, no port
            elif token.startswith("["):
                host, parsed = _host_and_port(token, token)
                port = parsed or default_port
            else:
                name, _, port_text = token.partition(":")
                port_text = _hex_unescape(port_text)
                if not port_text.isdigit():
                    raise ServerListError(f"{token!r}: the port {port_text!r} is not a number")
                host, port = name, int(port_text)
        specs.append(ServerSpec("ldap", _hex_unescape(host), port, token))
    if not specs:
        raise ServerListError("the host list is empty")
    return tuple(specs)


@dataclass(frozen=True)
class PostfixServers:
    """What dict_ldap_open() makes of server_host/server_port."""

    url_list: str  # the string handed to ldap_initialize() (postmap -v logs it)
    servers: tuple[ServerSpec, ...]
    skipped: tuple[str, ...]  # URLs postfix skipped with "error parsing URL ...; skipping"
    ldaps: bool  # an ldaps:// URL switches postfix's TLS options on (ldap_ssl)
    needs_v3: bool  # a non-ldap:// URL forces protocol version 3


def postfix_servers(server_host: str, server_port: int) -> PostfixServers:
    """dict_ldap_open(): server_host tokens to the URL list given to ldap_initialize()."""
    urls: list[str] = []
    skipped: list[str] = []
    ldaps = needs_v3 = False
    for token in _split(server_host, POSTFIX_SEPARATORS):
        if is_ldap_url(token):
            try:
                spec = parse_url(token)
            except ServerListError:
                skipped.append(token)
                continue
            needs_v3 = needs_v3 or spec.scheme != "ldap"
            ldaps = ldaps or spec.scheme == "ldaps"
            urls.append(token)
        elif ":" in token:
            urls.append(f"ldap://{token}")
        else:
            urls.append(f"ldap://{token}:{server_port}")
    url_list = " ".join(urls)
    if not urls:
        raise ServerListError(f"server_host {server_host!r} names no usable server")
    return PostfixServers(url_list, parse_url_list(url_list), tuple(skipped), ldaps, needs_v3)


def dovecot_servers(uris: str | None, hosts: str | None) -> tuple[ServerSpec, ...]:
    """db_ldap_init_ld(): `uris` through ldap_initialize() when set, else `hosts` through ldap_init()."""
    if uris is not None:
        return parse_url_list(uris)
    if hosts is not None:
        return parse_host_list(hosts)
    raise ServerListError("No uris or hosts set")


def saslauthd_servers(ldap_servers: str | None) -> tuple[ServerSpec, ...]:
    """lak_connect(): ldap_initialize(ldap_servers); lak_config() defaults to ldap://localhost/."""
    return parse_url_list(ldap_servers if ldap_servers is not None else "ldap://localhost/")
