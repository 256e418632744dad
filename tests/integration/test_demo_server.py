"""The throwaway slapd of ldapdiag.demo, serving scenarios/basic-setup, checked with the real ldapsearch.

Expected entries are reasoned from scenarios/basic-setup/directory.ldif (see its header) and the
postfix-book matching rules in its schema, not recorded from a run.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from ldapdiag.demo import (
    DemoServerError,
    RunningDirectory,
    Scenario,
    ServerCerts,
    expired_certs,
    generate_certs,
    serve_scenario,
)
from ldapdiag.demo import server as demo_server

pytest.register_assert_rewrite("tests.ldap_server")
from tests.ldap_server import (  # noqa: E402
    BASIC_SETUP,
    ldapsearch,
    requires_slapd,
    search_dns,
    slapd_pids,
)

pytestmark = requires_slapd

REPO = Path(__file__).resolve().parents[2]
ALL_USERS = {"alice", "bob", "carol", "dave"}


def dn(uid: str) -> str:
    """The DN of a basic-setup user."""
    return f"uid={uid},ou=users,dc=example,dc=org"


def dns(*uids: str) -> set[str]:
    """The DNs of several basic-setup users."""
    return {dn(uid) for uid in uids}


def read_env(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an env file (split at the first '='), comments skipped."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines())
    return {p[0]: p[1] for p in pairs if len(p) == 2 and not p[0].startswith("#")}


ENV = read_env(BASIC_SETUP / "mailserver.env")


# --- reaching the server -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mail", "uid"),
    [
        ("alice@example.org", "alice"),
        ("bob@example.org", "bob"),
        ("carol@example.org", "carol"),
        ("Dave.Davis@example.org", "dave"),
        ("dave.davis@example.org", "dave"),  # mail matches case-insensitively
    ],
)
def test_bind_dn_finds_users_by_mail(basic_setup_directory: RunningDirectory, mail: str, uid: str) -> None:
    assert search_dns(basic_setup_directory, f"(mail={mail})") == {dn(uid)}


def test_bind_dn_reads_password_hashes(basic_setup_directory: RunningDirectory) -> None:
    result = ldapsearch(basic_setup_directory, "(objectClass=inetOrgPerson)", ["userPassword"])
    encoded = [line.split(":: ", 1)[1] for line in result.stdout.splitlines() if ":: " in line]
    hashes = [base64.b64decode(value).decode() for value in encoded]
    assert len(hashes) == len(ALL_USERS)
    assert all(value.startswith("{SSHA}") for value in hashes)


def test_anonymous_sees_nothing(basic_setup_directory: RunningDirectory) -> None:
    result = ldapsearch(basic_setup_directory, "(objectClass=*)", bind=False)
    assert result.returncode == 32  # noSuchObject: slapd hides even the base
    assert "dn:" not in result.stdout


def test_protocol_version_2_binds_are_refused(basic_setup_directory: RunningDirectory) -> None:
    directory = basic_setup_directory
    args = ["-x", "-P", "2", "-H", directory.ldap_url, "-D", directory.bind_dn, "-b", directory.base]
    search = ["ldapsearch", *args, "-y", str(directory.password_file), "(uid=bob)"]
    result = subprocess.run(search, capture_output=True, text=True)
    assert result.returncode == 2  # protocolError, like a stock OpenLDAP without "allow bind_v2"
    assert "historical protocol version" in result.stderr


def test_every_user_binds_with_the_scenario_password(
    basic_setup_directory: RunningDirectory, basic_setup_scenario: Scenario, tmp_path: Path
) -> None:
    assert set(basic_setup_scenario.user_passwords) == ALL_USERS
    for uid, password in basic_setup_scenario.user_passwords.items():
        secret = tmp_path / uid
        secret.write_text(password)
        args = ["-x", "-H", basic_setup_directory.ldap_url, "-D", dn(uid), "-y", str(secret)]
        who = subprocess.run(["ldapwhoami", *args], capture_output=True, text=True)
        assert who.stdout.strip() == f"dn:{dn(uid)}", who.stderr


def test_wrong_password_is_refused(basic_setup_directory: RunningDirectory, tmp_path: Path) -> None:
    secret = tmp_path / "wrong"
    secret.write_text("not-the-password")
    args = ["-x", "-H", basic_setup_directory.ldap_url, "-D", dn("alice"), "-y", str(secret)]
    who = subprocess.run(["ldapwhoami", *args], capture_output=True, text=True)
    assert who.returncode == 49  # invalidCredentials


def test_password_file_is_private_and_never_logged(basic_setup_directory: RunningDirectory) -> None:
    password_file = basic_setup_directory.password_file
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert search_dns(basic_setup_directory, "(uid=alice)") == {dn("alice")}
    assert basic_setup_directory.access_log is not None
    assert password_file.read_text() not in basic_setup_directory.access_log.read_text()


def test_access_log_records_operations(basic_setup_directory: RunningDirectory) -> None:
    search_dns(basic_setup_directory, "(mail=carol@example.org)")
    assert basic_setup_directory.access_log is not None
    log = wait_for(basic_setup_directory.access_log, 'filter="(mail=carol@example.org)"')
    assert f'BIND dn="{basic_setup_directory.bind_dn}"' in log


def wait_for(log: Path, text: str, timeout: float = 2.0) -> str:
    """The log's text once it contains `text` (slapd writes it from a worker thread)."""
    deadline = time.monotonic() + timeout
    while text not in (content := log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return content


# --- TLS -------------------------------------------------------------------------------------


def test_starttls_works_with_the_ca(basic_setup_directory: RunningDirectory) -> None:
    found = search_dns(
        basic_setup_directory, "(uid=bob)", starttls=True, ca_file=basic_setup_directory.ca_file
    )
    assert found == {dn("bob")}


def test_ldaps_works_with_the_ca(basic_setup_directory: RunningDirectory) -> None:
    url = basic_setup_directory.ldaps_url
    found = search_dns(basic_setup_directory, "(uid=bob)", url=url, ca_file=basic_setup_directory.ca_file)
    assert found == {dn("bob")}


@pytest.mark.parametrize("ca", ["system", "other"])
@pytest.mark.parametrize("mode", ["starttls", "ldaps"])
def test_tls_fails_without_the_ca(
    basic_setup_directory: RunningDirectory, tmp_path: Path, mode: str, ca: str
) -> None:
    ca_file = None
    if ca == "other":
        ca_file = tmp_path / "other-ca.pem"
        ca_file.write_bytes(generate_certs().ca_pem)
    result = tls_search(basic_setup_directory, mode, ca_file)
    assert result.returncode != 0
    assert "dn:" not in result.stdout


def tls_search(
    directory: RunningDirectory, mode: str, ca_file: Path | None
) -> subprocess.CompletedProcess[str]:
    """A (uid=bob) search over StartTLS or LDAPS, trusting `ca_file` (None: the system store)."""
    if mode == "starttls":
        return ldapsearch(directory, "(uid=bob)", starttls=True, ca_file=ca_file)
    return ldapsearch(directory, "(uid=bob)", url=directory.ldaps_url, ca_file=ca_file)


BAD_CERTS = {
    "expired": expired_certs,
    "wrong-host": lambda: generate_certs(["mail.example.net"]),
}


@pytest.mark.parametrize("kind", sorted(BAD_CERTS))
def test_injected_bad_certificates_are_served_and_refused(kind: str) -> None:
    certs = BAD_CERTS[kind]()
    with serve_scenario(BASIC_SETUP, certs=certs) as directory:
        assert directory.ca_file is not None
        assert directory.ca_file.read_bytes() == certs.ca_pem
        for mode in ("starttls", "ldaps"):
            assert tls_search(directory, mode, directory.ca_file).returncode != 0
        assert search_dns(directory, "(uid=bob)") == {dn("bob")}  # plain ldap still works


def test_without_tls_there_is_no_ldaps_and_no_starttls() -> None:
    with serve_scenario(BASIC_SETUP, tls=False) as directory:
        assert directory.ldaps_url is None
        assert directory.ca_file is None
        assert search_dns(directory, "(uid=bob)") == {dn("bob")}
        assert ldapsearch(directory, "(uid=bob)", starttls=True).returncode != 0


# --- the seed's Basic Setup filters --------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "key", "uids"),
    [
        # every mail user has a mail@example.org; the admin has no mail at all
        ("LDAP_QUERY_FILTER_DOMAIN", "example.org", ALL_USERS),
        ("LDAP_QUERY_FILTER_DOMAIN", "example.net", set()),
        ("LDAP_QUERY_FILTER_USER", "alice@example.org", {"alice"}),
        ("LDAP_QUERY_FILTER_USER", "dave.davis@example.org", {"dave"}),
        ("LDAP_QUERY_FILTER_USER", "info@example.org", set()),  # an alias, not a mailbox
        ("LDAP_QUERY_FILTER_ALIAS", "info@example.org", {"alice", "bob"}),
        ("LDAP_QUERY_FILTER_ALIAS", "postmaster@example.org", {"alice"}),
        ("LDAP_QUERY_FILTER_ALIAS", "alice.adams@example.org", {"alice"}),
        ("LDAP_QUERY_FILTER_ALIAS", "alice@example.org", set()),  # her mailbox, not an alias
        ("LDAP_QUERY_FILTER_GROUP", "team@example.org", {"alice", "bob", "dave"}),
        ("LDAP_QUERY_FILTER_GROUP", "support@example.org", {"bob", "carol"}),
        ("LDAP_QUERY_FILTER_GROUP", "Team@example.org", set()),  # caseExactIA5Match
        ("LDAP_QUERY_FILTER_SENDERS", "alice@example.org", {"alice"}),
        ("LDAP_QUERY_FILTER_SENDERS", "info@example.org", {"alice", "bob"}),
        ("LDAP_QUERY_FILTER_SENDERS", "support@example.org", {"bob", "carol"}),
        ("DOVECOT_USER_FILTER", "dave.davis@example.org", {"dave"}),
        ("DOVECOT_USER_FILTER", "carol@example.org", {"carol"}),
        ("SASLAUTHD_LDAP_FILTER", "alice", {"alice"}),
        ("SASLAUTHD_LDAP_FILTER", "dave", set()),  # dave's mail local part is dave.davis
    ],
)
def test_seed_filters_select_the_expected_entries(
    basic_setup_directory: RunningDirectory, variable: str, key: str, uids: set[str]
) -> None:
    template = ENV[variable]
    search_filter = template.replace("%s", key).replace("%u", key).replace("%U", key)
    assert search_dns(basic_setup_directory, search_filter) == dns(*uids)


