"""Certificates: inspect every one, judge it under a component's policy, wrap ldap3 sockets.

ldapdiag always looks at the certificate (trust, validity dates, host name) and tells what it
finds, but lets the component's policy decide whether the connection goes on:

- trust is OpenSSL's verdict (the ssl module) against the component's CA sources, with
  partial chains allowed (GnuTLS, which Debian's libldap uses, trusts any listed certificate);
- the host name is checked the way libldap 2.5 does it (tlsg_session_chkhost()), not with
  Python's or ldap3's check: IP addresses against iPAddress SANs (which ldap3's check ignores on
  Python >= 3.12), DNS names against dNSName SANs with `*.` wildcards, then the last CN; and a
  server called "localhost" is checked against the machine's own FQDN (ldap_int_hostname).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ldap3 import Tls

from ldapdiag.directory.ldapconf import TlsLevel
from ldapdiag.directory.policy import SYSTEM_BUNDLE, CaSource, TlsPolicy
from ldapdiag.directory.problems import Problem, ProblemKind

# OpenSSL X509_V_ERR_* codes about validity dates (the chain itself was fine)
_CERT_NOT_YET_VALID = 9
_CERT_HAS_EXPIRED = 10


# ---------------------------------------------------------------------------------------------
# trust anchors


@dataclass(frozen=True)
class TrustAnchors:
    """The CA certificates one component trusts, as far as this machine can tell."""

    sources: tuple[CaSource, ...]  # the component's own (paths inside the container)
    extra_files: tuple[Path, ...] = ()  # --ca-file
    extra_dirs: tuple[Path, ...] = ()  # --ca-dir

    @property
    def missing(self) -> tuple[CaSource, ...]:
        """Sources the component names that do not exist here (the system bundle excepted)."""
        return tuple(s for s in self.sources if not s.exists_here and s.path != SYSTEM_BUNDLE)

    @property
    def empty(self) -> bool:
        """The component trusts no CA at all (postfix without tls_ca_cert_file/dir)."""
        return not self.sources

    def context(self) -> ssl.SSLContext:
        """A verifying client context with these anchors (no host-name check: ldapdiag does that)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_REQUIRED
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        if self.empty:
            return context
        for source in self.sources:
            if source.path == SYSTEM_BUNDLE and not source.exists_here:
                context.load_default_certs(ssl.Purpose.SERVER_AUTH)
            elif source.exists_here:
                _load(context, source.kind, source.path)
        for file in self.extra_files:
            _load(context, "file", str(file))
        for folder in self.extra_dirs:
            _load(context, "dir", str(folder))
        return context


def _load(context: ssl.SSLContext, kind: str, path: str) -> None:
    """Load a CA file or hashed directory; a file without certificates adds nothing (as GnuTLS)."""
    try:
        if kind == "file":
            context.load_verify_locations(cafile=path)
        else:
            context.load_verify_locations(capath=path)
    except (ssl.SSLError, OSError):
        pass


def accept_any_context() -> ssl.SSLContext:
    """A client context that verifies nothing: what libldap does with TLS_REQCERT never."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


# ---------------------------------------------------------------------------------------------
# certificate facts


@dataclass(frozen=True)
class CertificateFacts:
    """What the server's certificate says."""

    subject: str
    issuer: str
    common_names: tuple[str, ...]
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    not_before: dt.datetime
    not_after: dt.datetime
    self_signed: bool
    sha256: str

    @property
    def names(self) -> tuple[str, ...]:
        """Every name the certificate is for (SANs, else CNs)."""
        return self.dns_names + self.ip_addresses or self.common_names


def certificate_facts(der: bytes) -> CertificateFacts | None:
    """Parse a DER certificate; None when the `cryptography` package is not installed."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.x509.oid import ExtensionOID, NameOID
    except ImportError:  # pragma: no cover - cryptography comes with trustme in the test extras
        return None
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        dns = tuple(san.get_values_for_type(x509.DNSName))
        ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        dns, ips = (), ()
    common = tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME))
    return CertificateFacts(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        common_names=common,
        dns_names=dns,
        ip_addresses=ips,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        self_signed=cert.subject == cert.issuer,
        sha256=cert.fingerprint(hashes.SHA256()).hex(),
    )


def name_to_check(host: str, local_fqdn: str | None) -> str:
    """tlsg_session_chkhost(): libldap checks a server named "localhost" against its own FQDN."""
    if host.lower() == "localhost" and local_fqdn:
        return local_fqdn
    return host


def libldap_host_matches(facts: CertificateFacts, name: str) -> bool:
    """tlsg_session_chkhost() with TLS_REQSAN allow: SANs of the name's type, then the last CN."""
    address = _as_ip(name)
    if address is not None:
        if any(_as_ip(ip) == address for ip in facts.ip_addresses):
            return True
    elif any(_dns_matches(pattern, name) for pattern in facts.dns_names):
        return True
    if not facts.common_names:
        return False  # "unable to get CN from peer certificate"
    return _dns_matches(facts.common_names[-1], name, exact_only=address is not None)


