"""The fault matrix (issue 10): every way the directory breaks, against every command it applies to.

Real servers only: the suite's slapd (basic-setup), a slapd without TLS, slapds with an expired,
a not-yet-valid, a self-signed and a wrong-host certificate, and three fault injectors that are
not LDAP servers: a closed port, a socket that accepts and never answers, and a TCP relay to the
real slapd that lets N requests through and then dies (closes every connection and its port),
which is "slapd killed in the middle of a run". Each case asserts the rule of the README ("When the
directory is broken"): exit 2, one `ldapdiag: could not check: COMPONENT: SERVER: PROBLEM` line on
stderr naming the fault, no traceback, within the configured timeout (`--timeout 2`) + 1 s, and
results already obtained kept while the rest is marked `incomplete` in JSON, never "not found".
Failover (first server down) is checked against the real postmap: postfix answers from the second
server, and so does ldapdiag, saying which server answered.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ldapdiag.cli import main
from ldapdiag.demo import RunningDirectory, generate_certs, serve_scenario
from ldapdiag.demo.certs import ServerCerts
from tests.ldap_server import BASIC_SETUP, missing_ldap_tools, requires_slapd
from tests.relay import Relay, RestartingRelay
from tests.tls_servers import SilentServer

pytestmark = requires_slapd

TIMEOUT = 2.0  # --timeout: the configured timeout of every case
ALICE_PW = "alice-in-wonderland"
COMMANDS: dict[str, list[str]] = {
    "check": ["check"],
    "lookup": ["lookup", "users", "alice@example.org", "bob@example.org"],
    "resolve": ["resolve", "alice@example.org", "bob@example.org"],
    "send-as": ["send-as", "alice@example.org", "alice@example.org"],
    "login": ["login", "alice@example.org", "--password-file", "{pw}"],
    "user": ["user", "alice@example.org"],
    "run": ["run", "{expect}"],
    "audit": ["audit"],
}
EXPECT = """\
deliver:
  - alice@example.org
  - bob@example.org
lookups:
  - {map: users, key: carol@example.org, value: carol@example.org}
users:
  - user: dave@example.org
    result: ok
"""


# --- fault injectors (not LDAP servers) -----------------------------------------------------------


def _certs(**validity: dt.datetime) -> ServerCerts:
    return generate_certs(("localhost", "127.0.0.1"), **validity)


def _self_signed() -> ServerCerts:
    """A certificate that is its own issuer (no CA), for 127.0.0.1, via `cryptography`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "self-signed ldapdiag test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ServerCerts(pem, pem, key_pem)


@pytest.fixture(scope="module")
def cert_directories() -> Iterator[dict[str, RunningDirectory]]:
    """slapds (basic-setup) with a not-yet-valid and a self-signed certificate."""
    if missing_ldap_tools():
        pytest.skip("slapd is not installed")
    now = dt.datetime.now(dt.UTC)
    future = _certs(not_before=now + dt.timedelta(days=1), not_after=now + dt.timedelta(days=30))
    with (
        serve_scenario(BASIC_SETUP, certs=future) as not_yet,
        serve_scenario(BASIC_SETUP, certs=_self_signed()) as self_signed,
    ):
        yield {"not-yet-valid": not_yet, "self-signed": self_signed}


# --- running ldapdiag ---------------------------------------------------------------------------


def ldapdiag(tmp_path: Path, command: str, url: str, *extra: str, json_out: bool = False) -> tuple:
    """Run one command of the matrix; (exit code, stdout, stderr, seconds)."""
    (tmp_path / "pw").write_text(ALICE_PW)
    (tmp_path / "expect.yaml").write_text(EXPECT)
    args = [a.format(pw=tmp_path / "pw", expect=tmp_path / "expect.yaml") for a in COMMANDS[command]]
    if json_out and command != "check":
        args += ["--format", "json"]
    config = [
        "--no-env",
        "--env-file",
        str(BASIC_SETUP / "mailserver.env"),
        "--set",
        "OVERRIDE_HOSTNAME=mail.example.org",
        "--set",
        f"LDAP_SERVER_HOST={url}",
        "--timeout",
        str(TIMEOUT),
        *extra,
    ]
    start = time.monotonic()
    result = CliRunner().invoke(main, [*args, *config])
    elapsed = time.monotonic() - start
    return result.exit_code, result.stdout, result.stderr, elapsed