def test_substring_filter_on_mail_group_member_matches_nothing(
    basic_setup_directory: RunningDirectory,
) -> None:
    assert search_dns(basic_setup_directory, "(mailGroupMember=*@example.org)") == set()
    assert search_dns(basic_setup_directory, "(mailAlias=*@example.org)") == dns("alice", "bob")


def test_env_file_binds_as_the_served_bind_dn(basic_setup_directory: RunningDirectory) -> None:
    assert ENV["LDAP_BIND_DN"] == basic_setup_directory.bind_dn
    assert ENV["LDAP_SEARCH_BASE"] == basic_setup_directory.base
    assert ENV["LDAP_BIND_PW"] == basic_setup_directory.password_file.read_text()


# --- lifecycle -------------------------------------------------------------------------------


def test_starts_fast_and_cleans_up_on_normal_exit() -> None:
    started = time.monotonic()
    with serve_scenario(BASIC_SETUP) as directory:
        elapsed = time.monotonic() - started
        workdir = directory.password_file.parent
        assert slapd_pids(workdir)
    assert elapsed < 2.0
    assert not slapd_pids(workdir)
    assert not workdir.exists()


def test_cleans_up_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError, match="boom"), serve_scenario(BASIC_SETUP) as directory:
        workdir = directory.password_file.parent
        raise RuntimeError("boom")
    assert not slapd_pids(workdir)
    assert not workdir.exists()


CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from ldapdiag.demo import serve_scenario
    with serve_scenario(Path(sys.argv[1])) as directory:
        print(directory.password_file.parent, flush=True)
        time.sleep(60)
    """
)


@pytest.mark.parametrize(
    ("sig", "cleans_files"),
    [(signal.SIGTERM, True), (signal.SIGINT, True), (signal.SIGKILL, False)],
    ids=["SIGTERM", "SIGINT", "SIGKILL"],
)
def test_killed_parent_leaves_no_slapd(sig: signal.Signals, cleans_files: bool) -> None:
    """SIGTERM/Ctrl-C run the cleanup; SIGKILL cannot, but slapd still dies with its parent."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(BASIC_SETUP)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        preexec_fn=_interruptible,
    )
    workdir = Path(child.stdout.readline().strip())  # type: ignore[union-attr]
    try:
        assert slapd_pids(workdir)
        child.send_signal(sig)
        child.wait(timeout=10)
        assert wait_until_gone(workdir)
        assert workdir.exists() != cleans_files
    finally:
        child.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def _interruptible() -> None:
    """SIGINT as a terminal delivers it: a suite started in the background of a non-interactive
    shell ignores SIGINT (POSIX), the child would inherit that and never see Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_until_gone(workdir: Path, timeout: float = 5.0) -> bool:
    """True once no slapd of `workdir` is alive (Linux delivers the parent-death signal async)."""
    deadline = time.monotonic() + timeout
    while slapd_pids(workdir) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not slapd_pids(workdir)


def test_retries_when_a_port_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        real = demo_server.ScenarioSlapd._avail_tcpport
        ports = iter([busy])
        monkeypatch.setattr(
            demo_server.ScenarioSlapd, "_avail_tcpport", lambda self: next(ports, None) or real(self)
        )
        with serve_scenario(BASIC_SETUP) as directory:
            assert not directory.ldap_url.endswith(f":{busy}")
            assert search_dns(directory, "(uid=carol)") == {dn("carol")}


def test_a_broken_scenario_fails_with_one_line_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(BASIC_SETUP, broken)
    manifest = broken / "schema" / "schemas.txt"
    manifest.write_text(manifest.read_text().replace("nis ", "# nis "))  # posixAccount undefined
    private_tmp = tmp_path / "tmp"  # only this test's server can leave anything here
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    before = set(Path(tempfile.gettempdir()).glob("ldapdiag-slapd-*"))
    with pytest.raises(DemoServerError) as caught, serve_scenario(broken):
        pass
    message = str(caught.value)
    assert "\n" not in message
    assert "slapadd rejected" in message and "directory.ldif" in message
    assert "homeDirectory" in message
    assert set(Path(tempfile.gettempdir()).glob("ldapdiag-slapd-*")) == before


def test_a_slapd_that_exits_at_startup_fails_with_one_line() -> None:
    certs = generate_certs()
    mismatched = ServerCerts(certs.ca_pem, certs.chain_pem, generate_certs().key_pem)
    failure = pytest.raises(DemoServerError, match=r"^slapd did not start: .*TLS")
    with failure as caught, serve_scenario(BASIC_SETUP, certs=mismatched):
        pass
    assert "\n" not in str(caught.value)