def _as_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """inet_pton(AF_INET6) or, for a name whose last label starts with a digit, inet_aton()."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _dns_matches(pattern: str, name: str, exact_only: bool = False) -> bool:
    """Exact (case-insensitive) or `*.domain` matching everything after the name's first label."""
    if pattern.lower() == name.lower():
        return True
    if exact_only or not pattern.startswith("*.") or "." not in name:
        return False
    return name[name.index(".") :].lower() == pattern[1:].lower()


# ---------------------------------------------------------------------------------------------
# the verdict


@dataclass(frozen=True)
class CertificateVerdict:
    """Everything ldapdiag found out about the server certificate of one TLS session."""

    server: str
    checked_name: str  # the name libldap compares with the certificate
    tls_version: str | None
    cipher: str | None
    facts: CertificateFacts | None
    trusted: bool | None  # None: could not tell (CA files missing here)
    trust_error: str | None = None
    missing_ca: tuple[str, ...] = ()
    no_anchors: bool = False  # the component trusts no CA at all
    checked_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def expired(self) -> bool:
        return self.facts is not None and self.checked_at > self.facts.not_after

    @property
    def not_yet_valid(self) -> bool:
        return self.facts is not None and self.checked_at < self.facts.not_before

    @property
    def hostname_ok(self) -> bool | None:
        if self.facts is None:
            return None
        return libldap_host_matches(self.facts, self.checked_name)

    def chain_problems(self) -> list[Problem]:
        """Trust and validity problems (the ones TLS_REQCERT's chain check refuses)."""
        problems: list[Problem] = []
        if self.trusted is False:
            why = (
                "no CA certificate is configured to check it"
                if self.no_anchors
                else (self.trust_error or "not trusted")
            )
            issuer = f" (issued by {self.facts.issuer})" if self.facts else ""
            problems.append(
                Problem(ProblemKind.CERT_UNTRUSTED, f"certificate untrusted: {why}{issuer}", self.server)
            )
        elif self.trusted is None:
            missing = ", ".join(self.missing_ca)
            problems.append(
                Problem(
                    ProblemKind.CERT_TRUST_UNKNOWN,
                    f"cannot tell whether the certificate is trusted: {missing} not found here "
                    "(use --ca-file)",
                    self.server,
                )
            )
        if self.expired and self.facts is not None:
            when = self.facts.not_after.strftime("%Y-%m-%d %H:%M UTC")
            problems.append(Problem(ProblemKind.CERT_EXPIRED, f"certificate expired on {when}", self.server))
        if self.not_yet_valid and self.facts is not None:
            when = self.facts.not_before.strftime("%Y-%m-%d %H:%M UTC")
            problems.append(
                Problem(ProblemKind.CERT_NOT_YET_VALID, f"certificate not valid before {when}", self.server)
            )
        return problems

    def host_problems(self) -> list[Problem]:
        """The host-name problem (the one the host-name check refuses)."""
        if self.hostname_ok is not False or self.facts is None:
            return []
        names = ", ".join(self.facts.names) or "no names"
        return [
            Problem(
                ProblemKind.HOSTNAME_MISMATCH,
                f"certificate hostname mismatch: it is for {names}, not {self.checked_name}",
                self.server,
            )
        ]

    def as_dict(self) -> dict[str, object]:
        facts = self.facts
        return {
            "tls_version": self.tls_version,
            "cipher": self.cipher,
            "trusted": self.trusted,
            "trust_error": self.trust_error,
            "expired": self.expired,
            "not_yet_valid": self.not_yet_valid,
            "checked_name": self.checked_name,
            "hostname_ok": self.hostname_ok,
            "subject": facts.subject if facts else None,
            "issuer": facts.issuer if facts else None,
            "names": list(facts.names) if facts else [],
            "not_before": facts.not_before.isoformat() if facts else None,
            "not_after": facts.not_after.isoformat() if facts else None,
            "self_signed": facts.self_signed if facts else None,
            "sha256": facts.sha256 if facts else None,
        }


