"""LDAP string filters (RFC 4515) read exactly as OpenLDAP 2.5's libldap reads them.

postfix, dovecot and saslauthd hand their filter text to `ldap_search_ext()`, which turns it into
BER with `ldap_pvt_put_filter()` (libraries/libldap/filter.c, tag OPENLDAP_REL_ENG_2_5_13) or
fails with LDAP_FILTER_ERROR (-7, "Bad search filter") before anything is sent. `parse()` accepts
and rejects the same strings and yields the same filter; `encode()` writes a canonical string that
`parse()` reads back to the same tree. Rules worth knowing (each parser method names its function):

- `(&)` and `(|)` are accepted (RFC 4526 absolute true and false); `(!)` is not.
- A filter without outer parentheses (`mail=x`) is one simple filter spanning the whole text.
- `""` and a single `" "` encode no filter at all (`EmptyFilter`); other leading space is an error,
  and so is anything after the closing parenthesis.
- Spaces, tabs and newlines may follow an opening parenthesis and separate the filters of `&` and
  `|`; inside `!` they may come before the filter but not after it. Nothing else is trimmed: in
  `(cn = x)` the attribute is `cn ` (an error) and the value ` x`.
- Values take RFC 4515 escapes `\\XX` (either case) and the old RFC 1960 escapes `\\*`, `\\(`,
  `\\)`, `\\\\`; any other backslash, an unescaped `(` or `)` and, outside equality, a `*` are
  errors. Empty values are fine (`(cn=)`), empty substrings between two stars are not (`(cn=a**b)`).

The text is what libldap sees as a C string: it ends at the first NUL character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

LIBLDAP_FILTER_ERROR = -7
LIBLDAP_FILTER_ERROR_TEXT = "Bad search filter"

_SPACE = b" \t\n"  # LDAP_SPACE() in include/ldap_pvt.h
_OPEN, _CLOSE, _BACKSLASH = ord("("), ord(")"), ord("\\")
_HEX = b"0123456789abcdefABCDEF"
_OLD_ESCAPES = b"()*\\"  # RFC 1960 escapes that libldap still takes
_MUST_ESCAPE = frozenset("()*\\")
_DESCRIPTION = re.compile(rb"(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*)(?:;[A-Za-z0-9-]+)*")
_OID = re.compile(rb"[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*")


class FilterSyntaxError(ValueError):
    """libldap refuses the filter text: ldap_search_ext() fails with "Bad search filter" (-7)."""

    code: ClassVar[int] = LIBLDAP_FILTER_ERROR
    libldap_message: ClassVar[str] = LIBLDAP_FILTER_ERROR_TEXT

    def __init__(self, reason: str, position: int, text: str | bytes) -> None:
        super().__init__(reason, position, text)
        self.reason = reason
        self.position = position  # where the problem was found: index into `text`, 0-based
        self.text = text

    def __str__(self) -> str:
        return (
            f"{self.libldap_message} ({self.code}): {self.reason} "
            f"at position {self.position} of {self.text!r}"
        )


def is_attribute_description(name: str | bytes) -> bool:
    """Whether libldap takes `name` as an attribute description (ldap_is_desc in filter.c)."""
    raw = name.encode("utf-8", "surrogateescape") if isinstance(name, str) else name
    return _DESCRIPTION.fullmatch(raw) is not None


def is_matching_rule(name: str | bytes) -> bool:
    """Whether libldap takes `name` as a matching rule id (ldap_is_oid in filter.c)."""
    raw = name.encode("utf-8", "surrogateescape") if isinstance(name, str) else name
    return _OID.fullmatch(raw) is not None


def _check_attribute(name: str) -> None:
    """Refuse an attribute description libldap would not accept."""
    if not is_attribute_description(name):
        raise ValueError(f"libldap does not accept {name!r} as an attribute description")


def _as_bytes(value: bytes | str) -> bytes:
    """Assertion values are octets; text becomes UTF-8."""
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)


class Filter:
    """A filter as libldap encodes it: one of the node classes below."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class EmptyFilter(Filter):
    """`""` or `" "`: libldap encodes no filter at all (the SearchRequest lacks its filter)."""


