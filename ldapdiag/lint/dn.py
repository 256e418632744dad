"""Is a search base a DN the server can parse? (RFC 4514, with what OpenLDAP also accepts.)

The components send their search base as written (only expanded values are escaped), and the
server parses it; OpenLDAP 2.5 answers "Invalid DN syntax" (34) for what `dn_problem()` flags and,
beyond RFC 4514, accepts what LDAPv2 allowed: `;` between RDNs, spaces around `,`, `;`, `+`, `=`,
and "quoted" values; it refuses RFC 4514's `#` (BER) values (checked with slapd and ldapsearch, see
tests/integration/test_lint_server.py).
"""

from __future__ import annotations

import re

_DESCR = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_OID = re.compile(r"[0-9]+(?:\.[0-9]+)+")
_HEX = "0123456789abcdefABCDEF"
_SPECIAL = ',=+<>#;"\\ '  # RFC 4514 escapable characters after a backslash
_FORBIDDEN = '"+,;<>'  # must be escaped inside a value


def dn_problem(text: str) -> tuple[str, int] | None:
    """Why `text` is not a DN (a reason and a 0-based position), or None when it is one."""
    if text.strip(" ") == "":
        return None  # the empty DN: the root
    return _Parser(text).dn()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def dn(self) -> tuple[str, int] | None:
        while True:
            problem = self.rdn()
            if problem:
                return problem
            self.spaces()
            if self.pos >= len(self.text):
                return None
            if self.peek() not in ",;":
                return (f"unexpected {self.peek()!r} after a value", self.pos)
            self.pos += 1
            self.spaces()
            if self.pos >= len(self.text):
                return ("the DN ends with a separator", self.pos - 1)

    def rdn(self) -> tuple[str, int] | None:
        while True:
            problem = self.ava()
            if problem:
                return problem
            self.spaces()
            if self.peek() != "+":
                return None
            self.pos += 1

    def ava(self) -> tuple[str, int] | None:
        self.spaces()
        start = self.pos
        match = _OID.match(self.text, self.pos) or _DESCR.match(self.text, self.pos)
        if match is None:
            if self.peek() in ",;":
                return ("an empty RDN", start)
            return ("an attribute type must start here", start)
        self.pos = match.end()
        self.spaces()
        if self.peek() != "=":
            return (f"'=' expected after the attribute type {match.group(0)!r}", self.pos)
        self.pos += 1
        self.spaces()
        return self.value()

    def value(self) -> tuple[str, int] | None:
        start = self.pos
        char = self.peek()
        if char == "" or char in ",;+":
            return ("an empty attribute value", start)
        if char == "#":
            return self.hex_value()
        if char == '"':
            end = self._quoted_end(self.pos + 1)
            if end is None:
                return ("a '\"' that is never closed", start)
            self.pos = end + 1
            return None
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in ",;+":
                return None
            if char == "\\":
                problem = self.escape()
                if problem:
                    return problem
                continue
            if char in _FORBIDDEN:
                return (f"an unescaped {char!r} in a value (write \\{char})", self.pos)
            self.pos += 1
        return None

    def hex_value(self) -> tuple[str, int] | None:
        """A `#` value (RFC 4514 hexstring of a BER encoding): OpenLDAP 2.5 refuses it (checked)."""
        return ("a '#' (BER-encoded) value, which OpenLDAP refuses: write the value as text", self.pos)

    def escape(self) -> tuple[str, int] | None:
        start = self.pos
        following = self.text[self.pos + 1 : self.pos + 3]
        if following[:1] and following[0] in _SPECIAL:
            self.pos += 2
            return None
        if len(following) == 2 and all(c in _HEX for c in following):
            self.pos += 3
            return None
        return ("'\\' must be followed by a special character or two hex digits", start)

    def _quoted_end(self, index: int) -> int | None:
        while index < len(self.text):
            char = self.text[index]
            if char == "\\":
                index += 2
                continue
            if char == '"':
                return index
            index += 1
        return None
