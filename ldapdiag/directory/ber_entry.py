"""SearchResultEntry messages decoded straight from their BER, attributes kept as the server sent them.

ldap3's decoder turns an entry's PartialAttributeList into a dict, so an attribute the server
sends twice in one entry (slapd does, for an entry slapadd loaded from an LDIF naming the
attribute on non-adjacent lines) keeps only its last copy. libldap hands postfix, dovecot and
saslauthd the entry's BER as it came: `ldap_first_attribute()`/`ldap_next_attribute()` walk
every copy. This decoder keeps the list (RFC 4511 4.5.2: `attributes PartialAttributeList`, a
SEQUENCE OF `SEQUENCE { type, vals SET OF value }`; directory.libldap_view() then gives each
copy the values ldap_get_values_len() returns) and is also much faster than ldap3's
general-purpose one, which matters for the thousands of entries of `lookup MAP -`.

Only the plain case is decoded here: a definite-length LDAPMessage holding a searchResEntry
and no controls. Anything else returns None and goes through ldap3 as before.
"""

from __future__ import annotations

from typing import Any

_SEARCH_RESULT_ENTRY = 0x64  # [APPLICATION 4] constructed


def _length(message: bytes, position: int) -> tuple[int, int]:
    """A BER definite length at `position`: (length, where the content starts)."""
    first = message[position]
    if first < 0x80:
        return first, position + 1
    count = first & 0x7F
    if count == 0 or count > 4:
        raise ValueError("unsupported BER length")
    start = position + 1
    return int.from_bytes(message[start : start + count], "big"), start + count


def _element(message: bytes, position: int, tag: int) -> tuple[int, int]:
    """The element with `tag` at `position`: (content start, content end)."""
    if message[position] != tag:
        raise ValueError("unexpected BER tag")
    length, start = _length(message, position + 1)
    end = start + length
    if end > len(message):
        raise ValueError("BER element runs past its message")
    return start, end


def decode_entry(message: bytes) -> tuple[int, bytes, list[tuple[bytes, list[bytes]]]] | None:
    """(messageID, objectName, [(type, [value, ...]), ...]) of a searchResEntry, else None."""
    if len(message) < 0x80 and message[0] == 0x30:
        return _decode_short(message) or _decode(message)
    return _decode(message)


def _decode_short(message: bytes) -> tuple[int, bytes, list[tuple[bytes, list[bytes]]]] | None:
    """decode_entry() of a message under 128 bytes: every length in BER's short form, one byte."""
    try:
        end = len(message)
        if message[1] != end - 2 or message[2] != 0x02:
            return None
        id_size = message[3]
        if not 0 < id_size <= 4 or message[4] & 0x80:
            return None
        position = 4 + id_size
        message_id = int.from_bytes(message[4:position], "big")
        if message[position] != _SEARCH_RESULT_ENTRY or message[position + 1] != end - position - 2:
            return None  # not an entry, or controls follow (ldap3 decodes those)
        if message[position + 2] != 0x04:
            return None
        dn_end = position + 4 + message[position + 3]
        dn = message[position + 4 : dn_end]
        if message[dn_end] != 0x30 or message[dn_end + 1] != end - dn_end - 2:
            return None
        attributes: list[tuple[bytes, list[bytes]]] = []
        position = dn_end + 2
        while position < end:
            if message[position] != 0x30 or message[position + 2] != 0x04:
                return None
            item_end = position + 2 + message[position + 1]
            type_end = position + 4 + message[position + 3]
            name = message[position + 4 : type_end]
            if message[type_end] != 0x31 or type_end + 2 + message[type_end + 1] != item_end:
                return None
            values: list[bytes] = []
            cursor = type_end + 2
            while cursor < item_end:
                if message[cursor] != 0x04:
                    return None
                start = cursor + 2
                cursor = start + message[cursor + 1]
                values.append(message[start:cursor])
            if cursor != item_end:
                return None
            attributes.append((name, values))
            position = item_end
        if position != end:
            return None
        return message_id, dn, attributes
    except IndexError:
        return None


def _decode(message: bytes) -> tuple[int, bytes, list[tuple[bytes, list[bytes]]]] | None:
    """decode_entry() of any message (long-form lengths too)."""
    try:
        start, end = _element(message, 0, 0x30)
        if end != len(message):
            return None
        id_start, id_end = _element(message, start, 0x02)
        if not 0 < id_end - id_start <= 4 or message[id_start] & 0x80:
            return None
        message_id = int.from_bytes(message[id_start:id_end], "big")
        if message[id_end] != _SEARCH_RESULT_ENTRY:
            return None
        op_start, op_end = _element(message, id_end, _SEARCH_RESULT_ENTRY)
        if op_end != end:
            return None  # controls follow: ldap3 decodes those
        dn_start, dn_end = _element(message, op_start, 0x04)
        list_start, list_end = _element(message, dn_end, 0x30)
        if list_end != op_end:
            return None
        attributes: list[tuple[bytes, list[bytes]]] = []
        position = list_start
        while position < list_end:
            item_start, item_end = _element(message, position, 0x30)
            type_start, type_end = _element(message, item_start, 0x04)
            vals_start, vals_end = _element(message, type_end, 0x31)
            if vals_end != item_end:
                return None
            values: list[bytes] = []
            cursor = vals_start
            while cursor < vals_end:  # OCTET STRINGs, the short form of the length inline
                if message[cursor] != 0x04:
                    return None
                size = message[cursor + 1]
                if size < 0x80:
                    cursor += 2 + size
                    values.append(message[cursor - size : cursor])
                else:
                    value_start, cursor = _element(message, cursor, 0x04)
                    values.append(message[value_start:cursor])
            if cursor != vals_end:
                return None
            attributes.append((message[type_start:type_end], values))
            position = item_end
        if position != list_end:
            return None
        return message_id, message[dn_start:dn_end], attributes
    except (IndexError, ValueError):
        return None


def _text(raw: bytes) -> str:
    """ldap3's to_unicode(..., from_server=True) for the usual case: UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        from ldap3.utils.conv import to_unicode

        return str(to_unicode(raw, from_server=True))


def entry_response(dn: bytes, attributes: list[tuple[bytes, list[bytes]]]) -> dict[str, Any]:
    """The dict ldap3 makes of a searchResEntry, plus `raw_attribute_list`: every attribute in order.

    `raw_attributes` (a dict, as ldap3 has it) keeps the first copy of a repeated attribute, the
    values ldap_get_values_len() returns, instead of the last. No `attributes` (ldap3's values
    decoded by schema): ldapdiag reads raw values only.
    """
    listed = [(_text(name), values) for name, values in attributes]
    raw: dict[str, list[bytes]] = {}
    for name, values in listed:
        raw.setdefault(name, values)
    return {
        "raw_dn": dn,
        "dn": _text(dn),
        "raw_attributes": raw,
        "raw_attribute_list": listed,
        "type": "searchResEntry",
    }
