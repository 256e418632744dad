"""Dovecot 2.3 configuration: dovecot-ldap.conf.ext and dovecot.conf, read as dovecot 2.3.19 reads them.

Two readers in dovecot share their line syntax (checked against doveconf 2.3.19.1 and a running
dovecot, see the tests):

- `settings_read_i()` (src/lib-settings/settings.c), which auth's `db_ldap_init()` calls through
  `settings_read_nosection()` for the file named by `passdb/userdb { args = ... }`;
- `config_parse_line()` / `config_parse_file()` (src/config/config-parser.c) for dovecot.conf.

Line rules common to both:

- Leading blanks (space, tab) go; a line whose first character is then `#`, or an empty line, is
  skipped (it does not end a continued line).
- `#` starts a comment anywhere outside quotes. Quotes (`"` or `'`) are tracked anywhere in the
  line with backslash escapes; an unterminated quote ends the scan, so the rest of the line stays
  (no error: the value keeps its quote character). A `#` not preceded by a blank still starts a
  comment; dovecot warns "Ambiguous '#' character".
- Trailing blanks go. A line ending in `\\` continues on the next line: the backslash and the
  blanks before it go and one space joins the parts.
- `key = value`: the key ends at a blank or `=`. A value that starts and ends with the same quote
  character loses them and is unescaped (`\\x` -> `x`, `str_unescape()`).
- A value that is neither: `name [name] {` opens a section, `}` closes one. CRLF line ends are
  read as LF (`i_stream_next_line()`).

dovecot-ldap.conf.ext only (`settings_read_i()`): unquoted values expand `$ENV:name` (at the start
or after a blank, name up to the next space) from dovecot's environment; `<file` and `$setting` are
NOT special. Keys are checked against db-ldap.c's `setting_defs` ("Unknown setting: KEY" is fatal),
booleans must be yes/no (any case) and numbers `sscanf("%i")`-style. Sections are skipped whole,
contents unchecked. `!include`/`!include_try` work as in dovecot.conf.

dovecot.conf only (`config_parse_line()`, `config_write_value()`): `key = <file` reads the file's
content; an unquoted value containing `$` is split into words and each word starting with `$` is
replaced by that setting's value (`config_write_keyvariable()`: the running config process
expands every reference; `doveconf -n` only `key = $key ...`); words are re-joined with one space.
A reference looks in the current filter (`protocol x {}`, `local`, `remote`, ...) only, falling
back to dovecot's built-in default - except `key = $key ...`, which falls back to the enclosing
scope. Section names may be quoted. `!include` and `!include_try` take a glob (with braces),
relative to the including file; files are read in sorted order; a pattern that matches nothing is
fatal for `!include` ("No matches").
"""

from __future__ import annotations

import glob
import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Literal

from ldapdiag.config.model import ConfEntry, ConfFile
from ldapdiag.config.origin import Finding, Origin
from ldapdiag.config.postfix_cf import decode_config_bytes, read_config_text
from ldapdiag.errors import InputError

IS_WHITE = " \t"

SettingType = Literal["str", "int", "bool"]

# src/auth/db-ldap.c `setting_defs` in 2.3.19.1 (DEF_STR / DEF_INT / DEF_BOOL).
LDAP_SETTINGS: Mapping[str, SettingType] = {
    "hosts": "str",
    "uris": "str",
    "dn": "str",
    "dnpass": "str",
    "auth_bind": "bool",
    "auth_bind_userdn": "str",
    "tls": "bool",
    "sasl_bind": "bool",
    "sasl_mech": "str",
    "sasl_realm": "str",
    "sasl_authz_id": "str",
    "tls_ca_cert_file": "str",
    "tls_ca_cert_dir": "str",
    "tls_cert_file": "str",
    "tls_key_file": "str",
    "tls_cipher_suite": "str",
    "tls_require_cert": "str",
    "deref": "str",
    "scope": "str",
    "base": "str",
    "ldap_version": "int",
    "debug_level": "str",
    "ldaprc_path": "str",
    "user_attrs": "str",
    "user_filter": "str",
    "pass_attrs": "str",
    "pass_filter": "str",
    "iterate_attrs": "str",
    "iterate_filter": "str",
    "default_pass_scheme": "str",
    "userdb_warning_disable": "bool",
    "blocking": "bool",
}

