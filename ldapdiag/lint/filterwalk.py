"""Walking parsed filters: their assertions, and whether a filter can match at all.

LDAP filters are three-valued (RFC 4511 4.5.1.7): an assertion on an attribute type the server
does not know, or one with no matching rule for its kind, is Undefined; `(&)` is True and `(|)`
is False (RFC 4526); `!` keeps Undefined Undefined. An entry is returned only when the whole
filter is True, so a filter that can only be False or Undefined never finds anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

from ldapdiag.directory import filters as f

Truth = Literal["maybe", "false", "undefined"]
ASSERTIONS = (f.Equality, f.GreaterOrEqual, f.LessOrEqual, f.Approx, f.Present, f.Substrings, f.Extensible)


def parse(text: str) -> f.Filter | f.FilterSyntaxError:
    """The filter libldap would encode, or the syntax error it would fail with."""
    try:
        return f.parse(text)
    except f.FilterSyntaxError as error:
        return error
    except ValueError as error:  # nesting deeper than Python's recursion limit
        return f.FilterSyntaxError(str(error), 0, text)


def assertions(node: f.Filter) -> Iterator[f.Filter]:
    """Every assertion (leaf) of the filter, in text order."""
    if isinstance(node, f.And | f.Or):
        for child in node.filters:
            yield from assertions(child)
    elif isinstance(node, f.Not):
        yield from assertions(node.filter)
    elif isinstance(node, ASSERTIONS):
        yield node


def attribute(node: f.Filter) -> str | None:
    """The attribute type of an assertion without its options (`mail;lang-en` -> `mail`)."""
    name = getattr(node, "attribute", None)
    return name.split(";", 1)[0] if name else None


def value_text(node: f.Filter) -> str:
    """An assertion's value as text (substrings joined with `*`), for messages."""
    if isinstance(node, f.Substrings):
        parts = [node.initial or b"", *node.any, node.final or b""]
        return "*".join(part.decode("utf-8", "replace") for part in parts)
    value = getattr(node, "value", b"")
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def truth(node: f.Filter, undefined: Callable[[f.Filter], bool], dead: Truth = "undefined") -> Truth:
    """What the filter can evaluate to when the assertions `undefined` picks are `dead`.

    RFC 4511 servers (OpenLDAP) evaluate them as Undefined, which a NOT keeps Undefined; Samba AD
    evaluates an unknown attribute as False, so `(!(unknownAttr=x))` matches every entry there.
    """
    if isinstance(node, f.And):
        results = [truth(child, undefined, dead) for child in node.filters]
        if "false" in results:
            return "false"
        return "undefined" if "undefined" in results else "maybe"
    if isinstance(node, f.Or):
        results = [truth(child, undefined, dead) for child in node.filters]
        if "maybe" in results:
            return "maybe"
        return "undefined" if "undefined" in results else "false"
    if isinstance(node, f.Not):
        inner = truth(node.filter, undefined, dead)
        return "undefined" if inner == "undefined" else "maybe"
    if isinstance(node, f.EmptyFilter):
        return "maybe"
    return dead if undefined(node) else "maybe"


def never_matches(node: f.Filter, undefined: Callable[[f.Filter], bool], dead: Truth = "undefined") -> bool:
    """True when the dead assertions make the whole filter find nothing (and it could otherwise)."""
    if truth(node, lambda _: False) != "maybe":
        return False  # never matched anyway, e.g. the deliberate (|)
    return truth(node, undefined, dead) != "maybe"


def describe(node: f.Filter) -> str:
    """The assertion as RFC 4515 text, e.g. `(memberOf=cn=admin,*)`."""
    return f.encode(node)