def assert_fault(code: int, out: str, err: str, elapsed: float, *words: str) -> None:
    """Exit 2, a could-not-check line naming the fault, no traceback, within the timeout + 1 s."""
    assert "Traceback" not in out + err
    assert code == 2, out + err
    lines = [line for line in err.splitlines() if line.startswith("ldapdiag: could not check: ")]
    assert lines, err
    assert all(any(word in line for line in lines) for word in words), (words, err)
    assert elapsed <= TIMEOUT + 1, elapsed


# --- the matrix ----------------------------------------------------------------------------------

ALL = list(COMMANDS)


@pytest.mark.parametrize("command", ALL)
def test_server_down_before_start(tmp_path: Path, command: str, closed_port: int) -> None:
    assert_fault(*ldapdiag(tmp_path, command, f"ldap://127.0.0.1:{closed_port}"), "connection refused")


@pytest.mark.parametrize("command", ALL)
def test_server_never_answers(tmp_path: Path, command: str, silent_server: SilentServer) -> None:
    assert_fault(*ldapdiag(tmp_path, command, silent_server.url), "timeout", "within 2 s")


@pytest.mark.parametrize("command", ALL)
def test_server_closes_after_the_bind(
    tmp_path: Path, command: str, basic_setup_directory: RunningDirectory
) -> None:
    relay = Relay(basic_setup_directory.ldap_url, allow=1)  # the bind goes through, then it dies
    try:
        result = ldapdiag(tmp_path, command, relay.url)
        assert_fault(*result, relay.url.removeprefix("ldap://"))
        if command != "check":  # check's components connect at once: none may have had an answer
            assert "is this an ldaps:// port" not in result[2]  # it had answered: a cut, not TLS
    finally:
        relay.kill()


TLS_ON = ["--set", "LDAP_START_TLS=yes", "--set", "DOVECOT_TLS=yes", "--set", "SASLAUTHD_LDAP_START_TLS=yes"]


@pytest.mark.parametrize("command", ALL)
def test_starttls_refused(tmp_path: Path, command: str, plain_directory: RunningDirectory) -> None:
    assert_fault(*ldapdiag(tmp_path, command, plain_directory.ldap_url, *TLS_ON), "StartTLS refused")


@pytest.mark.parametrize("command", ALL)
def test_ldaps_handshake_fails(tmp_path: Path, command: str, plain_directory: RunningDirectory) -> None:
    url = plain_directory.ldap_url.replace("ldap://", "ldaps://")
    assert_fault(*ldapdiag(tmp_path, command, url), "TLS handshake failed")


DOVECOT_COMMANDS = ["check", "login", "user"]  # dovecot demands a valid certificate (libldap default)


@pytest.mark.parametrize("command", DOVECOT_COMMANDS)
@pytest.mark.parametrize("kind", ["expired", "not-yet-valid", "self-signed", "wrong-hostname"])
def test_certificates_dovecot_refuses(
    tmp_path: Path,
    command: str,
    kind: str,
    expired_directory: RunningDirectory,
    other_ip_directory: RunningDirectory,
    cert_directories: dict[str, RunningDirectory],
) -> None:
    directory = {"expired": expired_directory, "wrong-hostname": other_ip_directory}.get(kind)
    directory = directory or cert_directories[kind]
    assert directory.ldaps_url is not None
    extra = ["--ca-file", str(directory.ca_file)] if kind != "self-signed" else []
    words = {
        "expired": "expired",
        "not-yet-valid": "not valid before",
        "self-signed": "dovecot",
        "wrong-hostname": "127.0.0.1",
    }
    assert_fault(*ldapdiag(tmp_path, command, directory.ldaps_url, *extra), words[kind])


def test_postfix_accepts_an_expired_certificate_so_lookups_answer(
    tmp_path: Path, expired_directory: RunningDirectory
) -> None:
    """Never lie the other way either: postfix's tls_require_cert = no takes the expired certificate."""
    assert expired_directory.ldaps_url is not None
    code, out, err, _ = ldapdiag(tmp_path, "lookup", expired_directory.ldaps_url)
    assert code == 0, err
    assert out.splitlines() == ["alice@example.org\talice@example.org", "bob@example.org\tbob@example.org"]
    assert "could not check" not in err


