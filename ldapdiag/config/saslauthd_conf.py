"""saslauthd.conf as saslauthd 2.1.28's LDAP backend reads it, and /etc/default/saslauthd.

saslauthd.conf is read by `lak_config_read()` (saslauthd/lak.c), called from `lak_config()` on
the first LDAP authentication (auth_ldap.c). Its rules, checked against a real saslauthd in the
tests:

- Lines are read with `fgets()` into 4096 bytes; the newline goes, nothing else: trailing blanks
  and a CR stay in the value.
- Leading whitespace goes; an empty line or one starting with `#` is skipped. `#` elsewhere is
  value text.
- The key is `[A-Za-z0-9_-]*`, folded to lower case, and must be followed at once by `:`
  (`ldap_servers : x` fails). Blanks after `:` go. An empty value fails.
- A failing line fails the whole file (LAK_FAIL): saslauthd answers every LDAP authentication
  "NO" and logs no reason (`-d` shows `[reason=Unknown]`). ldapdiag raises InputError, or (tolerant
  reading, as the configuration loaders do) marks the file `refused`.
- Unknown keys are ignored. Several keys are aliases (`ldap_password` = `ldap_bind_pw`, ...):
  the parser stores the canonical name. The last line for a key wins - except that an enumerated
  key (`ldap_auth_method`, `ldap_scope`, ...) with a value lak.c does not recognise changes
  nothing, and values are cut to lak.c's buffer sizes: see `effective_settings()`.

/etc/default/saslauthd is a shell fragment that Debian's init script sources (`. FILE`); DMS's
supervisord does not read it. `parse_shell_defaults()` reads the variable assignments in it the way
`sh` does (quotes, backslashes, `$NAME`/`${NAME}` from earlier assignments, comments) and refuses
anything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ldapdiag.config.model import ConfEntry, ConfFile
from ldapdiag.config.origin import Finding, Origin
from ldapdiag.config.postfix_cf import decode_config_bytes, read_config_text
from ldapdiag.errors import InputError

C_SPACE = " \t\n\v\f\r"  # isspace() in the C locale
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
FGETS_BUFFER = 4096

# lak.c buffer sizes (lak.h): LAK_BUF_LEN 128, LAK_DN_LEN 4096, LAK_PATH_LEN = LAK_URL_LEN 1024.
_BUF, _DN, _PATH = 128, 4096, 1024


@dataclass(frozen=True)
class SaslauthdKey:
    """How lak_config_read() stores one key."""

    kind: str  # "str", "int" (lak_config_int), "switch" (lak_config_switch), "enum"
    size: int = 0  # strlcpy() size for strings: the value is cut to size - 1 bytes
    choices: tuple[str, ...] = ()  # recognised values of an enum (case-insensitive)
    documented: tuple[str, ...] = ()  # values saslauthd.conf(5) documents that lak.c ignores


# Canonical names as lak_config_read() tests them, with their storage.
SASLAUTHD_KEYS: Mapping[str, SaslauthdKey] = {
    "ldap_servers": SaslauthdKey("str", _PATH),
    "ldap_bind_dn": SaslauthdKey("str", _DN),
    "ldap_bind_pw": SaslauthdKey("str", _BUF),
    "ldap_version": SaslauthdKey("int"),
    "ldap_search_base": SaslauthdKey("str", _DN),
    "ldap_filter": SaslauthdKey("str", _DN),
    "ldap_password_attr": SaslauthdKey("str", _BUF),
    "ldap_group_dn": SaslauthdKey("str", _DN),
    "ldap_group_attr": SaslauthdKey("str", _BUF),
    "ldap_group_filter": SaslauthdKey("str", _BUF),  # strlcpy(..., LAK_BUF_LEN) into a DN buffer
    "ldap_group_search_base": SaslauthdKey("str", _BUF),  # likewise
    "ldap_group_scope": SaslauthdKey("enum", choices=("one", "base"), documented=("sub",)),
    "ldap_group_match_method": SaslauthdKey("enum", choices=("filter", "attr")),
    "ldap_default_realm": SaslauthdKey("str", _BUF),
    "ldap_auth_method": SaslauthdKey("enum", choices=("custom", "fastbind"), documented=("bind",)),
    "ldap_timeout": SaslauthdKey("int"),
    "ldap_size_limit": SaslauthdKey("int"),
    "ldap_time_limit": SaslauthdKey("int"),
    "ldap_deref": SaslauthdKey("enum", choices=("search", "find", "always", "never")),
    "ldap_referrals": SaslauthdKey("switch"),
    "ldap_restart": SaslauthdKey("switch"),
    "ldap_scope": SaslauthdKey("enum", choices=("one", "base"), documented=("sub",)),
    "ldap_use_sasl": SaslauthdKey("switch"),
    "ldap_id": SaslauthdKey("str", _BUF),
    "ldap_authz_id": SaslauthdKey("str", _BUF),
    "ldap_realm": SaslauthdKey("str", _BUF),
    "ldap_mech": SaslauthdKey("str", _BUF),
    "ldap_sasl_secprops": SaslauthdKey("str", _BUF),
    "ldap_start_tls": SaslauthdKey("switch"),
    "ldap_tls_check_peer": SaslauthdKey("switch"),
    "ldap_tls_cacert_file": SaslauthdKey("str", _PATH),
    "ldap_tls_cacert_dir": SaslauthdKey("str", _PATH),
    "ldap_tls_ciphers": SaslauthdKey("str", _BUF),
    "ldap_tls_cert": SaslauthdKey("str", _PATH),
    "ldap_tls_key": SaslauthdKey("str", _PATH),
    "ldap_debug": SaslauthdKey("int"),
}

# Second names lak_config_read() accepts for the same setting.
SASLAUTHD_ALIASES: Mapping[str, str] = {
    "ldap_password": "ldap_bind_pw",
    "ldap_default_domain": "ldap_default_realm",
    "ldap_sasl_authc_id": "ldap_id",
    "ldap_sasl_authz_id": "ldap_authz_id",
    "ldap_sasl_realm": "ldap_realm",
    "ldap_sasl_mech": "ldap_mech",
}


# --------------------------------------------------------------------------------------------
# saslauthd.conf


def _origin(path: str, line: int, line_origins: Mapping[int, Origin] | None) -> Origin:
    if line_origins is not None and line in line_origins:
        return line_origins[line]
    return Origin("file", f"{path}:{line}")


class LineRejected(InputError):
    """A line that makes lak_config_read() fail (LAK_FAIL): saslauthd rejects the whole file."""


def _split_line(raw: str, where: str) -> tuple[str, str] | None:
    """One line as lak_config_read() takes it apart: (lowercased key, value) or None to skip."""
    if len(raw.encode()) > FGETS_BUFFER - 2:
        raise InputError(f"line longer than {FGETS_BUFFER - 2} bytes: saslauthd splits it", where=where)
    line = raw.lstrip(C_SPACE)
    if not line or line.startswith("#"):
        return None
    end = 0
    while end < len(line) and line[end] in _KEY_CHARS:
        end += 1
    key = line[:end].lower()
    if line[end : end + 1] != ":":
        raise LineRejected(
            "expected 'key: value' (a key of letters, digits, '-' or '_' followed at once by ':'); "
            "saslauthd rejects the whole file",
            where=where,
        )
    value = line[end + 1 :].lstrip(C_SPACE)
    if not value:
        known = key in SASLAUTHD_KEYS or key in SASLAUTHD_ALIASES  # never echo other text: it may be a secret
        raise LineRejected(
            f"{key if known else 'a key'}: empty value; saslauthd rejects the whole file", where=where
        )
    return key, value


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def parse_saslauthd_conf(
    text: str | bytes,
    path: str,
    line_origins: Mapping[int, Origin] | None = None,
    *,
    tolerant: bool = False,
) -> ConfFile:
    """Read saslauthd.conf as saslauthd's lak_config_read() does (aliases stored canonically).

    A line lak_config_read() rejects raises an InputError, or with `tolerant` is skipped and the
    ConfFile's `refused` says why saslauthd rejects the file (it logs no reason itself).
    """
    if isinstance(text, bytes):
        text = decode_config_bytes(text, path)
    entries: list[ConfEntry] = []
    refused = None
    for number, raw in enumerate(_lines(text), start=1):
        try:
            parsed = _split_line(raw, f"{path}:{number}")
        except LineRejected as error:
            if not tolerant:
                raise
            refused = refused or str(error)
            continue
        if parsed is None:
            continue
        key, value = parsed
        key = SASLAUTHD_ALIASES.get(key, key)
        entries.append(ConfEntry(key, value, number, number, _origin(path, number, line_origins)))
    rendered = line_origins is not None
    return ConfFile(path, "saslauthd", text, tuple(entries), rendered=rendered, refused=refused)


def read_saslauthd_conf(
    file: Path, as_path: str = "/etc/saslauthd.conf", *, tolerant: bool = False
) -> ConfFile:
    """Read saslauthd.conf from disk (lak_config_read())."""
    return parse_saslauthd_conf(read_config_text(file, as_path), as_path, tolerant=tolerant)


def _truncate(value: str, size: int) -> str:
    data = value.encode()
    return value if len(data) < size else data[: size - 1].decode(errors="ignore")


def effective_settings(conf: ConfFile) -> dict[str, ConfEntry]:
    """What lak_config_read() ends up with per key: unknown keys dropped, unrecognised enum values
    ignored (the earlier value stays), strings cut to their buffer size."""
    result: dict[str, ConfEntry] = {}
    for entry in conf.entries:
        spec = SASLAUTHD_KEYS.get(entry.key)
        if spec is None:
            continue
        if spec.kind == "enum" and entry.value.lower() not in spec.choices:
            continue
        if spec.kind == "str" and spec.size:
            entry = ConfEntry(
                entry.key, _truncate(entry.value, spec.size), entry.line, entry.last_line, entry.origin
            )
        result[entry.key] = entry
    return result


def saslauthd_conf_findings(conf: ConfFile) -> tuple[Finding, ...]:
    """Things saslauthd silently does with this file: ignored keys and values, truncation, blanks."""
    findings: list[Finding] = []
    for entry in conf.entries:
        where = f"{conf.path}:{entry.line}"
        spec = SASLAUTHD_KEYS.get(entry.key)
        if spec is None:
            findings.append(Finding("info", where, f"{entry.key}: not a saslauthd LDAP setting, ignored"))
            continue
        findings += _value_findings(entry, spec, where)
    return tuple(findings)


def _value_findings(entry: ConfEntry, spec: SaslauthdKey, where: str) -> list[Finding]:
    findings: list[Finding] = []
    value = entry.value
    if spec.kind == "enum" and value.lower() not in spec.choices + spec.documented:
        findings.append(
            Finding("warning", where, f"{entry.key}: value not recognised; saslauthd keeps the earlier one")
        )
    if spec.kind == "str" and spec.size and len(value.encode()) >= spec.size:
        findings.append(
            Finding("warning", where, f"{entry.key}: longer than {spec.size - 1} bytes; saslauthd cuts it")
        )
    if value != value.rstrip(C_SPACE):
        findings.append(
            Finding("warning", where, f"{entry.key}: trailing whitespace is part of the value for saslauthd")
        )
    return findings


# --------------------------------------------------------------------------------------------
# /etc/default/saslauthd: shell variable assignments


@dataclass(frozen=True)
class _Word:
    text: str  # the word after quote removal and expansion
    raw: str  # the word as written (to recognise NAME=)
    line: int
    last_line: int
    split: int = -1  # index in `text` just after the first unquoted '=', -1 if none


_SPECIAL_PARAMETERS = "0123456789@*#?-$!"


class _ShellLexer:
    """Just enough of the POSIX sh grammar for `NAME=value` lines (dash semantics)."""

    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path
        self.pos = 0
        self.line = 1
        self.variables: dict[str, str] = {}

    def error(self, message: str, line: int | None = None) -> InputError:
        return InputError(message, where=f"{self.path}:{line or self.line}")

    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def advance(self) -> str:
        char = self.text[self.pos]
        self.pos += 1
        if char == "\n":
            self.line += 1
        return char

    def assignments(self) -> list[ConfEntry]:
        """Every assignment in order; each takes effect before the next word is read, as in sh."""
        entries: list[ConfEntry] = []
        command: list[_Word] = []
        while self.pos < len(self.text):
            char = self.peek()
            if char in " \t":
                self.advance()
            elif char == "\\" and self.peek(1) == "\n":
                self.advance()
                self.advance()
            elif char in "\n;":
                self.advance()
                command = []
            elif char == "#":
                while self.pos < len(self.text) and self.peek() != "\n":
                    self.advance()
            elif char in "|&<>()`":
                raise self.error("shell syntax other than variable assignments")
            else:
                word = self.word()
                exporting = bool(command) and command[0].raw in ("export", "readonly")
                command.append(word)
                if len(command) == 1 and word.raw in ("export", "readonly"):
                    continue
                entry = self.assign(word, exporting)
                if entry is not None:
                    entries.append(entry)
        return entries

    def assign(self, word: _Word, exporting: bool) -> ConfEntry | None:
        """Apply `NAME=value`; `export NAME` sets nothing; anything else is refused."""
        name = word.raw.split("=", 1)[0]
        if exporting and word.split < 0 and _is_name(word.raw):
            return None
        if word.split < 0 or not _is_name(name):
            raise self.error("not a variable assignment; ldapdiag reads only NAME=value lines", word.line)
        value = word.text[word.split :]
        self.variables[name] = value
        origin = Origin("file", f"{self.path}:{word.line}")
        return ConfEntry(name, value, word.line, word.last_line, origin)

    def word(self) -> _Word:
        start, first_line = self.pos, self.line
        out: list[str] = []
        split = -1
        while self.pos < len(self.text) and self.peek() not in " \t\n;|&<>()":
            char = self.peek()
            if char == "'":
                out.append(self.single_quoted())
            elif char == '"':
                out.append(self.double_quoted())
            elif char == "\\":
                self.advance()
                if self.pos < len(self.text):
                    escaped = self.advance()
                    out.append("" if escaped == "\n" else escaped)
            elif char == "$":
                out.append(self.expansion())
            elif char == "`":
                raise self.error("command substitution is not supported")
            else:
                if char == "=" and split < 0:
                    split = len("".join(out)) + 1
                out.append(self.advance())
        return _Word("".join(out), self.text[start : self.pos], first_line, self.line, split)

    def single_quoted(self) -> str:
        line = self.line
        self.advance()
        end = self.text.find("'", self.pos)
        if end < 0:
            raise self.error("unterminated single quote", line)
        content = self.text[self.pos : end]
        while self.pos <= end:
            self.advance()
        return content

    def double_quoted(self) -> str:
        line = self.line
        self.advance()
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise self.error("unterminated double quote", line)
            char = self.peek()
            if char == '"':
                self.advance()
                return "".join(out)
            if char == "\\" and self.peek(1) in '$`"\\\n':
                self.advance()
                escaped = self.advance()
                out.append("" if escaped == "\n" else escaped)
            elif char == "$":
                out.append(self.expansion())
            elif char == "`":
                raise self.error("command substitution is not supported")
            else:
                out.append(self.advance())

    def expansion(self) -> str:
        """`$NAME` or `${NAME}` from earlier assignments in the file (unset: empty); `$` alone."""
        self.advance()
        char = self.peek()
        if char == "{":
            end = self.text.find("}", self.pos)
            name = self.text[self.pos + 1 : end] if end >= 0 else ""
            if not _is_name(name):
                raise self.error("only $NAME and ${NAME} expansions are supported")
            while self.pos <= end:
                self.advance()
            return self.variables.get(name, "")
        if char == "(" or (char and char in _SPECIAL_PARAMETERS):
            raise self.error("only $NAME and ${NAME} expansions are supported")
        start = self.pos
        while self.pos < len(self.text) and _is_name(self.text[start : self.pos + 1]):
            self.advance()
        name = self.text[start : self.pos]
        return self.variables.get(name, "") if name else "$"


def _is_name(text: str) -> bool:
    """A shell variable name: [A-Za-z_][A-Za-z0-9_]*."""
    return (
        bool(text)
        and text.isascii()
        and (text[0].isalpha() or text[0] == "_")
        and all(c.isalnum() or c == "_" for c in text)
    )


def parse_shell_defaults(text: str | bytes, path: str) -> ConfFile:
    """Read a /etc/default file's `NAME=value` assignments as `sh` sourcing it would set them."""
    if isinstance(text, bytes):
        text = decode_config_bytes(text, path)
    entries = _ShellLexer(text, path).assignments()
    return ConfFile(path, "shell", text, tuple(entries))