# Section types that are filters in dovecot.conf (config_filter_add_new_filter()).
FILTER_SECTIONS = frozenset({"protocol", "local", "remote", "local_name"})

_DUMP_HEADER = re.compile(r"^# (?P<version>\d+\.\d+\S*(?: \([0-9a-f]+\))?): (?P<source>\S.*)$")
_SETTING_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_SSCANF_INT = re.compile(r"[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")


# --------------------------------------------------------------------------------------------
# Line lexing shared by both readers


@dataclass(frozen=True)
class _Line:
    """One logical line: comments stripped, continuations joined."""

    first: int  # first physical line
    last: int  # last physical line: the one dovecot names in errors
    text: str
    ambiguous_hash: tuple[int, ...] = ()  # physical lines with a '#' not after a blank
    open_quote: tuple[int, ...] = ()  # physical lines with an unterminated quote


def _physical_lines(text: str) -> list[str]:
    """i_stream_read_next_line(): split on LF, drop one CR before it; a last partial line counts."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _strip_comment(line: str) -> tuple[str, bool, bool]:
    """The comment-stripping loop: (text, ambiguous '#', unterminated quote)."""
    index = 0
    while index < len(line):
        char = line[index]
        if char in "'\"":
            index += 1
            while index < len(line) and line[index] != char:
                index += 2 if line[index] == "\\" and index + 1 < len(line) else 1
            if index >= len(line):
                return line, False, True
        elif char == "#":
            return line[:index], line[index - 1] not in IS_WHITE, False
        index += 1
    return line, False, False


class _Joiner:
    """Turns physical lines into logical lines (the state dovecot keeps in `full_line`)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.first = 0
        self.ambiguous: list[int] = []
        self.open_quote: list[int] = []

    def _reset(self) -> None:
        self.parts, self.ambiguous, self.open_quote = [], [], []

    def feed(self, number: int, raw: str) -> _Line | None:
        line = raw.lstrip(IS_WHITE)
        if not line or line.startswith("#"):
            return None
        line, ambiguous, open_quote = _strip_comment(line)
        if ambiguous:
            self.ambiguous.append(number)
        if open_quote:
            self.open_quote.append(number)
        if not self.parts:
            self.first = number
        line = line.rstrip(IS_WHITE)
        if line.endswith("\\"):
            line = line[:-1].rstrip(IS_WHITE)
            if line:
                self.parts.append(line + " ")
            elif not self.parts:
                self.parts.append("")
            return None
        result = _Line(
            self.first,
            number,
            "".join(self.parts) + line,
            tuple(self.ambiguous),
            tuple(self.open_quote),
        )
        self._reset()
        return result


def _split_key(text: str) -> tuple[str, str]:
    """The key (up to a blank or `=`) and the rest after blanks."""
    index = 0
    while index < len(text) and text[index] not in IS_WHITE and text[index] != "=":
        index += 1
    return text[:index], text[index:].lstrip(IS_WHITE)


def str_unescape(text: str) -> str:
    """Dovecot's str_unescape(): a backslash takes the next character literally."""
    out: list[str] = []
    index = 0
    while index < len(text):
        if text[index] == "\\":
            index += 1
            if index >= len(text):
                break
        out.append(text[index])
        index += 1
    return "".join(out)


def _unquote(value: str) -> tuple[str, bool]:
    """Strip one pair of matching outer quotes and unescape; (value, was quoted)."""
    if value and value[0] in "'\"" and value[-1] == value[0]:
        return str_unescape(value[1:-1]), True
    return value, False


def _expand_env(value: str, env: Mapping[str, str]) -> str:
    """expand_environment_vars() (settings.c): `$ENV:name` at the start or after a blank."""
    out: list[str] = []
    index = 0
    while True:
        dollar = value.find("$", index)
        if dollar < 0:
            out.append(value[index:])
            return "".join(out)
        out.append(value[index:dollar])
        at_word = dollar == 0 or value[dollar - 1] in IS_WHITE
        if at_word and value.startswith("$ENV:", dollar):
            end = value.find(" ", dollar)
            name = value[dollar + 5 :] if end < 0 else value[dollar + 5 : end]
            out.append(env.get(name, ""))
            if end < 0:
                return "".join(out)
            index = end
        else:
            out.append("$")
            index = dollar + 1


