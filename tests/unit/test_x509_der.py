"""ldapdiag's pure-Python certificate reader (used by the single-file build) reads what `cryptography` reads.

Every certificate here is made by a real X.509 library (trustme, cryptography's builder), and the
facts `check` reports (subject, issuer, names, dates, self-signed, fingerprint) must come out the
same from both parsers.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ldapdiag.directory import tls
from ldapdiag.directory.x509_der import DerError, parse_certificate


def _der_of(pem: bytes) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem.decode())


def _built(
    subject: x509.Name,
    sans: list[x509.GeneralName] | None,
    not_before: dt.datetime,
    not_after: dt.datetime,
    issuer: x509.Name | None = None,
) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if sans is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _trustme_certificates() -> list[bytes]:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1", "::1", "*.example.org", "ldap.example.org")
    return [_der_of(leaf.cert_chain_pems[0].bytes()), _der_of(ca.cert_pem.bytes())]


def _odd_certificates() -> list[bytes]:
    utc = dt.UTC
    odd = x509.Name(
        [
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "org")]),
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "example")]),
            x509.RelativeDistinguishedName(
                [
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Mail, Ops + LDAP"),
                    x509.NameAttribute(NameOID.USER_ID, "mail"),
                ]
            ),
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.EMAIL_ADDRESS, "pm@example.org")]),
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, '#mäil <é> ; "x" ')]),
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, "second cn")]),
        ]
    )
    other_issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Some CA")])
    return [
        # no SAN at all, UTCTime dates in the 1900s and 2000s
        _built(
            odd, None, dt.datetime(1999, 1, 2, 3, 4, 5, tzinfo=utc), dt.datetime(2049, 12, 31, tzinfo=utc)
        ),
        # GeneralizedTime (2050 and later), an issuer that differs, IP SANs only
        _built(
            odd,
            [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("10.0.0.7", "fe80::1")],
            dt.datetime(2020, 6, 1, tzinfo=utc),
            dt.datetime(2051, 1, 1, 12, 30, tzinfo=utc),
            issuer=other_issuer,
        ),
        # an rfc822Name SAN beside the dNSName, expired
        _built(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old.example.org")]),
            [x509.RFC822Name("a@example.org"), x509.DNSName("old.example.org")],
            dt.datetime(2001, 1, 1, tzinfo=utc),
            dt.datetime(2002, 1, 1, tzinfo=utc),
        ),
    ]


@pytest.mark.parametrize("index", range(5))
def test_pure_reader_agrees_with_cryptography(index: int) -> None:
    der = (_trustme_certificates() + _odd_certificates())[index]
    expected = tls.certificate_facts(der)
    assert expected is not None
    assert tls._pure_python_facts(der) == expected


def test_without_cryptography_the_pure_reader_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    der = _trustme_certificates()[0]
    expected = tls.certificate_facts(der)
    monkeypatch.setitem(__import__("sys").modules, "cryptography", None)  # `import cryptography` fails
    facts = tls.certificate_facts(der)
    assert facts == expected
    assert facts is not None and facts.ip_addresses == ("127.0.0.1", "::1")


def test_garbage_is_refused() -> None:
    der = _trustme_certificates()[0]
    with pytest.raises(DerError):
        parse_certificate(der[:-10])
    assert tls._pure_python_facts(b"\x30\x03\x02\x01") is None
