"""One dovecot auth request: the login name as it is rewritten, and the fields lookups set.

Mirrors dovecot 2.3.19.1 src/auth/auth-request-fields.c (`auth_request_set_username()`,
`auth_request_fix_username()`), auth-request-var-expand.c (the %variable table and the
`passdb:`/`userdb:` functions), auth-request.c (`auth_request_set_field()`,
`auth_request_set_password()`, `get_updated_username()`, `auth_request_set_userdb_field()`,
`auth_request_set_userdb_field_values()`) and db-ldap.c `ldap_escape()`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from ldapdiag.dovecot.settings import AuthSettings
from ldapdiag.dovecot.var_expand import Expansion, UnsupportedExpansion, Variable, referenced, var_expand

LDAP_ESCAPE_CHARS = '*,\\#+<>;"()= '
_LDAP_ESCAPED = re.compile("[" + re.escape(LDAP_ESCAPE_CHARS) + "]")
UID_MAX = 2**32 - 1  # (uid_t)-1 is dovecot's "invalid"

Escape = Callable[[str], str]


def ldap_escape(value: str) -> str:
    """ldap_escape(): `*,\\#+<>;"()= ` and bytes >= 0x80 as \\XX (uppercase hex)."""
    if value.isascii() and not _LDAP_ESCAPED.search(value):
        return value  # nothing to escape (the common case, asked many times per lookup)
    out: list[str] = []
    for byte in value.encode("utf-8", "surrogateescape"):
        char = chr(byte)
        if byte >= 0x80 or char in LDAP_ESCAPE_CHARS:
            out.append(f"\\{byte:02X}")
        else:
            out.append(char)
    return "".join(out)


_FIXED_ROWS = tuple(
    Variable(key, long_key, value)
    for key, long_key, value in (
        ("h", "home", None),
        ("l", "lip", None),
        ("r", "rip", None),
        ("p", "pid", "0"),
        ("!", None, "1"),
        ("c", "secured", ""),
        ("a", "lport", "0"),
        ("b", "rport", "0"),
        ("k", "cert", ""),
        ("", "login_user", None),
        ("", "login_username", None),
        ("", "login_domain", None),
        ("", "session", None),
        ("", "real_lip", None),
        ("", "real_rip", None),
        ("", "real_lport", "0"),
        ("", "real_rport", "0"),
        ("", "master_user", None),
        ("", "session_pid", None),
        ("", "local_name", None),
        ("", "client_id", None),
        ("", "local_ip", None),
        ("", "remote_ip", None),
        ("", "local_port", "0"),
        ("", "remote_port", "0"),
        ("", "real_local_ip", None),
        ("", "real_remote_ip", None),
        ("", "real_local_port", "0"),
        ("", "real_remote_port", "0"),
    )
)  # the rows of auth_request_get_var_expand_table_full() no auth request changes here


class _Names:
    """A request's names, escaped as var_table() rows ask for them (each part made once)."""

    __slots__ = ("_original", "_user", "esc", "mech", "name", "orig", "password", "service")

    def __init__(self, esc: Escape, name: str, orig: str, service: str, mech: str, password: bool) -> None:
        self.esc, self.name, self.orig, self.service, self.mech = esc, name, orig, service, mech
        self.password = password
        self._user: tuple[str, str, str | None] | None = None
        self._original: tuple[str, str, str | None] | None = None

    def _parts(self, value: str) -> tuple[str, str, str | None]:
        local, at, domain = value.partition("@")
        return self.esc(value), self.esc(local), self.esc(domain) if at else None

    def user(self) -> tuple[str, str, str | None]:
        """%u, %n, %d."""
        if self._user is None:
            self._user = self._parts(self.name)
        return self._user

    def original(self) -> tuple[str, str, str | None]:
        """%{orig_user}, %{orig_username}, %{orig_domain} (and the auth_ and original_ names)."""
        if self._original is None:
            self._original = self._parts(self.orig)
        return self._original

    def domain_first(self) -> str | None:
        return self.esc(self.name.split("@")[1]) if "@" in self.name else None

    def domain_last(self) -> str | None:
        return self.esc(self.name.rsplit("@", 1)[1]) if "@" in self.name else None