def _has_env_reference(value: str) -> bool:
    return any(
        value.startswith("$ENV:", i) and (i == 0 or value[i - 1] in IS_WHITE) for i in range(len(value))
    )


# --------------------------------------------------------------------------------------------
# Includes, relative to the including file and read under a root directory


def fix_relative_path(path: str, including: str) -> str:
    """fix_relative_path(): a relative include is relative to the including file's directory."""
    if path.startswith("/") or "/" not in including:
        return path
    return including[: including.rindex("/") + 1] + path


def _expand_braces(pattern: str) -> list[str]:
    """GLOB_BRACE: `a{b,c}d` -> `abd`, `acd` (nested braces allowed)."""
    start = pattern.find("{")
    if start < 0:
        return [pattern]
    depth, index, commas = 0, start, []
    while index < len(pattern):
        char = pattern[index]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                break
        elif char == "," and depth == 1:
            commas.append(index)
        index += 1
    if index >= len(pattern):
        return [pattern]
    bounds = [start, *commas, index]
    head, tail = pattern[:start], pattern[index + 1 :]
    results: list[str] = []
    for left, right in itertools.pairwise(bounds):
        results += _expand_braces(head + pattern[left + 1 : right] + tail)
    return results


def glob_under_root(root: Path, pattern: str) -> list[str]:
    """glob(pattern, GLOB_BRACE) with absolute paths read under `root`; container paths back."""
    matches: list[str] = []
    for alternative in _expand_braces(pattern):
        host_pattern = str(root / alternative.lstrip("/"))
        found = (
            sorted(glob.glob(host_pattern))
            if glob.has_magic(alternative)
            else ([host_pattern] if Path(host_pattern).exists() else [])
        )
        matches += ["/" + str(PurePosixPath(Path(m).relative_to(root))) for m in found]
    return matches


def _host_path(root: Path, path: str) -> Path:
    return root / path.lstrip("/")


# --------------------------------------------------------------------------------------------
# dovecot-ldap.conf.ext (settings_read_i() via settings_read_nosection())


def _origin(path: str, line: int, line_origins: Mapping[int, Origin] | None) -> Origin:
    if line_origins is not None and line in line_origins:
        return line_origins[line]
    return Origin("file", f"{path}:{line}")


def sscanf_uint(value: str) -> int | None:
    """get_uint(): sscanf("%i") reads a leading decimal/octal/hex number; negative is invalid."""
    match = _SSCANF_INT.match(value)
    if not match:
        return None
    digits = match.group(2)
    number = int(digits, 16) if digits[:2].lower() == "0x" else int(digits, 8 if digits[0] == "0" else 10)
    number = -number if match.group(1) == "-" else number
    return number if number >= 0 else None


class DovecotFileError(InputError):
    """A line dovecot's settings reader refuses; `dovecot` is the error text dovecot itself gives
    ("Unknown setting: foo"), which it logs as "Error in configuration file PATH line N: TEXT"."""

    def __init__(self, message: str, where: str, dovecot: str) -> None:
        super().__init__(message, where=where)
        self.dovecot = dovecot


def _check_ldap_setting(key: str, value: str, where: str) -> None:
    """parse_setting_from_defs(): unknown key, bad boolean and bad number are fatal."""
    kind = LDAP_SETTINGS.get(key)
    if kind is None:
        # name the key only when it looks like one: `dnpass:secret=x` must not show the secret
        named = _SETTING_NAME.fullmatch(key) is not None
        shown = f": {key}" if named else ""
        raise DovecotFileError(
            f"Unknown setting{shown} (dovecot refuses the file)",
            where,
            f"Unknown setting: {key if named else '(name not shown: it may hold a password)'}",
        )
    if kind == "bool" and value.lower() not in ("yes", "no"):
        raise DovecotFileError(
            f"{key}: invalid boolean (dovecot accepts yes or no)", where, f"Invalid boolean: {value}"
        )
    if kind == "int" and sscanf_uint(value) is None:
        raise DovecotFileError(f"{key}: invalid number", where, f"Invalid number: {value}")


@dataclass
class _Input:
    """One file on the include stack."""

    path: str
    lines: list[str]
    index: int = 0


