"""Postfix configuration files: main.cf and ldap_table(5) `.cf` files, read as postfix 3.7 reads them.

Both file kinds go through the same reader in postfix: `dict_load_fp()` (util/dict.c), which takes
logical lines from `readllines()` (util/readlline.c) and splits each with `split_nameval()`
(util/split_nameval.c). main.cf is loaded by `mail_conf_read()` -> `dict_load_file_xt()`
(global/mail_conf.c); an ldap table file by `cfg_parser_alloc()` -> `dict_load_file_xt()`
(global/cfg_parser.c). The rules (each checked with postconf/postmap 3.7.11, see the tests):

- A line whose first non-blank character is `#` is a comment; so is a blank line. `#` elsewhere
  is literal text: `query_filter = (mail=%s) # x` keeps ` # x` in the value.
- A line that starts with whitespace continues the previous logical line. Comment and blank lines
  in between do not end it. The text is joined as is, without a separator: the newline goes, the
  continuation's leading whitespace stays (postconf's output squeezes whitespace; dict_ldap sees the
  raw value). An indented line with no logical line before it (the top of the file) is ignored,
  with its continuations; postfix warns "logical line must not start with whitespace".
- `name = value`: the name ends at whitespace or `=`; blanks around `=` and at the end of the value
  go. A logical line without `=` after the name, or without a name, is fatal in postconf, postmap
  and every daemon ("missing '=' after attribute name", "missing attribute name").
- A name that appears again overrides the earlier value (postfix warns "overriding earlier entry").

Values in an ldap table file are NOT `$name`-expanded: `get_dict_str()` (global/cfg_parser.c)
returns the raw `dict_lookup()` result, and `postmap -v` shows `search_base = dc=$mydomain` as is.
main.cf values are expanded when a program reads them (`mail_conf_lookup_eval()` ->
`dict_eval()` -> `mac_expand()` with MAC_EXP_FLAG_RECURSE): see `expand_postfix_value`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ldapdiag.config.model import SECRET_KEYS, ConfEntry, ConfFile
from ldapdiag.config.origin import Finding, Origin
from ldapdiag.errors import InputError

# C isspace() in the "C" locale, which postfix uses (ISSPACE in util/sys_defs.h).
C_SPACE = " \t\n\v\f\r"
# CHARS_SPACE / CHARS_COMMA_SP / CHARS_BRACE in util/sys_defs.h.
MAC_EXP_WHITESPACE = " \t\r\n"
LIST_SEPARATORS = ", \t\r\n"
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_RELOP_CHARS = "<>!=?+-*/~&|%"
_MAX_NESTING = 100  # mac_expand_callback(): "unreasonable macro call nesting"


# --------------------------------------------------------------------------------------------
# Reading bytes


def decode_config_bytes(data: bytes, as_path: str) -> str:
    """Decode a configuration file as UTF-8, naming the line of the first invalid byte sequence."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError("invalid UTF-8 byte sequence", where=f"{as_path}:{line}") from None


def read_config_text(file: Path, as_path: str) -> str:
    """Read a configuration file as text; a missing or unreadable file is an InputError naming it."""
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise InputError(f"file not found: {file}", where=as_path) from None
    except IsADirectoryError:
        raise InputError(f"is a directory, not a file: {file}", where=as_path) from None
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror}", where=as_path) from None
    return decode_config_bytes(data, as_path)


# --------------------------------------------------------------------------------------------
# Logical lines and name = value


@dataclass(frozen=True)
class _LogicalLine:
    first: int
    last: int
    text: str
    orphan: bool  # starts with whitespace: readllines() warns and drops it


def _is_skipped(raw: str) -> bool:
    """readllines(): empty, all-whitespace and `#` comment lines are ignored."""
    stripped = raw.lstrip(C_SPACE)
    return not stripped or stripped.startswith("#")