@pytest.mark.parametrize("command", ALL)
def test_wrong_bind_password(tmp_path: Path, command: str, basic_setup_directory: RunningDirectory) -> None:
    (tmp_path / "wrong.env").write_text("LDAP_BIND_PW=not-the-password\n")
    extra = ["--env-file", str(tmp_path / "wrong.env")]  # later env files win
    result = ldapdiag(tmp_path, command, basic_setup_directory.ldap_url, *extra)
    assert_fault(*result, "invalid credentials")
    assert "not-the-password" not in result[1] + result[2]


@pytest.mark.parametrize("command", ALL)
def test_bind_dn_missing(tmp_path: Path, command: str, basic_setup_directory: RunningDirectory) -> None:
    extra = ["--set", "LDAP_BIND_DN=cn=nobody,ou=users,dc=example,dc=org"]
    assert_fault(*ldapdiag(tmp_path, command, basic_setup_directory.ldap_url, *extra), "invalid credentials")


@pytest.mark.parametrize("command", ALL)
def test_search_base_missing(tmp_path: Path, command: str, basic_setup_directory: RunningDirectory) -> None:
    extra = ["--set", "LDAP_SEARCH_BASE=ou=gone,dc=example,dc=org"]
    result = ldapdiag(tmp_path, command, basic_setup_directory.ldap_url, *extra)
    assert_fault(*result, "ou=gone,dc=example,dc=org")


# --- killed in the middle: what was answered is kept, the rest is incomplete -----------------------


def _requests_for(tmp_path: Path, directory: RunningDirectory, command: list[str]) -> int:
    """How many requests one answer takes (a relay that never dies counts them)."""
    relay = Relay(directory.ldap_url)
    try:
        COMMANDS["probe"] = command
        code, out, err, _ = ldapdiag(tmp_path, "probe", relay.url)
        assert code in (0, 1), out + err
        return relay.requests
    finally:
        relay.kill()
        COMMANDS.pop("probe", None)


def test_resolve_killed_mid_way_keeps_the_first_answer(
    tmp_path: Path, basic_setup_directory: RunningDirectory
) -> None:
    first = _requests_for(tmp_path, basic_setup_directory, ["resolve", "alice@example.org"])
    relay = Relay(basic_setup_directory.ldap_url, allow=first)
    try:
        code, out, err, elapsed = ldapdiag(tmp_path, "resolve", relay.url, json_out=True)
    finally:
        relay.kill()
    assert_fault(code, out, err, elapsed, relay.url.removeprefix("ldap://"))
    alice, bob = json.loads(out)
    # alice's RCPT was answered and is kept; her delivery (cleanup, LMTP) comes after bob's RCPT in
    # the transaction, when the server is gone: so her prediction is incomplete too, and says so
    assert alice["rcpt_reply"] == "250 2.1.5 Ok" and alice["incomplete"] is True
    assert bob["incomplete"] is True and bob["fault"]
    assert bob["verdict"] == "defer" and bob["smtp_reply"].startswith("451 4.3.0")  # what postfix says


def test_lookup_killed_mid_way_never_reports_not_found(
    tmp_path: Path, basic_setup_directory: RunningDirectory
) -> None:
    relay = Relay(basic_setup_directory.ldap_url, allow=2)  # the bind and alice's search, then it dies
    try:
        code, out, err, elapsed = ldapdiag(tmp_path, "lookup", relay.url, json_out=True)
    finally:
        relay.kill()
    assert_fault(code, out, err, elapsed)
    alice, bob = json.loads(out)
    assert (alice["found"], alice["value"], alice["incomplete"]) == (True, "alice@example.org", False)
    assert bob["found"] is False and bob["error"] and bob["incomplete"] is True


