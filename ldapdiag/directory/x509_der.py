"""The few facts ldapdiag reads from a server certificate, parsed from DER in pure Python.

Used where the `cryptography` package cannot be (the single-file build, `ldapdiag.pyz`, runs on
the bare Python of the DMS image). It reads only what `CertificateFacts` needs, following the
X.509 structure of RFC 5280 section 4.1 (TBSCertificate: version, serial, signature, issuer,
validity, subject, key, unique ids, extensions) and section 4.2.1.6 (subjectAltName: dNSName
[2], iPAddress [7]); names are printed as RFC 4514 strings the way `cryptography`'s
`Name.rfc4514_string()` prints them (RDNs last-first, its short names, its escaping), so both
parsers give the same text (tests/unit/test_x509_der.py compares them on real certificates).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress

from ldapdiag.directory.tls import CertificateFacts

_SEQUENCE, _SET, _OID, _OCTET_STRING, _BOOLEAN = 0x30, 0x31, 0x06, 0x04, 0x01
_UTC_TIME, _GENERALIZED_TIME, _BIT_STRING = 0x17, 0x18, 0x03
_EXPLICIT_VERSION, _EXPLICIT_EXTENSIONS = 0xA0, 0xA3
_SAN_DNS, _SAN_IP = 0x82, 0x87
_SUBJECT_ALT_NAME = "2.5.29.17"
_COMMON_NAME = "2.5.4.3"
# the attribute types cryptography prints by short name; others print as the dotted OID
_SHORT_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.6": "C",
    "2.5.4.9": "STREET",
    "0.9.2342.19200300.100.1.25": "DC",
    "0.9.2342.19200300.100.1.1": "UID",
}
_STRING_CODECS = {
    0x0C: "utf-8",  # UTF8String
    0x13: "ascii",  # PrintableString
    0x16: "ascii",  # IA5String
    0x12: "ascii",  # NumericString
    0x1A: "ascii",  # VisibleString
    0x14: "latin-1",  # TeletexString
    0x1E: "utf-16-be",  # BMPString
    0x1C: "utf-32-be",  # UniversalString
}


class DerError(ValueError):
    """The bytes are not a DER certificate this parser understands."""


Attribute = tuple[str, str | bytes]


def parse_certificate(der: bytes) -> CertificateFacts:
    """Subject, issuer, CNs, SANs, validity and fingerprint of a DER X.509 certificate (RFC 5280 4.1)."""
    certificate = _only(der, _SEQUENCE)
    tbs = _children(_children(certificate)[0][1])
    position = 1 if tbs[0][0] == _EXPLICIT_VERSION else 0
    issuer = _name(tbs[position + 2])
    validity = _children(_expect(tbs[position + 3], _SEQUENCE))
    subject = _name(tbs[position + 4])
    dns: list[str] = []
    ips: list[str] = []
    for tag, content in tbs[position + 6 :]:
        if tag == _EXPLICIT_EXTENSIONS:
            _subject_alt_names(_only(content, _SEQUENCE), dns, ips)
    return CertificateFacts(
        subject=_rfc4514(subject),
        issuer=_rfc4514(issuer),
        common_names=tuple(str(v) for rdn in subject for oid, v in rdn if oid == _COMMON_NAME),
        dns_names=tuple(dns),
        ip_addresses=tuple(ips),
        not_before=_time(validity[0]),
        not_after=_time(validity[1]),
        self_signed=[set(rdn) for rdn in subject] == [set(rdn) for rdn in issuer],
        sha256=hashlib.sha256(der).hexdigest(),
    )


# ---------------------------------------------------------------------------------------------
# DER (X.690 section 8.1: identifier, length, contents)


def _read(data: bytes, offset: int) -> tuple[int, bytes, int]:
    """One TLV at `offset`: (tag, contents, offset after it)."""
    try:
        tag = data[offset]
        if tag & 0x1F == 0x1F:
            raise DerError("high tag numbers are not used in certificates")
        length = data[offset + 1]
        offset += 2
        if length & 0x80:
            count = length & 0x7F
            if count == 0 or count > 4:
                raise DerError("indefinite or oversized length")
            length = int.from_bytes(data[offset : offset + count], "big")
            offset += count
    except IndexError:
        raise DerError("truncated") from None
    end = offset + length
    if end > len(data):
        raise DerError("truncated")
    return tag, data[offset:end], end


def _children(data: bytes) -> list[tuple[int, bytes]]:
    items = []
    offset = 0
    while offset < len(data):
        tag, content, offset = _read(data, offset)
        items.append((tag, content))
    return items


def _only(data: bytes, tag: int) -> bytes:
    items = _children(data)
    if len(items) != 1:
        raise DerError("trailing data")
    return _expect(items[0], tag)


def _expect(item: tuple[int, bytes], tag: int) -> bytes:
    if item[0] != tag:
        raise DerError(f"expected tag {tag:#x}, found {item[0]:#x}")
    return item[1]


def _oid(content: bytes) -> str:
    """X.690 8.19: the first two arcs packed in the first subidentifier."""
    arcs: list[int] = []
    value = 0
    for byte in content:
        value = value << 7 | byte & 0x7F
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if not arcs:
        raise DerError("empty object identifier")
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in (first, arcs[0] - 40 * first, *arcs[1:]))


# ---------------------------------------------------------------------------------------------
# X.509 pieces


def _name(item: tuple[int, bytes]) -> list[list[Attribute]]:
    """Name ::= SEQUENCE OF RelativeDistinguishedName (SET OF AttributeTypeAndValue)."""
    rdns = []
    for rdn in _children(_expect(item, _SEQUENCE)):
        attributes = []
        for pair in _children(_expect(rdn, _SET)):
            oid_item, value_item = _children(_expect(pair, _SEQUENCE))
            attributes.append((_oid(_expect(oid_item, _OID)), _value(value_item)))
        rdns.append(attributes)
    return rdns


def _value(item: tuple[int, bytes]) -> str | bytes:
    tag, content = item
    if tag == _BIT_STRING:  # x500UniqueIdentifier: cryptography keeps the bytes
        return content[1:]
    codec = _STRING_CODECS.get(tag)
    if codec is None:
        raise DerError(f"unknown string type {tag:#x} in a name")
    return content.decode(codec)


def _rfc4514(rdns: list[list[Attribute]]) -> str:
    """Last RDN first, attributes of one RDN joined by '+' (RFC 4514 section 2.1)."""
    return ",".join(
        "+".join(f"{_SHORT_NAMES.get(oid, oid)}={_escape(value)}" for oid, value in rdn)
        for rdn in reversed(rdns)
    )


def _escape(value: str | bytes) -> str:
    """RFC 4514 section 2.4 escaping, as cryptography applies it (bytes as '#' and hex)."""
    if not value:
        return ""
    if isinstance(value, bytes):
        return "#" + value.hex()
    for char in ("\\", '"', "+", ",", ";", "<", ">"):
        value = value.replace(char, "\\" + char)
    value = value.replace("\0", "\\00")
    if value[0] == "#" or (value[0] == " " and len(value) > 1):
        value = "\\" + value
    if value[-1] == " ":
        value = value[:-1] + "\\ "
    return value


def _time(item: tuple[int, bytes]) -> dt.datetime:
    """UTCTime (YYMMDDHHMMSSZ, 50-99 are 19xx: RFC 5280 4.1.2.5.1) or GeneralizedTime."""
    tag, content = item
    text = content.decode("ascii")
    if not text.endswith("Z"):
        raise DerError("certificate times must be in UTC")
    if tag == _UTC_TIME:
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != _GENERALIZED_TIME:
        raise DerError("a validity time that is neither UTCTime nor GeneralizedTime")
    seconds = text[:14]
    fraction = text[15:-1] if text[14:15] == "." else ""
    moment = dt.datetime.strptime(seconds, "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    return moment.replace(microsecond=int(fraction[:6].ljust(6, "0"))) if fraction else moment


def _subject_alt_names(extensions: bytes, dns: list[str], ips: list[str]) -> None:
    """The dNSName and iPAddress entries of the subjectAltName extension (RFC 5280 4.2.1.6)."""
    for extension in _children(extensions):
        parts = _children(_expect(extension, _SEQUENCE))
        if _oid(_expect(parts[0], _OID)) != _SUBJECT_ALT_NAME:
            continue
        value = _expect(parts[-1], _OCTET_STRING)
        for tag, content in _children(_only(value, _SEQUENCE)):
            if tag == _SAN_DNS:
                dns.append(content.decode("ascii"))
            elif tag == _SAN_IP:
                ips.append(str(ipaddress.ip_address(content)))