@dataclass(frozen=True, slots=True)
class And(Filter):
    """`(&...)`; `(&)` with no filters is absolute true (RFC 4526)."""

    filters: tuple[Filter, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "filters", _children(self.filters))


@dataclass(frozen=True, slots=True)
class Or(Filter):
    """`(|...)`; `(|)` with no filters is absolute false (RFC 4526)."""

    filters: tuple[Filter, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "filters", _children(self.filters))


@dataclass(frozen=True, slots=True)
class Not(Filter):
    """`(!(...))`: exactly one filter."""

    filter: Filter

    def __post_init__(self) -> None:
        _children((self.filter,))


def _children(filters: tuple[Filter, ...]) -> tuple[Filter, ...]:
    """Filters inside &, | and ! (never the empty filter, which has no string inside parentheses)."""
    children = tuple(filters)
    for child in children:
        if not isinstance(child, Filter) or isinstance(child, EmptyFilter):
            raise ValueError(f"not a filter that can appear inside parentheses: {child!r}")
    return children


@dataclass(frozen=True, slots=True)
class _Assertion(Filter):
    """attribute OP value."""

    attribute: str
    value: bytes

    def __post_init__(self) -> None:
        _check_attribute(self.attribute)
        object.__setattr__(self, "value", _as_bytes(self.value))


@dataclass(frozen=True, slots=True)
class Equality(_Assertion):
    """`(attr=value)`, value without unescaped `*`."""


@dataclass(frozen=True, slots=True)
class GreaterOrEqual(_Assertion):
    """`(attr>=value)`."""


@dataclass(frozen=True, slots=True)
class LessOrEqual(_Assertion):
    """`(attr<=value)`."""


@dataclass(frozen=True, slots=True)
class Approx(_Assertion):
    """`(attr~=value)`."""


@dataclass(frozen=True, slots=True)
class Present(Filter):
    """`(attr=*)`."""

    attribute: str

    def __post_init__(self) -> None:
        _check_attribute(self.attribute)


@dataclass(frozen=True, slots=True)
class Substrings(Filter):
    """`(attr=initial*any*...*final)`: at least one non-empty part, no empty part."""

    attribute: str
    initial: bytes | None = None
    any: tuple[bytes, ...] = ()
    final: bytes | None = None

    def __post_init__(self) -> None:
        _check_attribute(self.attribute)
        parts = [self.initial, *self.any, self.final]
        object.__setattr__(self, "any", tuple(_as_bytes(part) for part in self.any))
        for name in ("initial", "final"):
            part = getattr(self, name)
            if part is not None:
                object.__setattr__(self, name, _as_bytes(part))
        if any(part is not None and len(part) == 0 for part in parts):
            raise ValueError("substrings cannot be empty (libldap: put_substring_filter)")
        if all(part is None for part in parts):
            raise ValueError("a substring filter needs at least one substring")


@dataclass(frozen=True, slots=True)
class Extensible(Filter):
    """`(attr:dn:rule:=value)` (RFC 4515 extensible match): attribute or rule, or both."""

    attribute: str | None
    rule: str | None
    value: bytes
    dn_attributes: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _as_bytes(self.value))
        if self.attribute is not None:
            _check_attribute(self.attribute)
        if self.rule is not None and not is_matching_rule(self.rule):
            raise ValueError(f"libldap does not accept {self.rule!r} as a matching rule")
        if not self.attribute and not self.rule:
            raise ValueError("an extensible match needs an attribute or a matching rule")
        if self.rule is not None and self.rule.lower() == "dn" and not self.dn_attributes:
            raise ValueError("libldap reads 'attr:dn:=' as the dnAttributes flag, not as rule 'dn'")


# ---------------------------------------------------------------------------------------------
# parsing


