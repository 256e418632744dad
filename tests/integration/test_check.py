"""`ldapdiag check` end to end: DMS variables in, a table or JSON out, exit 0 / 1 / 2.

Run through click's CliRunner like a user would: `ldapdiag check --no-env --env-file FILE --set
LDAP_SERVER_HOST=URL`. Each failure must name its problem, exit 2, print no traceback and never the
password (a canary), within the configured timeout + 1 s.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ldapdiag.cli import main
from ldapdiag.demo import RunningDirectory
from tests.ldap_server import requires_slapd
from tests.tls_servers import SilentServer

pytestmark = requires_slapd

CANARY = "CANARY-pw-91a7e2"
ENV = """\
ACCOUNT_PROVISIONER=LDAP
OVERRIDE_HOSTNAME=mail.example.org
LDAP_SEARCH_BASE=dc=example,dc=org
LDAP_BIND_DN=cn=admin,ou=users,dc=example,dc=org
LDAP_BIND_PW={password}
LDAP_QUERY_FILTER_USER=(&(objectClass=inetOrgPerson)(mail=%s))
LDAP_QUERY_FILTER_ALIAS=(&(objectClass=inetOrgPerson)(mailAlias=%s))
LDAP_QUERY_FILTER_GROUP=(&(objectClass=inetOrgPerson)(mailGroupMember=%s))
LDAP_QUERY_FILTER_DOMAIN=(|(mail=*@%s)(mailAlias=*@%s))
DOVECOT_USER_FILTER=(&(objectClass=inetOrgPerson)(mail=%u))
DOVECOT_PASS_ATTRS=userPassword=password
ENABLE_SASLAUTHD=1
SASLAUTHD_MECHANISMS=ldap
SASLAUTHD_LDAP_FILTER=(&(mail=%U@example.org)(objectClass=inetOrgPerson))
"""


def env_file(tmp_path: Path, password_file: Path, extra: str = "") -> Path:
    """The env file (LDAP_BIND_PW itself: DMS does not export a *__FILE secret into ldap-*.cf)."""
    path = tmp_path / "mailserver.env"
    path.write_text(ENV.format(password=password_file.read_text()) + extra)
    return path


def check(env: Path, url: str, *args: str) -> tuple[int, str, str, float]:
    """Run `ldapdiag check`; exit code, stdout, stderr and seconds taken."""
    arguments = ["check", "--no-env", "--env-file", str(env), "--set", f"LDAP_SERVER_HOST={url}", *args]
    start = time.monotonic()
    result = CliRunner().invoke(main, arguments, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr, time.monotonic() - start


def components(stdout: str) -> dict[str, dict]:
    data = json.loads(stdout)
    return {entry["component"]: entry for entry in data["components"]}


def kinds(entry: dict, level: str = "error") -> set[str]:
    return {problem["kind"] for problem in entry["problems"] if problem["level"] == level}


@pytest.fixture
def canary_file(tmp_path: Path) -> Path:
    path = tmp_path / "canary"
    path.write_text(CANARY)
    return path


def assert_clean(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text
        assert CANARY not in text


# --- all good ---------------------------------------------------------------------------------


def test_plain_ldap_all_good(tmp_path: Path, basic_setup_directory: RunningDirectory) -> None:
    env = env_file(tmp_path, basic_setup_directory.password_file)
    code, out, err, _ = check(env, basic_setup_directory.ldap_url, "--format", "json")
    assert code == 0, out + err
    data = json.loads(out)
    assert data["status"] == "ok" and data["exit_code"] == 0
    found = components(out)
    assert set(found) == {"postfix", "dovecot", "saslauthd"}
    postfix = found["postfix"]
    assert len(postfix["files"]) == 4  # the tables main.cf names, sharing one connection
    assert postfix["bind"]["code"] == 0 and postfix["bind"]["whoami"].startswith("dn:cn=admin")
    assert all(base["exists"] for base in postfix["bases"])
    assert postfix["root_dse"]["vendor"] == "OpenLDAP"
    assert postfix["root_dse"]["absolute_true_false_filters"] is True
    assert postfix["root_dse"]["paged_results"] is True
    assert postfix["settings"]["version"] == 3
    assert {event["operation"] for event in data["trace"]} <= {
        "connect",
        "bind",
        "search",
        "whoami",
        "unbind",
    }


def test_table_output(tmp_path: Path, basic_setup_directory: RunningDirectory) -> None:
    env = env_file(tmp_path, basic_setup_directory.password_file)
    code, out, err, _ = check(env, basic_setup_directory.ldap_url)
    assert code == 0, out + err
    assert out.splitlines()[0].split()[:3] == ["component", "files", "server"]
    assert "result: all good (exit 0)" in out


@pytest.mark.parametrize("mode", ["starttls", "ldaps"])
def test_tls_modes(tmp_path: Path, basic_setup_directory: RunningDirectory, mode: str) -> None:
    """postfix does not check (tls_require_cert = no): a finding; dovecot and saslauthd trust --ca-file."""
    running = basic_setup_directory
    assert running.ldaps_url is not None and running.ca_file is not None
    extra = (
        "LDAP_START_TLS=yes\nDOVECOT_TLS=yes\nSASLAUTHD_LDAP_START_TLS=yes\n" if mode == "starttls" else ""
    )
    url = running.ldaps_url if mode == "ldaps" else running.ldap_url
    env = env_file(tmp_path, running.password_file, extra)
    code, out, err, _ = check(env, url, "--ca-file", str(running.ca_file), "--format", "json")
    assert code == 1, out + err
    found = components(out)
    for name in ("postfix", "dovecot", "saslauthd"):
        assert found[name]["tls"]["mode"] == mode
        assert found[name]["tls"]["certificate"]["hostname_ok"] is True
    assert found["dovecot"]["status"] == "ok" and found["dovecot"]["tls"]["certificate"]["trusted"] is True
    assert found["postfix"]["status"] == "finding"
    assert "cert-untrusted" in kinds(found["postfix"], "finding")


def test_postfix_accepts_what_dovecot_refuses(tmp_path: Path, expired_directory: RunningDirectory) -> None:
    assert expired_directory.ldaps_url is not None and expired_directory.ca_file is not None
    env = env_file(tmp_path, expired_directory.password_file)
    code, out, _, _ = check(env, expired_directory.ldaps_url, "--ca-file", str(expired_directory.ca_file))
    assert code == 2
    assert "postfix accepts this certificate (tls_require_cert = no (default))" in out
    assert "dovecot (TLS_REQCERT demand (libldap default)) would refuse it" in out
    assert "dovecot: " + expired_directory.ldaps_url + ": certificate expired" in out


# --- each failure: its problem, exit 2 --------------------------------------------------------


def failure(
    tmp_path: Path, running: RunningDirectory | None, url: str, *args: str, password: Path | None = None
):
    password_file = password or (running.password_file if running else tmp_path / "none")
    if not password_file.exists():
        password_file.write_text("x")
    env = env_file(tmp_path, password_file, "ENABLE_SASLAUTHD=0\n")
    code, out, err, elapsed = check(env, url, "--format", "json", *args)
    assert_clean(out, err)
    assert code == 2, out + err
    return components(out), elapsed


def test_wrong_ca(tmp_path: Path, basic_setup_directory: RunningDirectory, other_ca_file: Path) -> None:
    assert basic_setup_directory.ldaps_url is not None
    found, _ = failure(
        tmp_path, basic_setup_directory, basic_setup_directory.ldaps_url, "--ca-file", str(other_ca_file)
    )
    assert kinds(found["dovecot"]) == {"cert-untrusted"}


def test_expired_certificate(tmp_path: Path, expired_directory: RunningDirectory) -> None:
    assert expired_directory.ldaps_url and expired_directory.ca_file
    found, _ = failure(
        tmp_path, expired_directory, expired_directory.ldaps_url, "--ca-file", str(expired_directory.ca_file)
    )
    assert kinds(found["dovecot"]) == {"cert-expired"}
    assert "cert-expired" in kinds(found["postfix"], "finding")


def test_ip_san_mismatch(tmp_path: Path, other_ip_directory: RunningDirectory) -> None:
    running = other_ip_directory
    assert running.ldaps_url and running.ca_file
    found, _ = failure(tmp_path, running, running.ldaps_url, "--ca-file", str(running.ca_file))
    assert kinds(found["dovecot"]) == {"hostname-mismatch"}
    assert found["postfix"]["tls"]["certificate"]["names"] == ["127.0.0.2"]


def test_dns_only_certificate_reached_by_ip(tmp_path: Path, dns_only_directory: RunningDirectory) -> None:
    running = dns_only_directory
    assert running.ca_file
    found, _ = failure(
        tmp_path, running, running.ldap_url, "--ca-file", str(running.ca_file), "--set", "DOVECOT_TLS=yes"
    )
    assert kinds(found["dovecot"]) == {"hostname-mismatch"}


def test_starttls_on_a_server_without_tls(tmp_path: Path, plain_directory: RunningDirectory) -> None:
    found, _ = failure(tmp_path, plain_directory, plain_directory.ldap_url, "--set", "LDAP_START_TLS=yes")
    assert kinds(found["postfix"]) == {"starttls-refused"}
    assert found["dovecot"]["status"] == "ok"  # DOVECOT_TLS is a switch of its own


def test_ldaps_against_a_plain_port(tmp_path: Path, basic_setup_directory: RunningDirectory) -> None:
    url = basic_setup_directory.ldap_url.replace("ldap://", "ldaps://")
    found, _ = failure(tmp_path, basic_setup_directory, url)
    assert kinds(found["postfix"]) == {"tls-handshake-failed"}


def test_plain_against_an_ldaps_port(tmp_path: Path, basic_setup_directory: RunningDirectory) -> None:
    assert basic_setup_directory.ldaps_url is not None
    found, _ = failure(
        tmp_path, basic_setup_directory, basic_setup_directory.ldaps_url.replace("ldaps", "ldap")
    )
    assert kinds(found["postfix"]) == {"server-closed"}


def test_wrong_password(tmp_path: Path, basic_setup_directory: RunningDirectory, canary_file: Path) -> None:
    found, _ = failure(tmp_path, basic_setup_directory, basic_setup_directory.ldap_url, password=canary_file)
    assert kinds(found["postfix"]) == {"invalid-credentials"}
    assert found["postfix"]["bind"]["code"] == 49


def test_missing_base(tmp_path: Path, basic_setup_directory: RunningDirectory) -> None:
    found, _ = failure(
        tmp_path,
        basic_setup_directory,
        basic_setup_directory.ldap_url,
        "--set",
        "LDAP_SEARCH_BASE=ou=nowhere,dc=example,dc=org",
    )
    assert kinds(found["postfix"]) == {"search-base-missing"}
    assert found["postfix"]["bases"][0]["exists"] is False


def test_unreachable_port(tmp_path: Path, closed_port: int) -> None:
    found, elapsed = failure(tmp_path, None, f"ldap://127.0.0.1:{closed_port}")
    assert kinds(found["postfix"]) == {"connection-refused"}
    assert elapsed < 3


def test_silent_server(tmp_path: Path, silent_server: SilentServer) -> None:
    """postfix tables with `timeout = 2` (config volume overrides); dovecot off (SMTP_ONLY)."""
    volume = tmp_path / "dms-config"
    volume.mkdir()
    for name, variable in (
        ("users", "USER"),
        ("aliases", "ALIAS"),
        ("groups", "GROUP"),
        ("domains", "DOMAIN"),
    ):
        (volume / f"ldap-{name}.cf").write_text(
            "server_host = x\nsearch_base = x\nbind = yes\nbind_dn = x\nbind_pw = x\n"
            f"query_filter = x\nresult_attribute = mail\nversion = 3\ntimeout = 2\n# {variable}\n"
        )
    found, elapsed = failure(
        tmp_path, None, silent_server.url, "--dms-config", str(volume), "--set", "SMTP_ONLY=1"
    )
    assert set(found) == {"postfix"}
    assert kinds(found["postfix"]) == {"timeout"}
    assert elapsed <= 2 + 1


def test_unknown_host_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(CANARY)
    env = env_file(tmp_path, tmp_path / "pw", "ENABLE_SASLAUTHD=0\nSMTP_ONLY=1\n")
    code, out, err, _ = check(env, "ldap://no-such-host.invalid")
    assert code == 2
    assert_clean(out, err)
    lines = [line for line in out.splitlines() if line.startswith("error")]
    assert lines == [
        "error   postfix: ldap://no-such-host.invalid:389: host name not found (Name or service not known)"
    ]


def test_password_never_printed(
    tmp_path: Path, basic_setup_directory: RunningDirectory, canary_file: Path
) -> None:
    env = env_file(tmp_path, canary_file)
    for arguments in ((), ("--format", "json")):
        code, out, err, _ = check(env, basic_setup_directory.ldap_url, *arguments)
        assert code == 2
        assert_clean(out, err)


def test_saslauthd_with_another_mechanism_is_not_checked(
    tmp_path: Path, basic_setup_directory: RunningDirectory
) -> None:
    env = env_file(tmp_path, basic_setup_directory.password_file, "SASLAUTHD_MECHANISMS=rimap\n")
    code, out, err, _ = check(env, basic_setup_directory.ldap_url, "--format", "json")
    assert code == 0, out + err
    assert set(components(out)) == {"postfix", "dovecot"}
