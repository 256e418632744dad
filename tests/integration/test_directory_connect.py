"""Connections as the components make them, against real slapd servers (and misbehaving sockets).

Every mode connects (ldap://, StartTLS, ldaps://); every failure becomes its named problem within
the configured timeout + 1 s; certificates are judged by the component's policy and connections go
on when the component would not check.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from ldapdiag.config.dovecot_conf import parse_dovecot_ldap_ext
from ldapdiag.config.postfix_cf import parse_postfix_cf
from ldapdiag.config.saslauthd_conf import parse_saslauthd_conf
from ldapdiag.demo import RunningDirectory
from ldapdiag.directory.directory import Directory
from ldapdiag.directory.ldapconf import read_ldap_conf
from ldapdiag.directory.policies import dovecot_policy, postfix_policy, saslauthd_policy
from ldapdiag.directory.policy import ConnectionPolicy
from ldapdiag.directory.problems import DirectoryProblem, ProblemKind
from ldapdiag.directory.trace import Trace
from tests.ldap_server import requires_slapd
from tests.tls_servers import SilentServer

pytestmark = requires_slapd

CANARY = "CANARY-pw-3e9b5c"
BIND_DN = "cn=admin,ou=users,dc=example,dc=org"
BASE = "dc=example,dc=org"
TIMEOUT = 2


def password(directory: RunningDirectory) -> str:
    return directory.password_file.read_text()


def postfix(url: str, secret: str, extra: str = "") -> ConnectionPolicy:
    text = (
        f"server_host = {url}\nsearch_base = {BASE}\nbind_dn = {BIND_DN}\nbind_pw = {secret}\n"
        f"version = 3\ntimeout = {TIMEOUT}\n{extra}"
    )
    return postfix_policy(parse_postfix_cf(text, "/etc/postfix/ldap-users.cf"), read_ldap_conf())


def dovecot(url: str, secret: str, extra: str = "") -> ConnectionPolicy:
    text = f"uris = {url}\nbase = {BASE}\ndn = {BIND_DN}\ndnpass = {secret}\n{extra}"
    return dovecot_policy(
        parse_dovecot_ldap_ext(text, "/etc/dovecot/dovecot-ldap.conf.ext"), read_ldap_conf()
    )


def saslauthd(url: str, secret: str, extra: str = "") -> ConnectionPolicy:
    text = f"ldap_servers: {url}\nldap_search_base: {BASE}\nldap_bind_dn: {BIND_DN}\n"
    text += f"ldap_bind_pw: {secret}\n{extra}"
    return saslauthd_policy(parse_saslauthd_conf(text, "/etc/saslauthd.conf"), read_ldap_conf())


def problem_of(policy: ConnectionPolicy, ca_file: Path | None = None, max_wait: float | None = None):
    """The DirectoryProblem connecting raises, and the trace."""
    trace = Trace()
    ca_files = (ca_file,) if ca_file else ()
    with (
        Directory(policy, trace=trace, ca_files=ca_files, max_wait=max_wait) as directory,
        pytest.raises(DirectoryProblem) as raised,
    ):
        directory.connect()
    return raised.value.problem, trace


# --- each mode connects -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["ldap", "starttls", "ldaps"])
def test_each_mode_connects_and_binds(basic_setup_directory: RunningDirectory, mode: str) -> None:
    directory = basic_setup_directory
    url = directory.ldaps_url if mode == "ldaps" else directory.ldap_url
    extra = "tls = yes\n" if mode == "starttls" else ""
    assert url is not None
    with Directory(dovecot(url, password(directory), extra), ca_files=(directory.ca_file,)) as ldap:
        session = ldap.connect()
        assert session.tls_mode == {"ldap": "none", "starttls": "starttls", "ldaps": "ldaps"}[mode]
        assert session.bind_result == 0
        if mode != "ldap":
            assert session.verdict is not None and session.verdict.trusted
            assert session.verdict.hostname_ok and session.verdict.tls_version
            assert session.judgement is not None and session.judgement.accepted
            assert not session.judgement.tolerated
        assert ldap.who_am_i() == f"dn:{BIND_DN}"


def test_postfix_goes_on_with_a_certificate_it_does_not_check(expired_directory: RunningDirectory) -> None:
    """tls_require_cert = no: the problems are reported, the bind and searches happen anyway."""
    assert expired_directory.ldaps_url is not None
    with Directory(postfix(expired_directory.ldaps_url, password(expired_directory))) as ldap:
        session = ldap.connect()
        assert session.bind_result == 0
        assert session.judgement is not None and session.judgement.accepted
        kinds = {problem.kind for problem in session.judgement.tolerated}
        assert ProblemKind.CERT_EXPIRED in kinds
        assert ldap.base_exists(BASE).ok


def test_postfix_with_tls_require_cert_and_its_ca(basic_setup_directory: RunningDirectory) -> None:
    directory = basic_setup_directory
    extra = f"start_tls = yes\ntls_require_cert = yes\ntls_ca_cert_file = {directory.ca_file}\n"
    with Directory(postfix(directory.ldap_url, password(directory), extra)) as ldap:
        assert ldap.connect().verdict.trusted  # type: ignore[union-attr]


def test_postfix_trusts_no_ca_without_tls_ca_cert_file(basic_setup_directory: RunningDirectory) -> None:
    """Checked with postmap: ldap.conf's TLS_CACERT does not reach postfix's own TLS context."""
    directory = basic_setup_directory
    policy = postfix(directory.ldap_url, password(directory), "start_tls = yes\ntls_require_cert = yes\n")
    problem, _ = problem_of(policy, ca_file=directory.ca_file)
    assert problem.kind is ProblemKind.CERT_UNTRUSTED
    assert "no CA certificate is configured" in problem.message


# --- certificates the component refuses -------------------------------------------------------


def test_wrong_ca(basic_setup_directory: RunningDirectory, other_ca_file: Path) -> None:
    assert basic_setup_directory.ldaps_url is not None
    policy = dovecot(basic_setup_directory.ldaps_url, password(basic_setup_directory))
    problem, _ = problem_of(policy, ca_file=other_ca_file)
    assert problem.kind is ProblemKind.CERT_UNTRUSTED


def test_expired_certificate(expired_directory: RunningDirectory) -> None:
    assert expired_directory.ldaps_url is not None
    policy = dovecot(expired_directory.ldaps_url, password(expired_directory))
    problem, _ = problem_of(policy, ca_file=expired_directory.ca_file)
    assert problem.kind is ProblemKind.CERT_EXPIRED
    assert "expired on" in problem.message


def test_certificate_for_another_ip_address(other_ip_directory: RunningDirectory) -> None:
    """A certificate whose only SAN is IP 127.0.0.2, served on 127.0.0.1."""
    assert other_ip_directory.ldaps_url is not None
    policy = dovecot(other_ip_directory.ldaps_url, password(other_ip_directory))
    problem, _ = problem_of(policy, ca_file=other_ip_directory.ca_file)
    assert problem.kind is ProblemKind.HOSTNAME_MISMATCH
    assert "127.0.0.2" in problem.message and "not 127.0.0.1" in problem.message


def test_certificate_with_dns_names_only_reached_by_ip(dns_only_directory: RunningDirectory) -> None:
    directory = dns_only_directory
    policy = saslauthd(
        directory.ldap_url, password(directory), "ldap_start_tls: yes\nldap_tls_check_peer: yes\n"
    )
    problem, _ = problem_of(policy, ca_file=directory.ca_file)
    assert problem.kind is ProblemKind.HOSTNAME_MISMATCH


def test_dovecot_starttls_with_tls_require_cert_never_still_checks_the_host_name(
    dns_only_directory: RunningDirectory,
) -> None:
    """Checked with dovecot 2.3.19.1: the handle kept ldap.conf's TLS_REQCERT demand for the name."""
    extra = "tls = yes\ntls_require_cert = never\n"
    problem, _ = problem_of(dovecot(dns_only_directory.ldap_url, password(dns_only_directory), extra))
    assert problem.kind is ProblemKind.HOSTNAME_MISMATCH