def test_run_killed_mid_way_passes_what_was_checked(
    tmp_path: Path, basic_setup_directory: RunningDirectory
) -> None:
    expect = tmp_path / "one.yaml"
    expect.write_text("deliver:\n  - alice@example.org\n")
    first = _requests_for(tmp_path, basic_setup_directory, ["run", str(expect)])
    relay = Relay(basic_setup_directory.ldap_url, allow=first)
    try:
        code, out, err, elapsed = ldapdiag(tmp_path, "run", relay.url, json_out=True)
    finally:
        relay.kill()
    assert "Traceback" not in out + err and code == 2 and elapsed <= TIMEOUT + 1
    statuses = [result["status"] for result in json.loads(out)["results"]]
    assert statuses[0] == "pass" and set(statuses[1:]) == {"error"}, statuses


def test_audit_killed_mid_way_keeps_what_was_checked(
    tmp_path: Path, basic_setup_directory: RunningDirectory
) -> None:
    """Audit streams JSON Lines: the first address, answered before the cut, stays as it was
    (checked, not incomplete); addresses met after it are incomplete with the fault, never a
    bounce, unless every answer they need was already in hand (an alias of a mailbox already
    looked up); addresses enumerated but not yet audited are still listed; the summary says so."""
    whole = _requests_for(tmp_path, basic_setup_directory, ["audit"])
    # the first address needs the enumeration, the batched searches and its own login check's
    # lookups: just over half of the requests (19 of 36 when written)
    relay = Relay(basic_setup_directory.ldap_url, allow=whole * 3 // 4)
    try:
        code, out, err, elapsed = ldapdiag(tmp_path, "audit", relay.url, json_out=True)
    finally:
        relay.kill()
    assert_fault(code, out, err, elapsed, relay.url.removeprefix("ldap://"))
    assert "ldaps://" not in err  # the server had answered: a cut, not an ldaps port
    *addresses, summary = [json.loads(line) for line in out.splitlines()]
    flags = [line["incomplete"] for line in addresses]
    assert flags[0] is False and True in flags, flags
    for line in addresses:
        if line["incomplete"]:
            assert line["fault"] and not line["checked"] and line["verdict"] != "bounce", line
        else:
            assert line["checked"] and line["fault"] is None, line
    assert summary["incomplete"] is True and summary["exit_code"] == 2


# --- failover: the first server is down --------------------------------------------------------------


def test_failover_like_postmap_and_says_which_server_answered(
    tmp_path: Path, basic_setup_directory: RunningDirectory, closed_port: int
) -> None:
    from tests.oracles.postfix import POSTMAP, require

    down, up = f"ldap://127.0.0.1:{closed_port}", basic_setup_directory.ldap_url
    both = f"{down} {up}"
    table = tmp_path / "users.cf"
    table.write_text(
        f"server_host = {both}\nsearch_base = dc=example,dc=org\nversion = 3\nbind = yes\n"
        "bind_dn = cn=admin,ou=users,dc=example,dc=org\nbind_pw = mypassword\n"
        "query_filter = (&(objectClass=inetOrgPerson)(mail=%s))\nresult_attribute = mail\n"
    )
    (tmp_path / "main.cf").write_text("compatibility_level = 3.6\n")
    import subprocess

    real = subprocess.run(
        [require(POSTMAP, "postmap"), "-c", str(tmp_path), "-q", "alice@example.org", f"ldap:{table}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (real.returncode, real.stdout) == (0, "alice@example.org\n"), real.stderr
    for command in ("lookup", "resolve", "login", "user"):
        code, out, err, elapsed = ldapdiag(tmp_path, command, both)
        assert code in (0, 1) and "Traceback" not in out + err, (command, out + err)
        assert "could not check" not in err
        assert f"{up} answered" in err and "connection refused" in err, (command, err)
        assert elapsed <= TIMEOUT + 1
    code, out, err, _ = ldapdiag(tmp_path, "lookup", both)
    assert out.splitlines()[0] == "alice@example.org\talice@example.org"


def test_failover_like_dovecot_and_saslauthd_and_says_which_server_answered(
    tmp_path: Path, basic_setup_directory: RunningDirectory, closed_port: int
) -> None:
    """dovecot `uris` and saslauthd `ldap_servers` with two servers, the first down: the real
    doveadm and testsaslauthd answer from the second (libldap tries the list in order), and so does
    ldapdiag, naming the server that answered for each component."""
    from tests.integration.test_faults_limits import doveadm_user
    from tests.oracles.saslauthd import SaslauthdSandbox

    down, up = f"ldap://127.0.0.1:{closed_port}", basic_setup_directory.ldap_url
    both = f"{down} {up}"
    user_filter = "(&(objectClass=inetOrgPerson)(mail=%s))"  # basic-setup's DOVECOT_USER_FILTER
    assert doveadm_user(both, "dc=example,dc=org", user_filter, "alice@example.org") == (0, "")
    conf = (
        f"ldap_servers: {both}\nldap_auth_method: bind\nldap_bind_dn: cn=admin,ou=users,dc=example,dc=org\n"
        "ldap_bind_pw: mypassword\nldap_search_base: dc=example,dc=org\n"
        "ldap_filter: (&(mail=%U@example.org)(objectClass=inetOrgPerson))\nldap_referrals: yes\n"
    )
    with SaslauthdSandbox(conf) as saslauthd:
        assert saslauthd.answer("alice", "example.org", ALICE_PW) == "OK"
    # only dovecot and saslauthd get two servers; postfix keeps the one that answers
    extra = ["--set", f"DOVECOT_URIS={both}", "--set", f"SASLAUTHD_LDAP_SERVER={both}"]
    code, out, err, elapsed = ldapdiag(tmp_path, "login", up, *extra, json_out=True)
    assert code in (0, 1) and "could not check" not in err and "Traceback" not in out + err, err
    login = json.loads(out)
    assert login["passdb"]["result"] == "ok" and login["smtp_auth"]["ok"] is True, login
    for component in ("dovecot", "saslauthd"):
        assert f"ldapdiag: note: {component}: {down}: connection refused" in err, err
        assert any(
            line.startswith(f"ldapdiag: note: {component}:") and line.endswith(f"{up} answered")
            for line in err.splitlines()
        ), err
    assert "note: postfix" not in err
    assert elapsed <= TIMEOUT + 1


@pytest.mark.parametrize("allow", [1, 2])
def test_restarted_mid_way_reconnects_like_postmap(
    tmp_path: Path, basic_setup_directory: RunningDirectory, allow: int
) -> None:
    """postfix's dict_ldap reopens a lost connection and searches once more: postmap answers every
    key and exits 0. ldapdiag must do the same, with no "could not check" (the restart is no fault)."""
    import subprocess

    from tests.oracles.postfix import POSTMAP, require

    keys = ["alice@example.org", "bob@example.org", "carol@example.org"]
    outputs = []
    for tool in ("postmap", "ldapdiag"):
        relay = RestartingRelay(basic_setup_directory.ldap_url, allow=allow)
        table = tmp_path / "users.cf"
        table.write_text(
            f"server_host = {relay.url}\nsearch_base = dc=example,dc=org\nversion = 3\nbind = yes\n"
            "bind_dn = cn=admin,ou=users,dc=example,dc=org\nbind_pw = mypassword\n"
            "query_filter = (&(objectClass=inetOrgPerson)(mail=%s))\nresult_attribute = mail\n"
        )
        (tmp_path / "main.cf").write_text("compatibility_level = 3.6\n")
        try:
            if tool == "postmap":
                real = subprocess.run(
                    [require(POSTMAP, "postmap"), "-c", str(tmp_path), "-q", "-", f"ldap:{table}"],
                    input="".join(f"{key}\n" for key in keys),
                    capture_output=True,
                    text=True,
                    timeout=30,
                    check=False,
                )
                outputs.append((real.returncode, real.stdout))
            else:
                args = [
                    "lookup",
                    f"ldap:{table}",
                    "-",
                    "--no-env",
                    "--env-file",
                    str(BASIC_SETUP / "mailserver.env"),
                ]
                result = CliRunner().invoke(
                    main, [*args, "--timeout", str(TIMEOUT)], input="".join(f"{key}\n" for key in keys)
                )
                assert "could not check" not in result.stderr, result.stderr
                outputs.append((result.exit_code, result.stdout))
            assert relay.requests > allow  # the cut really happened, and the search came again
        finally:
            relay.stop()
    assert outputs[0][0] == 0 and outputs[0][1].count("\n") == 3
    assert outputs[1] == outputs[0]
