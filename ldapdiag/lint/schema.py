"""The server's schema from its subschema entry (RFC 4512 4.2 / 4.1.2 / 4.1.1 descriptions).

Only what lint needs: attribute types (names, OID, SUP, EQUALITY, SUBSTR, SYNTAX; matching rules
and syntax inherited from the superior type when not given, RFC 4512 4.1.2) and object class names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

DN_SYNTAX = "1.3.6.1.4.1.1466.115.121.1.12"
NAME_AND_OPTIONAL_UID_SYNTAX = "1.3.6.1.4.1.1466.115.121.1.34"
_TOKEN = re.compile(r"\s*(?:(\()|(\))|'((?:[^'\\]|\\.)*)'|([^\s()']+))")
_FLAGS = frozenset(
    {"OBSOLETE", "SINGLE-VALUE", "COLLECTIVE", "NO-USER-MODIFICATION", "ABSTRACT", "STRUCTURAL", "AUXILIARY"}
)


@dataclass(frozen=True)
class AttributeType:
    """One attributeTypes value (before inheritance)."""

    oid: str
    names: tuple[str, ...]
    sup: str | None = None
    equality: str | None = None
    substr: str | None = None
    ordering: str | None = None
    syntax: str | None = None


@dataclass(frozen=True)
class ObjectClass:
    """One objectClasses value."""

    oid: str
    names: tuple[str, ...]


def parse_description(text: str) -> tuple[str, dict[str, list[str]]] | None:
    """`( oid KEYWORD value ... )` as the OID and each keyword's values; None when unreadable."""
    tokens: list[str | None] = []  # None marks "(" and ")" as structure
    structure: list[str] = []
    for match in _TOKEN.finditer(text):
        opening, closing, quoted, word = match.groups()
        if opening or closing:
            tokens.append(None)
            structure.append(opening or closing)
        else:
            tokens.append(quoted if quoted is not None else word)
            structure.append("q" if quoted is not None else "w")
    if len(tokens) < 3 or structure[0] != "(" or structure[-1] != ")":
        return None
    oid = tokens[1]
    if oid is None:
        return None
    fields: dict[str, list[str]] = {}
    index = 2
    end = len(tokens) - 1
    while index < end:
        keyword = tokens[index]
        if keyword is None:
            return None
        keyword = keyword.upper()
        index += 1
        if keyword in _FLAGS:
            fields[keyword] = []
            continue
        values: list[str] = []
        if index < end and structure[index] == "(":
            index += 1
            while index < end and structure[index] != ")":
                value = tokens[index]
                if value is not None and value != "$":
                    values.append(value)
                index += 1
            index += 1
        elif index < end:
            values.append(tokens[index] or "")
            index += 1
        fields[keyword] = values
    return oid, fields


def _one(fields: dict[str, list[str]], key: str) -> str | None:
    values = fields.get(key)
    if not values:
        return None
    return re.sub(r"\{[0-9]*\}$", "", values[0])  # SYNTAX 1.3.6...26{256}


@dataclass
class Schema:
    """Attribute types and object classes by lowercased name and by OID."""

    attributes: dict[str, AttributeType] = field(default_factory=dict)
    object_classes: dict[str, ObjectClass] = field(default_factory=dict)
    source: str = ""

    @classmethod
    def from_descriptions(
        cls, attribute_types: Iterable[str], object_classes: Iterable[str], source: str = ""
    ) -> Schema:
        schema = cls(source=source)
        for text in attribute_types:
            parsed = parse_description(text)
            if parsed is None:
                continue
            oid, fields = parsed
            attr = AttributeType(
                oid=oid,
                names=tuple(fields.get("NAME", [])),
                sup=_one(fields, "SUP"),
                equality=_one(fields, "EQUALITY"),
                substr=_one(fields, "SUBSTR"),
                ordering=_one(fields, "ORDERING"),
                syntax=_one(fields, "SYNTAX"),
            )
            for key in (oid, *attr.names):
                schema.attributes[key.lower()] = attr
        for text in object_classes:
            parsed = parse_description(text)
            if parsed is None:
                continue
            oid, fields = parsed
            oc = ObjectClass(oid=oid, names=tuple(fields.get("NAME", [])))
            for key in (oid, *oc.names):
                schema.object_classes[key.lower()] = oc
        return schema

    def attribute(self, name: str) -> AttributeType | None:
        """The attribute type named `name` (options stripped, case-insensitive)."""
        return self.attributes.get(name.split(";", 1)[0].lower())

    def knows_object_class(self, name: str) -> bool:
        return name.lower() in self.object_classes

    def _inherited(self, name: str, field_name: str) -> str | None:
        """A field of the attribute type, else of its superiors (RFC 4512 4.1.2)."""
        seen: set[str] = set()
        attr = self.attribute(name)
        while attr is not None and attr.oid not in seen:
            seen.add(attr.oid)
            value = getattr(attr, field_name)
            if value:
                return value
            attr = self.attribute(attr.sup) if attr.sup else None
        return None

    def equality(self, name: str) -> str | None:
        return self._inherited(name, "equality")

    def substr(self, name: str) -> str | None:
        return self._inherited(name, "substr")

    def syntax(self, name: str) -> str | None:
        return self._inherited(name, "syntax")

    def primary_name(self, name: str) -> str:
        attr = self.attribute(name)
        return attr.names[0] if attr and attr.names else name