def test_dovecot_ldaps_with_tls_require_cert_never_gets_through(dns_only_directory: RunningDirectory) -> None:
    """After one failed connection dovecot reconnects with its own level (checked with doveadm)."""
    assert dns_only_directory.ldaps_url is not None
    policy = dovecot(dns_only_directory.ldaps_url, password(dns_only_directory), "tls_require_cert = never\n")
    with Directory(policy) as ldap:
        session = ldap.connect()
        assert session.judgement is not None
        assert {p.kind for p in session.judgement.tolerated} >= {ProblemKind.HOSTNAME_MISMATCH}


def test_a_refused_ldaps_server_moves_on_to_the_next(
    expired_directory: RunningDirectory, basic_setup_directory: RunningDirectory
) -> None:
    """ldap_new_connection(): the ldaps handshake is part of connecting; the next URL is tried."""
    assert expired_directory.ldaps_url and basic_setup_directory.ldaps_url
    urls = f"{expired_directory.ldaps_url} {basic_setup_directory.ldaps_url}"
    policy = dovecot(urls, password(basic_setup_directory))
    with Directory(policy, ca_files=(expired_directory.ca_file, basic_setup_directory.ca_file)) as ldap:
        session = ldap.connect()
        assert session.url == basic_setup_directory.ldaps_url
        assert [problem.kind for problem in session.skipped] == [ProblemKind.CERT_EXPIRED]


# --- transport failures -----------------------------------------------------------------------


def test_starttls_on_a_server_without_tls(plain_directory: RunningDirectory) -> None:
    policy = postfix(plain_directory.ldap_url, password(plain_directory), "start_tls = yes\n")
    problem, _ = problem_of(policy)
    assert problem.kind is ProblemKind.STARTTLS_REFUSED