def parse(text: str | bytes) -> Filter:
    """Read a filter string the way ldap_pvt_put_filter() does; FilterSyntaxError where it fails."""
    data = _input_bytes(text)
    try:
        return _Parser(data, text).whole()
    except RecursionError:
        raise ValueError("filter nested too deeply for ldapdiag (libldap has no such limit)") from None


def _input_bytes(text: str | bytes) -> bytes:
    """The C string libldap receives: UTF-8 for text, cut at the first NUL."""
    if isinstance(text, str):
        try:
            data = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as error:
            raise FilterSyntaxError("text that is not UTF-8", error.start, text) from None
    else:
        data = bytes(text)
    return data.split(b"\0", 1)[0]


class _Parser:
    """One pass over the filter bytes; every method handles data[start:end] like its C function."""

    def __init__(self, data: bytes, text: str | bytes) -> None:
        self.data = data
        self.text = text

    def fail(self, reason: str, position: int) -> FilterSyntaxError:
        """The error to raise, with the position as an index into the caller's text."""
        if isinstance(self.text, str):
            position = len(self.data[:position].decode("utf-8", "surrogateescape"))
        return FilterSyntaxError(reason, position, self.text)

    def whole(self) -> Filter:
        """ldap_pvt_put_filter() on the whole text: empty and single-space texts encode nothing."""
        if self.data in (b"", b" "):
            return EmptyFilter()
        return self.filter(0, len(self.data))

    def filter(self, start: int, end: int) -> Filter:
        """ldap_pvt_put_filter(): one parenthesized filter, or one bare simple filter."""
        first = self.data[start]
        if first == ord("("):
            node, after = self.parenthesized(start, end)
            if after != end:
                raise self.fail("text after the filter", after)
            return node
        if first == ord(")"):
            raise self.fail("')' without '('", start)
        if first == ord(" "):
            raise self.fail("space before the filter", start)
        return self.simple(start, end)

    def parenthesized(self, start: int, end: int) -> tuple[Filter, int]:
        """The '(' branch of ldap_pvt_put_filter(): &, |, ! or a simple filter up to its ')'."""
        inner = start + 1
        while inner < end and self.data[inner] in _SPACE:
            inner += 1
        if inner < end and self.data[inner] in b"&|!":
            return self.complex(start, inner, end)
        if inner < end and self.data[inner] == ord("("):
            raise self.fail("'(' where a filter should start", inner)
        close = self.closing_paren(inner, end)
        if close is None:
            raise self.fail("no matching ')'", start)
        return self.simple(inner, close), close + 1

    def closing_paren(self, start: int, end: int) -> int | None:
        """find_right_paren(): the ')' closing an already open '(', skipping backslash-escaped bytes."""
        balance, escaped = 1, False
        for index in range(start, end):
            byte = self.data[index]
            if not escaped and byte == _OPEN:
                balance += 1
            elif not escaped and byte == _CLOSE:
                balance -= 1
                if balance == 0:
                    return index
            escaped = byte == _BACKSLASH and not escaped
        return None

    def complex(self, start: int, operator: int, end: int) -> tuple[Filter, int]:
        """put_complex_filter(): `&`, `|` or `!` followed by filters up to the matching ')'."""
        close = self.closing_paren(operator + 1, end)
        if close is None:
            raise self.fail("no matching ')'", start)
        kind = chr(self.data[operator])
        children = self.filter_list(operator + 1, close, kind)
        if kind == "&":
            return And(children), close + 1
        if kind == "|":
            return Or(children), close + 1
        return Not(children[0]), close + 1

    def filter_list(self, start: int, end: int, kind: str) -> tuple[Filter, ...]:
        """put_filter_list(): "(f1) (f2)..." with spaces between; `!` takes one and nothing after."""
        children: list[Filter] = []
        index = start
        while index < end:
            while index < end and self.data[index] in _SPACE:
                index += 1
            if index == end:
                break
            if self.data[index] != ord("("):
                raise self.fail("a filter in a list must start with '('", index)
            close = self.closing_paren(index + 1, end)
            if close is None:
                raise self.fail("no matching ')'", index)
            children.append(self.filter(index, close + 1))
            index = close + 1
            if kind == "!":
                break
        if kind == "!" and not children:
            raise self.fail("'!' without a filter", start)
        if kind == "!" and index < end:
            raise self.fail("'!' takes exactly one filter and nothing after it", index)
        return tuple(children)

    def simple(self, start: int, end: int) -> Filter:
        """put_simple_filter(): attr=value, attr~=, >=, <=, extensible match, presence, substrings."""
        equals = self.data.find(b"=", start, end)
        if equals < 0:
            raise self.fail("no '=' in the filter", start)
        if equals == start:
            raise self.fail("no attribute before '='", start)
        operator = chr(self.data[equals - 1])
        if operator == ":":
            return self.extensible(start, equals, end)
        if operator in "<>~":
            attribute = self.attribute(start, equals - 1)
            value = self.value(equals + 1, end, wildcards=False)[0]
            node = {"<": LessOrEqual, ">": GreaterOrEqual, "~": Approx}[operator]
            return node(attribute, value)
        attribute = self.attribute(start, equals)
        return self.equality_like(attribute, equals + 1, end)

    def attribute(self, start: int, end: int) -> str:
        """ldap_is_desc(): an attribute name or numeric OID, with `;options`."""
        raw = self.data[start:end]
        if not is_attribute_description(raw):
            raise self.fail(f"invalid attribute description {raw.decode('utf-8', 'replace')!r}", start)
        return raw.decode("ascii")

    def equality_like(self, attribute: str, start: int, end: int) -> Filter:
        """put_simple_filter() default branch: `*` alone is presence, other stars make substrings."""
        if self.data[start:end] == b"*":
            return Present(attribute)
        parts = self.value(start, end, wildcards=True)
        if len(parts) == 1:
            return Equality(attribute, parts[0])
        return self.substrings(attribute, parts, start)

    def substrings(self, attribute: str, parts: list[bytes], start: int) -> Substrings:
        """put_substring_filter(): first and last parts may be empty, the ones between may not."""
        middle = parts[1:-1]
        if any(len(part) == 0 for part in middle):
            raise self.fail("empty substring between two '*'", start)
        return Substrings(attribute, parts[0] or None, tuple(middle), parts[-1] or None)

    def extensible(self, start: int, colon_equals: int, end: int) -> Extensible:
        """put_simple_filter() ':' branch: `type[:dn][:rule]:=value` or `[:dn]:rule:=value`."""
        left = self.data[start : colon_equals - 1]
        attribute, dn_attributes, rule = self.extensible_parts(left, start)
        if not attribute and not rule:
            raise self.fail("extensible match without attribute and matching rule", start)
        if attribute and not is_attribute_description(attribute):
            raise self.fail(f"invalid attribute description {attribute.decode('utf-8', 'replace')!r}", start)
        if rule and not is_matching_rule(rule):
            raise self.fail(f"invalid matching rule {rule.decode('utf-8', 'replace')!r}", start)
        value = self.value(colon_equals + 1, end, wildcards=False)[0]
        return Extensible(
            attribute.decode("ascii") or None, rule.decode("ascii") or None, value, dn_attributes
        )

    def extensible_parts(self, left: bytes, start: int) -> tuple[bytes, bool, bytes]:
        """Split `type:dn:rule` at its colons as put_simple_filter() does (":dn" needs a type)."""
        attribute, colon, rest = left.partition(b":")
        if not colon:
            return attribute, False, b""
        flag, colon, rule = rest.partition(b":")
        if colon:
            if flag.lower() != b"dn":
                raise self.fail("only ':dn' may come between attribute and matching rule", start)
            return attribute, True, rule
        if flag.lower() == b"dn":
            if not is_attribute_description(attribute):
                raise self.fail("':dn' without a valid attribute", start)
            return attribute, True, b""
        return attribute, False, flag

    def value(self, start: int, end: int, *, wildcards: bool) -> list[bytes]:
        """ldap_pvt_find_wildcard() + ldap_pvt_filter_value_unescape(): the parts between stars."""
        parts: list[bytes] = []
        current = bytearray()
        index = start
        while index < end:
            byte = self.data[index]
            if byte == ord("*") and wildcards:
                parts.append(bytes(current))
                current = bytearray()
            elif byte in b"()*":
                raise self.fail(f"unescaped {chr(byte)!r} in a value", index)
            elif byte == ord("\\"):
                current.append(self.escape(index, end))
                index += 2 if self.data[index + 1] in _OLD_ESCAPES else 3
                continue
            else:
                current.append(byte)
            index += 1
        parts.append(bytes(current))
        return parts

    def escape(self, index: int, end: int) -> int:
        """One escape: `\\XX` (two hex digits, any case) or RFC 1960's `\\*` `\\(` `\\)` `\\\\`."""
        following = self.data[index + 1 : min(index + 3, end)]
        if not following:
            raise self.fail("'\\' at the end of a value", index)
        if following[0] in _OLD_ESCAPES:
            return following[0]
        if len(following) == 2 and following[0] in _HEX and following[1] in _HEX:
            return int(following, 16)
        raise self.fail("'\\' must be followed by two hex digits", index)