@dataclass
class _Reader:
    """The include stack both readers walk: `!include` pushes files, EOF pops them."""

    root: Path | None
    stack: list[_Input]
    findings: list[Finding] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def lines(self) -> Iterator[tuple[_Input, _Line]]:
        joiner = _Joiner()
        while self.stack:
            current = self.stack[-1]
            if current.index >= len(current.lines):
                self.stack.pop()
                continue
            if current.index == 0 and current.path not in self.files:
                self.files.append(current.path)
            raw = current.lines[current.index]
            current.index += 1
            logical = joiner.feed(current.index, raw)
            if logical is not None:
                self._warn(current.path, logical)
                yield current, logical

    def _warn(self, path: str, line: _Line) -> None:
        for number in line.ambiguous_hash:
            self.findings.append(
                Finding(
                    "warning",
                    f"{path}:{number}",
                    "'#' without a blank before it starts a comment (dovecot warns: ambiguous '#')",
                )
            )
        for number in line.open_quote:
            self.findings.append(
                Finding(
                    "warning",
                    f"{path}:{number}",
                    "unterminated quote: dovecot keeps the quote character in the value",
                )
            )

    def include(self, pattern: str, current: _Input, optional: bool, where: str, sorted_order: bool) -> None:
        """settings_include(): push every file the glob matches.

        config-parser.c pushes the matches last to first, so they are read in sorted order;
        settings.c (dovecot-ldap.conf.ext) pushes them first to last: read in reverse order.
        """
        if self.root is None:
            raise InputError("!include needs the configuration directory to read from", where=where)
        target = fix_relative_path(pattern, current.path)
        matches = glob_under_root(self.root, target)
        if not matches and not optional:
            raise DovecotFileError(
                f"!include {target}: no file matches (dovecot: No matches)", where, "No matches"
            )
        for path in reversed(matches) if sorted_order else matches:
            if any(item.path == path for item in self.stack):
                message = f"Recursive include file: {path}"
                raise DovecotFileError(message, where, message)
            try:
                text = read_config_text(_host_path(self.root, path), path)
            except InputError:
                if optional:
                    continue
                raise
            self.stack.append(_Input(path, _physical_lines(text) if text else []))


def _read_ldap_ext(
    text: str,
    path: str,
    line_origins: Mapping[int, Origin] | None,
    env: Mapping[str, str] | None,
    root: Path | None,
    tolerant: bool = False,
) -> tuple[ConfFile, tuple[Finding, ...]]:
    reader = _Reader(root, [_Input(path, _physical_lines(text) if text else [])])
    entries: list[ConfEntry] = []
    depth = [0]
    refused: str | None = None
    for current, line in reader.lines():
        try:
            entry = _ldap_ext_line(reader, current, line, depth, env)
        except DovecotFileError as error:
            if not tolerant:
                raise
            # db_ldap_init(): i_fatal("ldap %s: %s", config_path, error) - the auth process dies
            refused = refused or (
                f"ldap {path}: Error in configuration file {current.path} line {line.last}: {error.dovecot}"
            )
            continue
        if entry is not None:
            origin = _origin(current.path, line.first, line_origins if current.path == path else None)
            entries.append(ConfEntry(entry[0], entry[1], line.first, line.last, origin))
    conf = ConfFile(path, "dovecot", text, tuple(entries), rendered=line_origins is not None, refused=refused)
    return conf, tuple(reader.findings)


def _ldap_ext_line(
    reader: _Reader, current: _Input, line: _Line, depth: list[int], env: Mapping[str, str] | None
) -> tuple[str, str] | None:
    """settings_read_i() for one logical line: the (key, value) it sets, or None."""
    where = f"{current.path}:{line.last}"
    key, rest = _split_key(line.text)
    if key in ("!include", "!include_try"):
        reader.include(rest, current, key == "!include_try", where, sorted_order=False)
    elif rest.startswith("="):
        if depth[0]:
            return None
        value, quoted = _unquote(rest[1:].lstrip(IS_WHITE))
        if not quoted and _has_env_reference(value):
            if env is None:
                reader.findings.append(Finding("warning", where, f"{key}: $ENV: reference left unexpanded"))
            else:
                value = _expand_env(value, env)
        _check_ldap_setting(key, value, where)
        return key, value
    elif key != "}" or rest:
        _ldap_section_start(rest, where)
        if not depth[0]:
            reader.findings.append(
                Finding("warning", where, f"section {key} is ignored by dovecot in this file")
            )
        depth[0] += 1
    elif depth[0] == 0:
        raise DovecotFileError("Unexpected '}'", where, "Unexpected '}'")
    else:
        depth[0] -= 1
    return None