def test_start_tls_with_an_ldaps_url(basic_setup_directory: RunningDirectory) -> None:
    """postmap: "Unable to set STARTTLS: 1: Operations error" (slapd: TLS already started)."""
    assert basic_setup_directory.ldaps_url is not None
    policy = postfix(basic_setup_directory.ldaps_url, password(basic_setup_directory), "start_tls = yes\n")
    problem, trace = problem_of(policy)
    assert problem.kind is ProblemKind.STARTTLS_REFUSED and problem.code == 1
    assert "ldaps" in problem.message
    assert [event.operation for event in trace.events] == ["connect", "starttls", "unbind"]


def test_ldaps_against_a_plain_port(basic_setup_directory: RunningDirectory) -> None:
    url = basic_setup_directory.ldap_url.replace("ldap://", "ldaps://")
    problem, _ = problem_of(postfix(url, password(basic_setup_directory)))
    assert problem.kind is ProblemKind.TLS_HANDSHAKE_FAILED


def test_plain_against_an_ldaps_port(basic_setup_directory: RunningDirectory) -> None:
    assert basic_setup_directory.ldaps_url is not None
    url = basic_setup_directory.ldaps_url.replace("ldaps://", "ldap://")
    problem, _ = problem_of(postfix(url, password(basic_setup_directory)))
    assert problem.kind is ProblemKind.SERVER_CLOSED
    assert "ldaps" in problem.message


def test_wrong_password(basic_setup_directory: RunningDirectory) -> None:
    problem, trace = problem_of(postfix(basic_setup_directory.ldap_url, CANARY))
    assert problem.kind is ProblemKind.INVALID_CREDENTIALS and problem.code == 49
    assert [event.operation for event in trace.events] == ["connect", "bind", "unbind"]


def test_protocol_version_2_is_refused(basic_setup_directory: RunningDirectory) -> None:
    policy = replace(postfix(basic_setup_directory.ldap_url, password(basic_setup_directory)), version=2)
    problem, _ = problem_of(policy)
    assert problem.kind is ProblemKind.PROTOCOL_VERSION


def test_unreachable_port(closed_port: int) -> None:
    problem, _ = problem_of(postfix(f"ldap://127.0.0.1:{closed_port}", "x"))
    assert problem.kind is ProblemKind.CONNECTION_REFUSED


def test_unknown_host() -> None:
    problem, _ = problem_of(postfix("ldap://no-such-host.invalid", "x"))
    assert problem.kind is ProblemKind.NAME_NOT_RESOLVED


@pytest.mark.parametrize("mode", ["ldap", "ldaps", "starttls"])
def test_silent_server_times_out_within_the_timeout(silent_server: SilentServer, mode: str) -> None:
    url = silent_server.url.replace("ldap://", "ldaps://") if mode == "ldaps" else silent_server.url
    policy = postfix(url, "x", "start_tls = yes\n" if mode == "starttls" else "")
    start = time.monotonic()
    problem, _ = problem_of(policy)
    elapsed = time.monotonic() - start
    assert problem.kind is ProblemKind.TIMEOUT
    assert TIMEOUT - 0.5 <= elapsed <= TIMEOUT + 1


def test_max_wait_caps_a_components_long_timeout(silent_server: SilentServer) -> None:
    """dovecot waits 60 s for a bind answer; ldapdiag gives up after max_wait."""
    start = time.monotonic()
    problem, _ = problem_of(dovecot(silent_server.url, "x"), max_wait=1)
    assert problem.kind is ProblemKind.TIMEOUT
    assert time.monotonic() - start <= 2


def test_server_list_order_first_that_answers_wins(
    closed_port: int, basic_setup_directory: RunningDirectory
) -> None:
    policy = postfix(
        f"127.0.0.1:{closed_port}, {basic_setup_directory.ldap_url}", password(basic_setup_directory)
    )
    with Directory(policy) as ldap:
        session = ldap.connect()
        assert session.url == basic_setup_directory.ldap_url
        assert [p.kind for p in session.skipped] == [ProblemKind.CONNECTION_REFUSED]


# --- no password anywhere ---------------------------------------------------------------------


def test_the_password_appears_nowhere(basic_setup_directory: RunningDirectory) -> None:
    trace = Trace()
    policy = postfix(basic_setup_directory.ldap_url, CANARY)
    with Directory(policy, trace=trace) as ldap:
        with pytest.raises(DirectoryProblem) as raised:
            ldap.connect()
        texts = [repr(ldap), repr(policy), str(raised.value), repr(raised.value.problem)]
    texts.append(json.dumps(trace.as_dicts()))
    texts += [event.line() for event in trace.events]
    assert all(CANARY not in text for text in texts)
    assert basic_setup_directory.access_log is not None
    assert CANARY not in basic_setup_directory.access_log.read_text(errors="replace")