_REQUEST_ROWS: tuple[tuple[str, str, Callable[[_Names], str | None]], ...] = (
    ("u", "user", lambda n: n.user()[0]),
    ("n", "username", lambda n: n.user()[1]),
    ("d", "domain", lambda n: n.user()[2]),
    ("s", "service", lambda n: n.esc(n.service)),
    ("w", "password", lambda n: _PASSWORD if n.password else None),
    ("m", "mech", lambda n: n.esc(n.mech)),
    ("", "domain_first", _Names.domain_first),
    ("", "domain_last", _Names.domain_last),
    ("", "orig_user", lambda n: n.original()[0]),
    ("", "orig_username", lambda n: n.original()[1]),
    ("", "orig_domain", lambda n: n.original()[2]),
    ("", "auth_user", lambda n: n.original()[0]),
    ("", "auth_username", lambda n: n.original()[1]),
    ("", "auth_domain", lambda n: n.original()[2]),
    ("", "mechanism", lambda n: n.esc(n.mech)),
    ("", "original_user", lambda n: n.original()[0]),
    ("", "original_username", lambda n: n.original()[1]),
    ("", "original_domain", lambda n: n.original()[2]),
)  # the rows of auth_request_var_expand_static_tab[] filled from the request; _FIXED_ROWS follow


@lru_cache(maxsize=256)
def _selected(
    wanted: frozenset[str] | None,
) -> tuple[tuple[tuple[str, str, Callable[[_Names], str | None]], ...], tuple[Variable, ...]]:
    """The request rows and the fixed rows that hold one of the wanted keys (None: all of them)."""
    if wanted is None:
        return _REQUEST_ROWS, _FIXED_ROWS
    return (
        tuple(row for row in _REQUEST_ROWS if row[0] in wanted or row[1] in wanted),
        tuple(row for row in _FIXED_ROWS if row.key in wanted or row.long_key in wanted),
    )


@lru_cache(maxsize=16)
def _allowed_chars(username_chars: str) -> frozenset[str] | None:
    """auth_username_chars as a set of characters; None (empty setting) allows everything.

    For an ASCII name this decides as _translate() does: an ASCII byte is in the setting's UTF-8
    bytes exactly when its character is in the setting.
    """
    return frozenset(username_chars) if username_chars else None


def _translate(username: str, user: str, translation: dict[str, str], chars: str) -> tuple[str | None, str]:
    """auth_request_fix_username()'s loop: auth_username_translation, then auth_username_chars.

    Returns (error, name): the error dovecot logs for a disallowed byte, else None.
    """
    allowed = chars.encode("utf-8", "surrogateescape")
    out = bytearray()
    for byte in user.encode("utf-8", "surrogateescape"):
        mapped = translation.get(chr(byte)) if byte < 0x80 else None
        if mapped is not None:
            byte = ord(mapped)
        if allowed and byte not in allowed:
            return (
                f"Username character disallowed by auth_username_chars: 0x{byte:02x} "
                f"(username: {str_sanitize(username, 128)})",
                user,
            )
        out.append(byte)
    return None, out.decode("utf-8", "surrogateescape")


def _no_escape(value: str) -> str:
    return value


def str_sanitize(text: str, max_length: int) -> str:
    """str_sanitize(): control characters become '?', longer text is cut with "..."."""
    clean = "".join("?" if ord(c) < 32 else c for c in text)
    return clean if len(clean) <= max_length else clean[: max_length - 3] + "..."