def _ldap_section_start(rest: str, where: str) -> None:
    """settings_read_i() case b): `type [name] {`, else "Expecting '='"."""
    if not rest.startswith("{"):
        name_end = 0
        while name_end < len(rest) and rest[name_end] not in IS_WHITE:
            name_end += 1
        rest = rest[name_end:].lstrip(IS_WHITE)
    if not rest.startswith("{"):
        raise DovecotFileError("Expecting '=' (not a key = value line)", where, "Expecting '='")


def parse_dovecot_ldap_ext(
    text: str | bytes,
    path: str,
    line_origins: Mapping[int, Origin] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    root: Path | None = None,
    tolerant: bool = False,
) -> ConfFile:
    """Read dovecot-ldap.conf.ext as dovecot 2.3's auth does (db_ldap_init() -> settings_read_i()).

    `env` is dovecot's environment for `$ENV:name` (left as is when None); `root` is the
    directory that absolute `!include` paths are read under. A line dovecot refuses raises an
    InputError, or with `tolerant` is skipped and the ConfFile's `refused` holds the fatal error
    dovecot's auth process dies with.
    """
    if isinstance(text, bytes):
        text = decode_config_bytes(text, path)
    return _read_ldap_ext(text, path, line_origins, env, root, tolerant)[0]


def dovecot_ldap_ext_findings(
    text: str, path: str, *, env: Mapping[str, str] | None = None, root: Path | None = None
) -> tuple[Finding, ...]:
    """What dovecot warns about (ambiguous '#') or silently does (quote kept, section skipped)."""
    return _read_ldap_ext(text, path, None, env, root)[1]


def read_dovecot_ldap_ext(root: Path, path: str = "/etc/dovecot/dovecot-ldap.conf.ext") -> ConfFile:
    """Read the LDAP file of a container copy under `root` (db_ldap_init())."""
    text = read_config_text(_host_path(root, path), path)
    return parse_dovecot_ldap_ext(text, path, root=root, tolerant=True)


# --------------------------------------------------------------------------------------------
# dovecot.conf (config_parse_file())


@dataclass(frozen=True)
class AuthDb:
    """A `passdb { }` or `userdb { }` block: its driver, args and other settings."""

    kind: Literal["passdb", "userdb"]
    driver: str
    args: str
    settings: Mapping[str, str]  # every other key of the block (last wins)
    entries: tuple[ConfEntry, ...]  # all settings of the block in file order
    origin: Origin  # where the block starts
    name: str = ""  # `passdb NAME {`
    protocol: str = ""  # the enclosing `protocol NAME {}` filter, "" at top level


@dataclass(frozen=True)
class DovecotSection:
    """Any other section (service, namespace, plugin, local/remote filters...), kept minimal."""

    kind: str
    name: str
    entries: tuple[ConfEntry, ...]
    sections: tuple[DovecotSection, ...]
    origin: Origin


@dataclass(frozen=True)
class DovecotConf:
    """dovecot.conf with its includes, as the dovecot config process reads it."""

    settings: ConfFile  # top-level settings only, format "dovecot"
    passdbs: tuple[AuthDb, ...]
    userdbs: tuple[AuthDb, ...]
    protocols: Mapping[str, ConfFile]  # `protocol NAME { }` settings, blocks of one name merged
    sections: tuple[DovecotSection, ...] = ()
    files: tuple[str, ...] = ()  # every file read, in reading order
    findings: tuple[Finding, ...] = ()
    dump_version: str | None = None  # e.g. "2.3.19.1 (9b53102964)" when a `doveconf -n` dump
    dump_source: str | None = None  # the config file the dump was made from


@dataclass
class _Block:
    """An open section while parsing."""

    kind: str
    name: str
    origin: Origin
    entries: list[ConfEntry] = field(default_factory=list)
    children: list[DovecotSection] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)  # filter scope for $references

    @property
    def is_filter(self) -> bool:
        return self.kind in FILTER_SECTIONS