def _physical_lines(text: str) -> list[str]:
    """Lines split on newline only (a `\\r` stays in the line, as in postfix)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _logical_lines(text: str) -> Iterator[_LogicalLine]:
    """Mirror readllines() (util/readlline.c): join continuation lines, skip comments."""
    parts: list[str] = []
    first = last = 0
    for number, raw in enumerate(_physical_lines(text), start=1):
        if _is_skipped(raw):
            continue
        if raw[0] in C_SPACE and parts:
            parts.append(raw)
            last = number
            continue
        if parts:
            yield _LogicalLine(first, last, "".join(parts), parts[0][0] in C_SPACE)
        parts = [raw]
        first = last = number
    if parts:
        yield _LogicalLine(first, last, "".join(parts), parts[0][0] in C_SPACE)


def split_nameval(line: str) -> tuple[str, str]:
    """Mirror split_nameval() (util/split_nameval.c); raises ValueError with postfix's message."""
    rest = line.lstrip(C_SPACE)
    if not rest or rest[0] == "=":
        raise ValueError("missing attribute name")
    end = 0
    while end < len(rest) and rest[end] not in C_SPACE and rest[end] != "=":
        end += 1
    name, after = rest[:end], rest[end:].lstrip(C_SPACE)
    if not after.startswith("="):
        raise ValueError("missing '=' after attribute name")
    return name, after[1:].strip(C_SPACE)


def _origin(path: str, line: int, line_origins: Mapping[int, Origin] | None) -> Origin:
    if line_origins is not None and line in line_origins:
        return line_origins[line]
    return Origin("file", f"{path}:{line}")


def parse_postfix_cf(
    text: str | bytes,
    path: str,
    line_origins: Mapping[int, Origin] | None = None,
    *,
    tolerant: bool = False,
) -> ConfFile:
    """Read main.cf or an ldap_table .cf file as postfix's dict_load_fp() does.

    A line without `=` is fatal for postfix: an InputError, or with `tolerant` (ldap tables,
    which only the daemons that open them die on) a ConfFile whose `refused` holds postfix's
    `fatal:` text (the line skipped in `entries`).
    """
    if isinstance(text, bytes):
        text = decode_config_bytes(text, path)
    entries: list[ConfEntry] = []
    refused = None
    for logical in _logical_lines(text):
        if logical.orphan:
            continue
        try:
            key, value = split_nameval(logical.text)
        except ValueError as exc:
            if not tolerant:
                raise InputError(str(exc), where=f"{path}:{logical.first}") from None
            refused = refused or f'{path}, line {logical.first}: {exc}: "{_shown_line(logical.text)}"'
            continue
        origin = _origin(path, logical.first, line_origins)
        entries.append(ConfEntry(key, value, logical.first, logical.last, origin))
    return ConfFile(path, "postfix", text, tuple(entries), rendered=line_origins is not None, refused=refused)


# dict_ldap_open()'s parameters (postfix 3.7 ldap_table(5)): a refused line that starts with one is
# quoted; any other line might be a password on a line of its own.
LDAP_TABLE_PARAMETERS = frozenset(
    [
        "server_host",
        "server_port",
        "version",
        "scope",
        "search_base",
        "timeout",
        "query_filter",
        "result_format",
        "result_filter",
        "domain",
        "terminal_result_attribute",
        "leaf_result_attribute",
        "result_attribute",
        "special_result_attribute",
        "bind",
        "bind_dn",
        "bind_pw",
        "cache",
        "cache_expiry",
        "cache_size",
        "recursion_limit",
        "expansion_limit",
        "size_limit",
        "dereference",
        "chase_referrals",
        "sasl_mechs",
        "sasl_realm",
        "sasl_authz_id",
        "sasl_minssf",
        "start_tls",
        "tls_require_cert",
        "tls_ca_cert_file",
        "tls_ca_cert_dir",
        "tls_cert",
        "tls_key",
        "tls_random_file",
        "tls_cipher_suite",
        "debuglevel",
    ]
)


def _shown_line(text: str) -> str:
    """dict_load_fp() quotes the whole line; ldapdiag quotes it only when it starts with a known
    parameter other than the password (`bind_pw ********`), and never a line it cannot place."""
    line = text.rstrip(C_SPACE)
    words = line.lstrip(C_SPACE).split("=", 1)[0].split(None, 1)  # none for a line starting with `=`
    name = words[0] if words else ""
    if name in SECRET_KEYS["postfix"]:
        return line[: line.index(name) + len(name)] + " ********"
    if name not in LDAP_TABLE_PARAMETERS:
        return "(line not shown: it may hold a password)"
    return line


def read_postfix_cf(file: Path, as_path: str, *, tolerant: bool = False) -> ConfFile:
    """Read a main.cf or ldap_table file from disk (postfix's dict_load_file_xt())."""
    return parse_postfix_cf(read_config_text(file, as_path), as_path, tolerant=tolerant)


