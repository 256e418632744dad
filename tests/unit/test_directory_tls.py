"""Certificate verdicts: libldap's host-name check and the judgement under each TLS level.

libldap_host_matches() mirrors tlsg_session_chkhost() (OpenLDAP 2.5.13 tls_g.c, GnuTLS as Debian
builds it): IP names only against iPAddress SANs, DNS names against dNSName SANs (`*.` matches
one first label), then the last CN (exact, or a wildcard for DNS names). ldap3's own check, on
Python >= 3.12, ignores IP SANs; ours does not depend on the Python version.
"""

from __future__ import annotations

import datetime as dt

import pytest
import trustme

from ldapdiag.directory.ldapconf import TlsLevel
from ldapdiag.directory.policy import TlsPolicy
from ldapdiag.directory.problems import ProblemKind
from ldapdiag.directory.tls import (
    CertificateFacts,
    CertificateVerdict,
    certificate_facts,
    judge,
    libldap_host_matches,
    name_to_check,
)

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def facts(
    dns: tuple[str, ...] = (), ips: tuple[str, ...] = (), cns: tuple[str, ...] = ()
) -> CertificateFacts:
    return CertificateFacts(
        subject="CN=x",
        issuer="CN=ca",
        common_names=cns,
        dns_names=dns,
        ip_addresses=ips,
        not_before=NOW - dt.timedelta(days=1),
        not_after=NOW + dt.timedelta(days=1),
        self_signed=False,
        sha256="",
    )


@pytest.mark.parametrize(
    ("cert", "name", "matches"),
    [
        (facts(ips=("127.0.0.1",)), "127.0.0.1", True),
        (facts(ips=("127.0.0.2",)), "127.0.0.1", False),  # a certificate for another IP
        (facts(dns=("localhost",)), "127.0.0.1", False),  # DNS names only, reached by IP
        (facts(dns=("127.0.0.1",)), "127.0.0.1", False),  # a dNSName is never compared with an IP
        (facts(ips=("::1",)), "::1", True),
        (facts(ips=("0:0:0:0:0:0:0:1",)), "::1", True),
        (facts(dns=("ldap.example.org",)), "LDAP.example.ORG", True),
        (facts(dns=("*.example.org",)), "ldap.example.org", True),
        (facts(dns=("*.example.org",)), "a.b.example.org", False),
        (facts(dns=("*.example.org",)), "example.org", False),
        (
            facts(dns=("other.example.org",), cns=("ldap.example.org",)),
            "ldap.example.org",
            True,
        ),  # CN fallback
        (facts(cns=("a.example.org", "ldap.example.org")), "ldap.example.org", True),  # the last CN
        (facts(cns=("ldap.example.org", "a.example.org")), "ldap.example.org", False),
        (facts(cns=("*.example.org",)), "ldap.example.org", True),
        (facts(ips=("10.0.0.1",), cns=("127.0.0.1",)), "127.0.0.1", True),  # IP against the CN, exactly
        (facts(), "ldap.example.org", False),  # "unable to get CN from peer certificate"
    ],
)
def test_libldap_host_name_check(cert: CertificateFacts, name: str, matches: bool) -> None:
    assert libldap_host_matches(cert, name) is matches


def test_localhost_is_checked_against_the_machine_name() -> None:
    """ldap_int_hostname replaces "localhost" (checked: ldaps://localhost with a cert for localhost fails)."""
    assert name_to_check("localhost", "mail.example.org") == "mail.example.org"
    assert name_to_check("LocalHost", "mail.example.org") == "mail.example.org"
    assert name_to_check("127.0.0.1", "mail.example.org") == "127.0.0.1"
    assert name_to_check("localhost", None) == "localhost"


def test_facts_from_a_real_certificate() -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("ldap.example.org", "192.0.2.7")
    der = trustme_der(leaf.cert_chain_pems[0].bytes())
    parsed = certificate_facts(der)
    assert parsed is not None
    assert parsed.dns_names == ("ldap.example.org",) and parsed.ip_addresses == ("192.0.2.7",)
    assert not parsed.self_signed
    assert libldap_host_matches(parsed, "192.0.2.7")


def trustme_der(pem: bytes) -> bytes:
    import ssl

    return ssl.PEM_cert_to_DER_cert(pem.decode())


def verdict(trusted: bool | None = True, host_ok: bool = True, expired: bool = False) -> CertificateVerdict:
    cert = facts(ips=("127.0.0.1",) if host_ok else ("127.0.0.2",))
    return CertificateVerdict(
        server="ldaps://127.0.0.1:636",
        checked_name="127.0.0.1",
        tls_version="TLSv1.3",
        cipher=None,
        facts=cert,
        trusted=trusted,
        trust_error=None if trusted else "unable to get local issuer certificate",
        checked_at=NOW + dt.timedelta(days=2) if expired else NOW,
    )


def policy(chain: TlsLevel, host: TlsLevel) -> TlsPolicy:
    return TlsPolicy(chain, "c", host, "h", (), "")


@pytest.mark.parametrize(
    ("chain", "host", "refused"),
    [
        (TlsLevel.NEVER, TlsLevel.NEVER, []),
        (TlsLevel.ALLOW, TlsLevel.ALLOW, []),  # verified, errors ignored, no host check
        (TlsLevel.NEVER, TlsLevel.DEMAND, [ProblemKind.HOSTNAME_MISMATCH]),  # dovecot tls_require_cert=never
        (TlsLevel.DEMAND, TlsLevel.NEVER, [ProblemKind.CERT_UNTRUSTED, ProblemKind.CERT_EXPIRED]),
        (
            TlsLevel.TRY,
            TlsLevel.TRY,
            [ProblemKind.CERT_UNTRUSTED, ProblemKind.CERT_EXPIRED, ProblemKind.HOSTNAME_MISMATCH],
        ),
        (
            TlsLevel.HARD,
            TlsLevel.HARD,
            [ProblemKind.CERT_UNTRUSTED, ProblemKind.CERT_EXPIRED, ProblemKind.HOSTNAME_MISMATCH],
        ),
    ],
)
def test_judgement_by_level(chain: TlsLevel, host: TlsLevel, refused: list[ProblemKind]) -> None:
    """tlsg_session_accept() for the chain, ldap_pvt_tls_check_hostname() for the name."""
    judgement = judge(verdict(trusted=False, host_ok=False, expired=True), policy(chain, host))
    assert [p.kind for p in judgement.refused] == refused
    assert len(judgement.refused) + len(judgement.tolerated) == 3
    assert judgement.accepted is (not refused)


def test_unknown_trust_is_never_a_refusal() -> None:
    judgement = judge(verdict(trusted=None), policy(TlsLevel.DEMAND, TlsLevel.DEMAND))
    assert judgement.accepted
    assert [p.kind for p in judgement.tolerated] == [ProblemKind.CERT_TRUST_UNKNOWN]


def test_a_good_certificate_has_no_problems() -> None:
    judgement = judge(verdict(), policy(TlsLevel.HARD, TlsLevel.HARD))
    assert judgement.accepted and not judgement.tolerated