@dataclass
class AuthRequest:
    """The state of struct auth_request that the LDAP passdb/userdb read and write."""

    settings: AuthSettings
    service: str
    mech_password: str | None = None
    user: str = ""
    original_username: str | None = None
    extra_fields: dict[str, str] = field(default_factory=dict)
    userdb_reply: dict[str, str] = field(default_factory=dict)
    passdb_password: str | None = None
    failed: bool = False
    userdb_lookup: bool = False
    userdb_lookup_tempfailed: bool = False
    mech_name: str = "PLAIN"
    log: list[str] = field(default_factory=list)  # what dovecot logs, in order (never a password)
    _tables: dict[tuple[object, ...], tuple[Variable, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )  # var_table() rows by everything they are made of (a lookup asks several times)

    # -- the login name ------------------------------------------------------------------------

    def set_username(self, username: str) -> str | None:
        """auth_request_set_username(): None when accepted, else dovecot's error text."""
        if self.original_username is None:
            self.original_username = username
        error, fixed = self._fix_username(username)
        if error is not None and fixed is None:
            return error
        if error is not None:
            self.log.append(error)
        self.user = fixed or ""
        return None

    def _fix_username(self, username: str) -> tuple[str | None, str | None]:
        """auth_request_fix_username(): (error, new name); a failed format keeps going."""
        set_ = self.settings
        user = username
        if set_.default_realm and "@" not in user:
            user = f"{user}@{set_.default_realm}"
        translation = set_.translation_map()
        allowed = _allowed_chars(set_.username_chars)
        if translation or not user.isascii() or (allowed is not None and not allowed.issuperset(user)):
            disallowed, user = _translate(username, user, translation, set_.username_chars)
            if disallowed is not None:
                return disallowed, None
        error = None
        if set_.username_format:
            expansion = self.expand(set_.username_format, username=user)
            if not expansion.ok:
                error = f"Failed to expand username_format={set_.username_format}: {expansion.error}"
            user = expansion.text
        if user == "":
            return "Empty username", None
        return error, user

    # -- %variables ----------------------------------------------------------------------------

    def var_table(
        self,
        escape: Escape | None = None,
        username: str | None = None,
        dollar: str | None = None,
        with_dollar: bool = False,
        template: str | None = None,
    ) -> tuple[Variable, ...]:
        """auth_request_get_var_expand_table_full(): the rows dovecot fills for this request
        (`template`: only the rows it reads, the others are never looked at)."""
        esc = escape or _no_escape
        name = self.user if username is None else username
        orig = self.original_username if self.original_username is not None else name
        wanted = None if template is None else referenced(template)
        key = (esc, name, orig, self.service, self.mech_name, self.mech_password is None, wanted)
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = self._rows(esc, name, orig, wanted)
        if with_dollar:  # db_ldap_value_get_var_expand_table(): %$ is the attribute's value
            return (Variable("$", None, dollar), *table)
        return table

    def _rows(self, esc: Escape, name: str, orig: str, wanted: frozenset[str] | None) -> tuple[Variable, ...]:
        """The rows of var_table() (without %$), in dovecot's order; with `wanted`, those rows only."""
        rows, fixed = _selected(wanted)
        if not rows:
            return fixed
        names = _Names(esc, name, orig, self.service, self.mech_name, self.mech_password is not None)
        return (*(Variable(key, long_key, get(names)) for key, long_key, get in rows), *fixed)

    def expand(self, template: str, escape: Escape | None = None, username: str | None = None) -> Expansion:
        """auth_request_var_expand(): the request's table with the passdb:/userdb: functions."""
        esc = escape or _no_escape

        def passdb(data: str) -> str:
            key, colon, default = data.partition(":")
            value = self.extra_fields.get(key)
            return esc(value if value is not None else (default if colon else ""))

        def userdb(data: str) -> str:
            key, colon, default = data.partition(":")
            value = self.userdb_reply.get(key)
            return esc(value if value is not None else (default if colon else ""))

        expansion = var_expand(
            template,
            self.var_table(escape, username, template=template),
            {"passdb": passdb, "userdb": userdb},
        )
        if _PASSWORD in expansion.text:
            raise UnsupportedExpansion("the template uses the password (%w): ldapdiag does not expand it")
        return expansion

    # -- fields --------------------------------------------------------------------------------

    def _try_update_username(self, name: str, value: str) -> bool:
        """auth_request_try_update_username() with get_updated_username()."""
        if name == "user":
            new = value
        elif name == "username":
            at = self.user.find("@")
            new = value if "@" in value or at < 0 else value + self.user[at:]
        elif name == "domain":
            local, at, _ = self.user.partition("@")
            new = f"{local}@{value}" if at else f"{self.user}@{value}"
        else:
            return False
        if new == "":
            self.log.append("username attempted to be changed to empty")
            self.failed = True
            return True
        if new != self.user:
            self.log.append(f"username changed {self.user} -> {new}")
            self.user = new
        return True

    def set_field(self, name: str, value: str, default_scheme: str) -> None:
        """auth_request_set_field() for a passdb field."""
        if name.endswith(":protected") and len(name) > 10:
            name = name[:-10]
            if name in self.extra_fields:
                return
        elif name.endswith(":remove") and len(name) > 7:
            self.extra_fields.pop(name[:-7], None)
            return
        if name in ("password", "password_noscheme"):
            self._set_password(value, default_scheme, name == "password_noscheme")
            return
        if self._try_update_username(name, value):
            pass
        elif name == "fail":
            self.failed = True
        elif name.startswith("userdb_"):
            self.set_userdb_field(name[7:], value)
        elif name == "nopassword":
            self.passdb_password = None
            self.extra_fields[name] = value
            return
        elif name in ("allow_nets", "allow_real_nets", "delay_until", "login_user", "passdb_import"):
            raise UnsupportedExpansion(f"passdb field {name!r} is not emulated by ldapdiag")
        else:
            self.extra_fields[name] = value
            return
        self.extra_fields[name] = value

    def _set_password(self, value: str, default_scheme: str, noscheme: bool) -> None:
        """auth_request_set_password(): `{SCHEME}` kept when present, else the default scheme."""
        if self.passdb_password is not None:
            self.log.append("Multiple password values not supported")
            return
        if value.startswith("{") and not noscheme and "}" in value:
            self.passdb_password = value
        else:
            self.passdb_password = f"{{{default_scheme}}}{value}"

    def set_userdb_field(self, name: str, value: str) -> None:
        """auth_request_set_userdb_field()."""
        if name.endswith(":protected") and len(name) > 10:
            name = name[:-10]
            if name in self.userdb_reply:
                return
        elif name.endswith(":remove") and len(name) > 7:
            self.userdb_reply.pop(name[:-7], None)
            return
        if name in ("uid", "gid"):
            number = parse_id(value)
            if number is None:
                self.log.append(f"Invalid {name.upper()} value '{value}'")
                self.userdb_lookup_tempfailed = True
                return
            value = str(number)
        elif name == "tempfail":
            self.userdb_lookup_tempfailed = True
            return
        elif self._try_update_username(name, value):
            return
        elif name in ("uidgid_file", "userdb_import"):
            raise UnsupportedExpansion(f"userdb field {name!r} is not emulated by ldapdiag")
        elif name == "system_user":
            name = "system_groups_user"
        elif name == "noreplicate":
            return
        self.userdb_reply[name] = value

    def set_userdb_field_values(self, name: str, values: tuple[str, ...]) -> None:
        """auth_request_set_userdb_field_values(): gid takes every value, others the first."""
        if not values:
            return
        if name == "gid":
            numbers = []
            for value in values:
                number = parse_id(value)
                if number is None:
                    self.log.append(f"Invalid GID value '{value}'")
                    self.userdb_lookup_tempfailed = True
                    return
                numbers.append(str(number))
            self.userdb_reply[name] = ",".join(numbers)
            return
        if len(values) > 1:
            self.log.append(f"Multiple values found for '{name}': dovecot uses the first one")
        self.set_userdb_field(name, values[0])


_PASSWORD = "\x00ldapdiag-password\x00"  # stands in for %w; never expanded for real


def parse_id(value: str) -> int | None:
    """userdb_parse_uid()/gid(): a decimal number (a user or group name needs the container's
    /etc/passwd, which ldapdiag cannot see: None, as for an unknown name)."""
    if value.isascii() and value.isdigit() and int(value) < UID_MAX:
        return int(value)
    return None