def postfix_cf_findings(conf: ConfFile) -> tuple[Finding, ...]:
    """The warnings postfix logs while loading the file: ignored indented lines, overridden keys."""
    findings: list[Finding] = []
    for logical in _logical_lines(conf.text):
        if logical.orphan:
            findings.append(
                Finding(
                    "warning",
                    f"{conf.path}:{logical.first}",
                    "line starts with whitespace but continues nothing: postfix ignores it",
                )
            )
    seen: dict[str, ConfEntry] = {}
    for entry in conf.entries:
        earlier = seen.get(entry.key)
        if earlier is not None and earlier.value != entry.value:
            findings.append(
                Finding(
                    "warning",
                    f"{conf.path}:{entry.line}",
                    f"{entry.key} overrides the earlier entry at line {earlier.line}",
                )
            )
        seen[entry.key] = entry
    return tuple(findings)


# --------------------------------------------------------------------------------------------
# $name expansion (util/mac_parse.c, util/mac_expand.c)


class _MacroError(Exception):
    """A MAC_PARSE_ERROR: postfix logs a warning and then dies with "macro processing error"."""


def _scan_reference(text: str, start: int) -> tuple[str, int]:
    """mac_parse(): the macro text after `$` at `start`, and the index after it."""
    if start < len(text) and text[start] in "({":
        open_char = text[start]
        close_char = ")" if open_char == "(" else "}"
        level, index = 1, start + 1
        while level > 0:
            if index >= len(text):
                raise _MacroError("truncated macro reference")
            if text[index] == open_char:
                level += 1
            elif text[index] == close_char:
                level -= 1
            index += 1
        return text[start + 1 : index - 1], index
    index = start
    while index < len(text) and text[index] in _NAME_CHARS:
        index += 1
    return text[start:index], index


def _extract_curly(text: str, start: int) -> tuple[str, int]:
    """mac_exp_extract_curly_payload(): `{...}` at `start`, balanced; skips whitespace after."""
    level, index = 1, start + 1
    while True:
        if index >= len(text):
            raise _MacroError("unbalanced {} in attribute expression")
        if text[index] == "{":
            level += 1
        elif text[index] == "}":
            level -= 1
            if level <= 0:
                break
        index += 1
    payload = text[start + 1 : index]
    index += 1
    while index < len(text) and text[index] in MAC_EXP_WHITESPACE:
        index += 1
    return payload, index


def _find_left_curly(text: str, index: int) -> int | None:
    """MAC_EXP_FIND_LEFT_CURLY: the index of `{` after optional whitespace, else None."""
    while index < len(text) and text[index] in MAC_EXP_WHITESPACE:
        index += 1
    return index if index < len(text) and text[index] == "{" else None


def _compare(left: str, op: str, right: str) -> bool:
    """mac_exp_eval(): numeric when both sides are all digits, else byte-wise."""
    if left.isascii() and right.isascii() and left.isdigit() and right.isdigit():
        delta = (int(left) > int(right)) - (int(left) < int(right))
    else:
        lb, rb = left.encode(), right.encode()
        delta = (lb > rb) - (lb < rb)
    return {
        "==": delta == 0,
        "!=": delta != 0,
        "<": delta < 0,
        "<=": delta <= 0,
        ">=": delta >= 0,
        ">": delta > 0,
    }[op]