@dataclass(frozen=True)
class Judgement:
    """A verdict under one component's policy: what it refuses and what it lets through."""

    refused: tuple[Problem, ...]
    tolerated: tuple[Problem, ...]

    @property
    def accepted(self) -> bool:
        return not self.refused


def judge(verdict: CertificateVerdict, policy: TlsPolicy) -> Judgement:
    """tlsg_session_accept() (chain, by the chain level) + ldap_pvt_tls_check_hostname() (host level)."""
    refused: list[Problem] = []
    tolerated: list[Problem] = []
    for problem in verdict.chain_problems():
        unknown = problem.kind is ProblemKind.CERT_TRUST_UNKNOWN
        (refused if policy.chain.verifies_chain and not unknown else tolerated).append(problem)
    for problem in verdict.host_problems():
        (refused if policy.host.checks_hostname else tolerated).append(problem)
    return Judgement(tuple(refused), tuple(tolerated))


def other_components_view(
    verdict: CertificateVerdict, levels: Sequence[tuple[str, TlsLevel, TlsLevel]]
) -> list[str]:
    """'dovecot (TLS_REQCERT demand) would refuse it' for every other policy that would."""
    lines = []
    for name, chain, host in levels:
        refuses = (chain.verifies_chain and bool(verdict.chain_problems())) or (
            host.checks_hostname and bool(verdict.host_problems())
        )
        if refuses:
            lines.append(f"{name} would refuse it")
    return lines


# ---------------------------------------------------------------------------------------------
# the ldap3 hook


class VerdictTls(Tls):
    """ldap3's Tls, replaced: every handshake goes through our context and leaves its facts here.

    With `verify=True` the handshake fails on a certificate OpenSSL cannot verify (its message is
    kept); the connection code then decides, under the component's policy, whether to try again
    with `verify=False` (the component would not have checked).
    """

    def __init__(self, host: str, anchors: TrustAnchors, verify: bool) -> None:
        super().__init__(validate=ssl.CERT_NONE)
        self.host = host
        self.anchors = anchors
        self.verify = verify
        self.peer_der: bytes | None = None
        self.tls_version: str | None = None
        self.cipher: str | None = None
        self.verify_error: ssl.SSLCertVerificationError | None = None
        self.handshake_error: BaseException | None = None  # ldap3 re-raises a copy without details

    def wrap_socket(self, connection: Any, do_handshake: bool = False) -> None:
        """Tls.wrap_socket(): always hand-shake at once, with SNI only for names (as libldap)."""
        context = self.anchors.context() if self.verify else accept_any_context()
        sni = None if _as_ip(self.host) is not None else self.host
        try:
            wrapped = context.wrap_socket(
                connection.socket, server_hostname=sni, do_handshake_on_connect=True
            )
        except ssl.SSLCertVerificationError as error:
            self.verify_error = self.handshake_error = error
            raise
        except Exception as error:
            self.handshake_error = error
            raise
        connection.socket = wrapped
        self.peer_der = wrapped.getpeercert(binary_form=True)
        self.tls_version = wrapped.version()
        cipher = wrapped.cipher()
        self.cipher = cipher[0] if cipher else None

    def verdict(
        self, server: str, local_fqdn: str | None, trusted: bool | None, error: str | None
    ) -> CertificateVerdict:
        """The verdict of the last handshake."""
        facts = certificate_facts(self.peer_der) if self.peer_der else None
        missing = tuple(source.path for source in self.anchors.missing)
        if trusted is False and missing and not self.anchors.extra_files and not self.anchors.extra_dirs:
            trusted = None  # the CA the component names may well be the right one: we cannot see it
        return CertificateVerdict(
            server=server,
            checked_name=name_to_check(self.host, local_fqdn),
            tls_version=self.tls_version,
            cipher=self.cipher,
            facts=facts,
            trusted=trusted,
            trust_error=error,
            missing_ca=missing,
            no_anchors=self.anchors.empty,
        )


def trust_from_error(error: ssl.SSLCertVerificationError | None) -> tuple[bool, str | None]:
    """OpenSSL's verdict: a date error means the chain itself verified (internal_verify() runs last)."""
    if error is None:
        return True, None
    code = getattr(error, "verify_code", None)
    message = getattr(error, "verify_message", None) or str(error)
    if code in (_CERT_HAS_EXPIRED, _CERT_NOT_YET_VALID):
        return True, None
    return False, message
