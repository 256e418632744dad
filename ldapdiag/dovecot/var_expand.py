"""Dovecot's %variable expansion, exactly as 2.3 does it.

Mirrors dovecot 2.3.19.1 src/lib/var-expand.c `var_expand_with_funcs()`: `%[-][0]W[.W][mods]X`
and `%[...]{long_key}` / `%{func:data}`; modifiers L U E X R H N M D T (up to 10) applied to the
value after the table's escaping; an unknown variable leaves `UNSUPPORTED_VARIABLE_x` in the
text and makes the expansion fail (return 0), which callers such as the LDAP base and filter turn
into an internal failure, while attribute templates only warn.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

Func = Callable[[str], str | None]  # `%{name:data}` -> value (None: empty)

MAX_MODIFIERS = 10
# hash_methods[] of src/lib/hash-method.c, and pkcs5: var_expand_hash() extensions
_HASH_EXTENSIONS = frozenset({"md4", "md5", "sha1", "sha256", "sha384", "sha512", "sha3-256", "sha3-512"})


class UnsupportedExpansion(Exception):
    """A construct dovecot supports that ldapdiag does not emulate (hash functions, %{pid}...)."""


class Variable(NamedTuple):
    """One var_expand_table row: a one-character key, a long key, a value (None = unset)."""

    key: str  # "" when the row has only a long key
    long_key: str | None
    value: str | None


@dataclass(unsafe_hash=True, slots=True)  # never changed once made; not frozen: see postfix/tables.py
class Expansion:
    """The expanded text and whether dovecot considers the expansion successful."""

    text: str
    ok: bool
    error: str | None = None


def _str_hash(text: str) -> int:
    """str_hash() of lib/hash.c: h = h*31 + c (unsigned 32-bit)."""
    value = 0
    for byte in text.encode("utf-8", "surrogateescape"):
        value = (value * 31 + byte) & 0xFFFFFFFF
    return value


def _hex(text: str) -> str:
    """m_str_hex(): str_to_ullong() (digits only) printed as %llx; anything else is 0."""
    return f"{int(text):x}" if text.isascii() and text.isdigit() and int(text) < 2**64 else "0"


def _ldap_dn(text: str) -> str:
    return text.replace(".", ",dc=")


def _escape(text: str) -> str:
    """str_escape(): backslash before '"', '\\' and '\''."""
    return "".join("\\" + c if c in "\"\\'" else c for c in text)


class _Context:
    """Per-variable state the modifiers see (width and offset, for %H and %N)."""

    def __init__(self) -> None:
        self.width = 0
        self.offset = 0
        self.zero_padding = False


def _hash_modifier(text: str, ctx: _Context) -> str:
    value = _str_hash(text)
    if ctx.width:
        value %= ctx.width
        ctx.width = 0
    result = f"{value:x}".rjust(ctx.offset, "0")
    ctx.offset = 0
    return result


def _newhash_modifier(text: str, ctx: _Context) -> str:
    digest = hashlib.md5(text.encode("utf-8", "surrogateescape")).digest()
    value = int.from_bytes(digest[:8], "big")
    if ctx.width:
        value %= ctx.width
        ctx.width = 0
    result = f"{value & 0xFFFFFFFF:x}".rjust(ctx.offset, "0")
    ctx.offset = 0
    return result


_MODIFIERS: Mapping[str, Callable[[str, _Context], str]] = {
    "L": lambda s, _c: s.lower() if s.isascii() else "".join(c.lower() if c.isascii() else c for c in s),
    "U": lambda s, _c: "".join(c.upper() if c.isascii() else c for c in s),
    "E": lambda s, _c: _escape(s),
    "X": lambda s, _c: _hex(s),
    "R": lambda s, _c: s[::-1],
    "H": _hash_modifier,
    "N": _newhash_modifier,
    "M": lambda s, _c: hashlib.md5(s.encode("utf-8", "surrogateescape")).hexdigest(),
    "D": lambda s, _c: _ldap_dn(s),
    "T": lambda s, _c: s.rstrip(" \t\n\v\f\r"),
}


@dataclass
class _Expander:
    table: tuple[Variable, ...]
    funcs: Mapping[str, Func]
    builtins: Mapping[str, str]
    error: str | None = None
    ok: bool = True

    def fail(self, message: str) -> None:
        self.ok = False
        if self.error is None:
            self.error = message

    def short(self, key: str) -> tuple[str, bool]:
        for row in self.table:
            if row.key == key:
                return row.value or "", True
        if key == "%":
            return "%", True
        self.fail(f"Unknown variable '%{key}'")
        return f"UNSUPPORTED_VARIABLE_{key}", False

    def long(self, key: str) -> tuple[str, bool]:
        for row in self.table:
            if row.long_key is not None and row.long_key == key:
                return row.value or "", True
        if key in ("pid", "uid", "gid"):
            raise UnsupportedExpansion(f"%{{{key}}} depends on the running dovecot process")
        if key == "hostname" and "hostname" in self.builtins:
            return self.builtins["hostname"], True
        name, colon, data = key.partition(":")
        name_lower = name.split(";", 1)[0].lower()
        if name_lower in _HASH_EXTENSIONS or name_lower == "pkcs5":
            raise UnsupportedExpansion(f"%{{{name}:...}} (hash functions) is not emulated by ldapdiag")
        if name == "env":
            return self.builtins.get(f"env:{data}", ""), True
        func = self.funcs.get(name)
        if func is not None:
            return func(data if colon else "") or "", True
        self.fail(f"Unknown variable '%{name}'")
        return f"UNSUPPORTED_VARIABLE_{name}", False


class _Reference(NamedTuple):
    """One `%...X` or `%...{key}` of a template, parsed: what var_expand_with_funcs() reads."""

    long: bool
    key: str
    modifiers: tuple[Callable[[str, _Context], str], ...]
    width: int
    offset: int
    zero_padding: bool


@lru_cache(maxsize=1024)
def _compile(template: str) -> tuple[str | _Reference, ...]:
    """The template as literal text and references, parsed once (it is expanded for every request)."""
    parts: list[str | _Reference] = []
    literal: list[str] = []
    index = 0
    size = len(template)
    while index < size:
        char = template[index]
        if char != "%":
            literal.append(char)
            index += 1
            continue
        index += 1
        ctx = _Context()
        index = _parse_width(template, index, ctx)
        modifiers: list[Callable[[str, _Context], str]] = []
        while len(modifiers) < MAX_MODIFIERS and index < size and template[index] in _MODIFIERS:
            modifiers.append(_MODIFIERS[template[index]])
            index += 1
        if index >= size:
            break
        if template[index] == "{" and "}" in template[index:]:
            end = _long_key_end(template, index)
            key, long = template[index + 1 : end], True
            index = end + 1 if end < size else end
        else:
            key, long = template[index], False
            index += 1
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(_Reference(long, key, tuple(modifiers), ctx.width, ctx.offset, ctx.zero_padding))
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


@lru_cache(maxsize=1024)
def referenced(template: str) -> frozenset[str]:
    """The keys a template asks of the table (`%u`: u, `%{user}`: user); rows with none of them
    are never read (keys are unique, so a table without them expands the template alike)."""
    return frozenset(part.key for part in _compile(template) if part.__class__ is not str)  # type: ignore[union-attr]


def var_expand(
    template: str,
    table: tuple[Variable, ...],
    funcs: Mapping[str, Func] | None = None,
    builtins: Mapping[str, str] | None = None,
) -> Expansion:
    """var_expand_with_funcs(template, table, funcs): the text and dovecot's verdict."""
    parts = _compile(template)
    if len(parts) == 1 and parts[0].__class__ is str:
        return Expansion(parts[0], True)  # type: ignore[arg-type]
    expander = _Expander(table, funcs or {}, builtins or {})
    out: list[str] = []
    for part in parts:
        if part.__class__ is str:
            out.append(part)  # type: ignore[arg-type]
            continue
        ref: _Reference = part  # type: ignore[assignment]
        value, ok = expander.long(ref.key) if ref.long else expander.short(ref.key)
        if ok and (ref.modifiers or ref.width or ref.offset):
            ctx = _Context()
            ctx.width, ctx.offset, ctx.zero_padding = ref.width, ref.offset, ref.zero_padding
            value = _apply(value, ok, ref.modifiers, ctx)
        out.append(value)
    return Expansion("".join(out), expander.ok, expander.error)