class _Expander:
    """mac_expand() with MAC_EXP_FLAG_RECURSE over a parameter mapping."""

    def __init__(self, params: Mapping[str, str]) -> None:
        self.params = params
        self.level = 0

    def parse(self, text: str) -> str:
        """mac_parse(): literal text (`$$` is `$`) and `$name`/`${...}`/`$(...)` references."""
        out: list[str] = []
        index = 0
        while index < len(text):
            char = text[index]
            if char != "$":
                out.append(char)
                index += 1
            elif text[index + 1 : index + 2] == "$":
                out.append("$")
                index += 2
            else:
                name, index = _scan_reference(text, index + 1)
                if not name:
                    raise _MacroError("empty macro name")
                out.append(self.expression(name))
        return "".join(out)

    def expression(self, expr: str) -> str:
        """mac_expand_callback() for one MAC_PARSE_EXPR."""
        self.level += 1
        if self.level > _MAX_NESTING + 1:
            raise _MacroError("unreasonable macro call nesting")
        try:
            return self._expression(expr)
        finally:
            self.level -= 1

    def _expression(self, expr: str) -> str:
        curly = _find_left_curly(expr, 0)
        if curly is not None:
            lookup, index = self._relational(expr, curly)
            op = expr[index : index + 1]
            if op and op not in "?:":
                raise _MacroError('"?" or ":" expected')
            index += 1 if op else 0
        else:
            name, op, index = self._named(expr)
            lookup = self.params.get(name)
        if op == "?":
            return self._if_true(expr, index, lookup)
        if op == ":":
            return self._if_false(expr, index, lookup)
        return self.parse(lookup) if lookup else ""

    def _named(self, expr: str) -> tuple[str, str, int]:
        """A parameter name, then optional whitespace and `?` or `:` (or the end)."""
        index = start = len(expr) - len(expr.lstrip(MAC_EXP_WHITESPACE))
        while True:
            rest = expr[index:].lstrip(MAC_EXP_WHITESPACE)
            if not rest:
                return expr[start:index], "", len(expr)
            if rest[0] in "?:":
                return expr[start:index], rest[0], len(expr) - len(rest) + 1
            if expr[index] not in _NAME_CHARS:
                raise _MacroError("attribute name syntax error")
            index += 1

    def _operand(self, expr: str, index: int) -> tuple[str, int]:
        curly = _find_left_curly(expr, index)
        if curly is None:
            return expr[index:], len(expr)
        return _extract_curly(expr, curly)

    def _if_true(self, expr: str, index: int, lookup: str | None) -> str:
        text, index = self._operand(expr, index)
        result = self.parse(text) if lookup else ""
        if index >= len(expr):
            return result
        if expr[index] != ":":
            raise _MacroError('":" expected')
        return result + self._if_false(expr, index + 1, lookup)

    def _if_false(self, expr: str, index: int, lookup: str | None) -> str:
        text, index = self._operand(expr, index)
        result = "" if lookup else self.parse(text)
        if index < len(expr):
            raise _MacroError("unexpected input after conditional text")
        return result

    def _relational(self, expr: str, curly: int) -> tuple[str, int]:
        """mac_exp_parse_relational(): `{left} op {right}`; the result is "true" or ""."""
        left, index = _extract_curly(expr, curly)
        op_end = index
        while op_end < len(expr) and expr[op_end] in _RELOP_CHARS:
            op_end += 1
        op = expr[index:op_end]
        if op not in ("==", "!=", "<", "<=", ">=", ">"):
            raise _MacroError("relational operator expected")
        right_curly = _find_left_curly(expr, op_end)
        if right_curly is None:
            raise _MacroError('"{expression}" expected')
        right, index = _extract_curly(expr, right_curly)
        left_value = _Expander(self.params).parse(left)
        right_value = _Expander(self.params).parse(right)
        return ("true" if _compare(left_value, op, right_value) else ""), index


def expand_postfix_value(value: str, params: Mapping[str, str], where: str | None = None) -> str:
    """Expand `$name`, `${name}`, `$(name)`, `${name?text}`, `${name:text}` like postfix's mac_expand().

    Recursive (MAC_EXP_FLAG_RECURSE, as `mail_conf_lookup_eval()` uses it); an undefined name
    expands to nothing. A syntax error, which makes postfix die with "macro processing error", is
    an InputError. `params` holds the main.cf names with their raw (unexpanded) values.
    """
    try:
        return _Expander(params).parse(value)
    except _MacroError as exc:
        raise InputError(f"macro processing error: {exc}", where=where) from None


# --------------------------------------------------------------------------------------------
# Table lists


def split_table_list(value: str) -> list[str]:
    """Split a main.cf table list like maps_create() (global/maps.c) with mystrtokq() does.

    Separators are runs of comma, space, tab, CR and LF; text inside balanced `{}` is never split,
    so `inline:{ a=b, c=d }` stays one table. Expand `$name` first: postfix splits the expanded
    parameter value.
    """
    tables: list[str] = []
    index = 0
    while True:
        while index < len(value) and value[index] in LIST_SEPARATORS:
            index += 1
        if index >= len(value):
            return tables
        start, level = index, 0
        while index < len(value):
            char = value[index]
            if char == "{":
                level += 1
            elif level > 0 and char == "}":
                level -= 1
            elif level == 0 and char in LIST_SEPARATORS:
                break
            index += 1
        tables.append(value[start:index])