@dataclass
class _ConfParser:
    """config_parse_file() state: the reader, open sections and what was collected."""

    reader: _Reader
    env: Mapping[str, str] | None
    top: list[ConfEntry] = field(default_factory=list)
    top_values: dict[str, str] = field(default_factory=dict)
    blocks: list[_Block] = field(default_factory=list)
    passdbs: list[AuthDb] = field(default_factory=list)
    userdbs: list[AuthDb] = field(default_factory=list)
    protocols: dict[str, list[ConfEntry]] = field(default_factory=dict)
    sections: list[DovecotSection] = field(default_factory=list)

    def run(self) -> None:
        for current, line in self.reader.lines():
            self.line(current, line)

    def line(self, current: _Input, line: _Line) -> None:
        where = f"{current.path}:{line.last}"
        key, rest = _split_key(line.text)
        if key in ("!include", "!include_try"):
            self.reader.include(rest, current, key == "!include_try", where, sorted_order=True)
        elif rest.startswith("="):
            value = self.value(key, rest[1:].lstrip(IS_WHITE), current, where)
            self.setting(
                ConfEntry(key, value, line.first, line.last, Origin("file", f"{current.path}:{line.first}"))
            )
        elif key == "}" and not rest:
            self.close(where)
        else:
            kind, name = _section_header(key, rest, where)
            self.blocks.append(_Block(kind, name, Origin("file", f"{current.path}:{line.first}")))

    # values ---------------------------------------------------------------------------------

    def value(self, key: str, raw: str, current: _Input, where: str) -> str:
        """config_parse_line() + config_write_value(): `<file`, `$references`, quotes."""
        if raw.startswith("<"):
            return self.file_value(key, raw[1:].lstrip(IS_WHITE), current, where)
        if raw[:1] not in ("'", '"') and "$" in raw:
            return _expand_references(raw, key, lambda name, own: self.lookup(name, own, key, where))
        return _unquote(raw)[0]

    def file_value(self, key: str, target: str, current: _Input, where: str) -> str:
        path = fix_relative_path(target, current.path)
        if self.reader.root is not None:
            file = _host_path(self.reader.root, path)
            try:
                return decode_config_bytes(file.read_bytes(), path)
            except OSError:
                pass
        self.reader.findings.append(
            Finding("warning", where, f"{key}: cannot read <{path}; the value is kept as the file name")
        )
        return "<" + target

    def lookup(self, name: str, own: bool, key: str, where: str) -> str:
        """config_get_value(): the current filter scope; `key = $key` falls back outward."""
        if name.startswith("ENV:"):
            if self.env is None:
                self.reader.findings.append(
                    Finding("warning", where, f"{key}: $ENV: reference left unexpanded")
                )
                return "$" + name
            return self.env.get(name[4:], "")
        scopes = self.scopes()
        for scope in scopes if own else scopes[:1]:
            if name in scope:
                return scope[name]
        outside = (
            " in this block (dovecot does not look outside it)" if any(name in s for s in scopes) else ""
        )
        self.reader.findings.append(
            Finding(
                "warning",
                where,
                f"{key}: ${name} is not set{outside}; dovecot uses its built-in default "
                "(ldapdiag assumed an empty value)",
            )
        )
        return ""

    def scopes(self) -> list[dict[str, str]]:
        """Filter scopes from the innermost outward, ending with the top level."""
        return [block.values for block in reversed(self.blocks) if block.is_filter] + [self.top_values]

    # settings and sections ------------------------------------------------------------------

    def setting(self, entry: ConfEntry) -> None:
        if not self.blocks or self.blocks[-1].is_filter:
            self.scopes()[0][entry.key] = entry.value
        if not self.blocks:
            self.top.append(entry)
            return
        block = self.blocks[-1]
        block.entries.append(entry)
        if block.kind == "protocol" and len(self.blocks) == 1:
            self.protocols.setdefault(block.name, []).append(entry)

    def close(self, where: str) -> None:
        if not self.blocks:
            raise InputError("Unexpected '}'", where=where)
        block = self.blocks.pop()
        if block.kind in ("passdb", "userdb"):
            target = self.passdbs if block.kind == "passdb" else self.userdbs
            target.append(self.auth_db(block))
            return
        if block.kind == "protocol" and not self.blocks:
            self.protocols.setdefault(block.name, [])
            return
        section = DovecotSection(
            block.kind, block.name, tuple(block.entries), tuple(block.children), block.origin
        )
        if self.blocks:
            self.blocks[-1].children.append(section)
        else:
            self.sections.append(section)

    def auth_db(self, block: _Block) -> AuthDb:
        settings = {entry.key: entry.value for entry in block.entries}
        protocol = next((b.name for b in reversed(self.blocks) if b.kind == "protocol"), "")
        return AuthDb(
            kind=block.kind,  # type: ignore[arg-type]
            driver=settings.pop("driver", ""),
            args=settings.pop("args", ""),
            settings=MappingProxyType(settings),
            entries=tuple(block.entries),
            origin=block.origin,
            name=block.name,
            protocol=protocol,
        )