# ---------------------------------------------------------------------------------------------
# encoding


def encode(node: Filter) -> str:
    """The canonical RFC 4515 string for a filter; parse() reads it back to the same tree."""
    if type(node) is Equality:  # most leaves (the batches' thousands): no dispatch
        return f"({node.attribute}={escape_value(node.value)})"
    match node:
        case EmptyFilter():
            return ""
        case And(filters):
            return "(&" + "".join([encode(child) for child in filters]) + ")"
        case Or(filters):
            return "(|" + "".join([encode(child) for child in filters]) + ")"
        case Not(inner):
            return "(!" + encode(inner) + ")"
        case Present(attribute):
            return f"({attribute}=*)"
        case Substrings(attribute, initial, middle, final):
            parts = [initial or b"", *middle, final or b""]
            return f"({attribute}=" + "*".join(escape_value(part) for part in parts) + ")"
        case Extensible():
            return _encode_extensible(node)
        case _Assertion(attribute, value):
            return f"({attribute}{_OPERATORS[type(node)]}{escape_value(value)})"
    raise TypeError(f"not a filter: {node!r}")


_OPERATORS: dict[type, str] = {Equality: "=", GreaterOrEqual: ">=", LessOrEqual: "<=", Approx: "~="}


def _encode_extensible(node: Extensible) -> str:
    """`attr:dn:rule:=value`, leaving out what is absent."""
    left = node.attribute or ""
    if node.dn_attributes:
        left += ":dn"
    if node.rule:
        left += ":" + node.rule
    return f"({left}:={escape_value(node.value)})"


def escape_value(value: bytes) -> str:
    """An assertion value as RFC 4515 text that ldap_pvt_filter_value_unescape() reads back exactly.

    `( ) * \\`, NUL, other non-printable characters and bytes that are not UTF-8 become `\\xx`;
    printable UTF-8 text stays as it is.
    """
    text = value.decode("utf-8", "surrogateescape")
    if text.isascii() and text.isprintable() and _MUST_ESCAPE.isdisjoint(text):
        return text  # nothing to escape (the loop below would keep every character)
    out: list[str] = []
    for char in text:
        if 0xDC80 <= ord(char) <= 0xDCFF:  # a byte that is not part of valid UTF-8
            out.append(f"\\{ord(char) - 0xDC00:02x}")
        elif char in _MUST_ESCAPE or not char.isprintable():
            out.extend(f"\\{byte:02x}" for byte in char.encode("utf-8"))
        else:
            out.append(char)
    return "".join(out)