def _parse_width(template: str, index: int, ctx: _Context) -> int:
    """[-][0]<width>[.[0][-]<width>] as var_expand_with_funcs() reads it."""
    size = len(template)
    sign = 1
    if index < size and template[index] == "-":
        sign = -1
        index += 1
    if index < size and template[index] == "0":
        ctx.zero_padding = True
        index += 1
    while index < size and template[index].isdigit() and template[index].isascii():
        ctx.width = ctx.width * 10 + int(template[index])
        index += 1
    if index < size and template[index] == ".":
        ctx.offset = sign * ctx.width
        sign = 1
        ctx.width = 0
        index += 1
        ctx.zero_padding = False
        if index < size and template[index] == "0":
            ctx.zero_padding = True
            index += 1
        if index < size and template[index] == "-":
            sign = -1
            index += 1
        while index < size and template[index].isdigit() and template[index].isascii():
            ctx.width = ctx.width * 10 + int(template[index])
            index += 1
        ctx.width = sign * ctx.width
    return index


def _long_key_end(template: str, start: int) -> int:
    """The index of the closing '}' (or the end of the text), braces nested, backslash escapes."""
    depth = 1
    escape = False
    end = start
    while True:
        end += 1
        if end >= len(template) or depth == 0:
            break
        char = template[end]
        if not escape and char == "\\":
            escape = True
            continue
        if escape:
            escape = False
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
    return end - 1 if depth == 0 else end


def _apply(value: str, ok: bool, modifiers: Sequence[Callable[[str, _Context], str]], ctx: _Context) -> str:
    """Modifiers, then offset and width, as var_expand_with_funcs() does for a known variable."""
    if not ok:
        return value
    for modifier in modifiers:
        value = modifier(value, ctx)
    if ctx.offset < 0:
        if len(value) > -ctx.offset:
            value = value[len(value) + ctx.offset :]
    else:
        value = value[ctx.offset :]
    if ctx.width == 0:
        return value
    if not ctx.zero_padding:
        width = len(value) + ctx.width if ctx.width < 0 else ctx.width
        return value if width < 0 else value[:width]  # a negative size_t appends everything
    return value.rjust(ctx.width, "0")