def _expand_references(value: str, key: str, lookup: Callable[[str, bool], str]) -> str:
    """config_write_keyvariable(): words split at spaces; `$name` words are replaced."""
    out: list[str] = []
    index = 0
    while True:
        end = value.find(" ", index)
        word = value[index:] if end < 0 else value[index:end]
        out.append(lookup(word[1:], word[1:] == key) if word.startswith("$") else word)
        if end < 0:
            return "".join(out)
        out.append(" ")
        index = end
        while index < len(value) and value[index] in IS_WHITE:
            index += 1


def _section_header(key: str, rest: str, where: str) -> tuple[str, str]:
    """config_parse_line() case b): `type {`, `type name {`, `type "quoted name" {`."""
    name = ""
    if not rest.startswith("{"):
        if rest.startswith('"'):
            close = rest.find('"', 1)
            if close < 0:
                raise InputError("Expecting '{'", where=where)
            name, rest = str_unescape(rest[1:close]), rest[close + 1 :].lstrip(IS_WHITE)
        else:
            name_end = 0
            while name_end < len(rest) and rest[name_end] not in IS_WHITE:
                name_end += 1
            name, rest = rest[:name_end], rest[name_end:].lstrip(IS_WHITE)
        if not rest.startswith("{"):
            raise InputError("Expecting '{' (not a key = value line)", where=where)
    if rest != "{":
        raise InputError("Garbage after '{'", where=where)
    return key, name


def _dump_header(text: str) -> tuple[str | None, str | None]:
    """`doveconf -n` starts with `# VERSION (HASH): CONFIG-PATH`."""
    first = text.split("\n", 1)[0].rstrip("\r")
    match = _DUMP_HEADER.match(first)
    return (match.group("version"), match.group("source")) if match else (None, None)


def parse_dovecot_conf(
    text: str | bytes,
    path: str = "/etc/dovecot/dovecot.conf",
    root: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> DovecotConf:
    """Read dovecot.conf (or a saved `doveconf -n` dump) as dovecot's config_parse_file() does.

    `root` is the directory that absolute include and `<file` paths are read under (a copy of
    the container's root); without it `!include` is an InputError. `env` is dovecot's
    environment for `$ENV:name` (left as is when None).
    """
    if isinstance(text, bytes):
        text = decode_config_bytes(text, path)
    reader = _Reader(root, [_Input(path, _physical_lines(text) if text else [])])
    parser = _ConfParser(reader, env)
    parser.run()
    if parser.blocks:
        block = parser.blocks[-1]
        raise InputError(f"Missing '}}': section {block.kind} is not closed", where=block.origin.location)
    version, source = _dump_header(text)
    return DovecotConf(
        settings=ConfFile(path, "dovecot", text, tuple(parser.top)),
        passdbs=tuple(parser.passdbs),
        userdbs=tuple(parser.userdbs),
        protocols=MappingProxyType(
            {
                name: ConfFile(path, "dovecot", text, tuple(entries))
                for name, entries in parser.protocols.items()
            }
        ),
        sections=tuple(parser.sections),
        files=tuple(reader.files),
        findings=tuple(reader.findings),
        dump_version=version,
        dump_source=source,
    )


def load_dovecot_conf(root: Path, path: str = "/etc/dovecot/dovecot.conf") -> DovecotConf:
    """Read dovecot.conf and its includes from a copy of a container's root (config_parse_file())."""
    text = read_config_text(_host_path(root, path), path)
    return parse_dovecot_conf(text, path, root)
