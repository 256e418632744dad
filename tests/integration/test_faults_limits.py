"""Faults the server *answers* with (issue 10): size limit exceeded and a referral instead of results.

Real slapds only: basic-setup served with `olcSizeLimit: 1` (a search matching two or more
entries gets one entry and sizeLimitExceeded (4)), and basic-setup plus a referral object
`ou=moved,dc=example,dc=org` (objectClass referral, `ref: ldap://127.0.0.1:9/...`, a server that is
not there): a search based at it is answered with resultCode referral (10); a subtree search from
`dc=example,dc=org` gets its entries plus a search continuation reference.

What the real programs do is measured here, not assumed:
- postmap -q (postfix 3.7 dict_ldap, chase_referrals = no): size limit -> `warning: dict_ldap_lookup:
  Search error 4: Size limit exceeded` and a query error (the table lookup fails: smtpd's 451 4.3.0);
  referral -> `Search error 10: Referral`, query error; continuation references are ignored.
- doveadm (dovecot 2.3, libldap's default REFERRALS on): size limit and referral -> `ldap_search(...)
  failed: Size limit exceeded` / `failed: Referral`, doveadm user exit 75 (tempfail).
- testsaslauthd (saslauthd 2.1, DMS's `ldap_referrals: yes`): referral -> NO; references -> OK.
ldapdiag must say the same, and by the README's rule (When the directory is broken) exit 2 with
one `ldapdiag: could not check: ...` line for every command the fault reaches.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ldapdiag.demo import RunningDirectory, serve_scenario
from tests.integration.test_faults import COMMANDS, ldapdiag
from tests.ldap_server import BASIC_SETUP, missing_ldap_tools, requires_slapd

pytestmark = requires_slapd

ADMIN = "cn=admin,ou=users,dc=example,dc=org"
MOVED = "ou=moved,dc=example,dc=org"
REFERRAL_ENTRY = f"""
dn: {MOVED}
objectClass: referral
objectClass: extensibleObject
ou: moved
ref: ldap://127.0.0.1:9/ou=users,dc=example,dc=org
"""
GROUP_FILTER = "(&(objectClass=inetOrgPerson)(mailGroupMember=%s))"  # team@ matches 3 entries
USER_FILTER = "(&(objectClass=inetOrgPerson)(mail=%s))"


@pytest.fixture(scope="module")
def size_limited() -> Iterator[RunningDirectory]:
    """basic-setup with olcSizeLimit 1 (the bind DN is no rootdn: the limit applies to it)."""
    if missing_ldap_tools():
        pytest.skip("slapd is not installed")
    with serve_scenario(BASIC_SETUP, size_limit="1") as directory:
        yield directory


@pytest.fixture(scope="module")
def with_referral(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDirectory]:
    """basic-setup plus a referral object ou=moved pointing at a server that is not there."""
    if missing_ldap_tools():
        pytest.skip("slapd is not installed")
    folder = tmp_path_factory.mktemp("referral") / "scenario"
    shutil.copytree(BASIC_SETUP, folder)
    with (folder / "directory.ldif").open("a") as ldif:
        ldif.write(REFERRAL_ENTRY)
    with serve_scenario(folder) as directory:
        yield directory


def postmap(tmp_path: Path, url: str, base: str, query_filter: str, key: str) -> subprocess.CompletedProcess:
    """The real `postmap -q KEY ldap:FILE` with DMS's ldap-*.cf settings for basic-setup."""
    from tests.oracles.postfix import POSTMAP, require

    table = tmp_path / "table.cf"
    table.write_text(
        f"server_host = {url}\nsearch_base = {base}\nversion = 3\nbind = yes\nbind_dn = {ADMIN}\n"
        f"bind_pw = mypassword\nquery_filter = {query_filter}\nresult_attribute = mail\n"
    )
    (tmp_path / "main.cf").write_text("compatibility_level = 3.6\n")
    return subprocess.run(
        [require(POSTMAP, "postmap"), "-c", str(tmp_path), "-q", key, f"ldap:{table}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def doveadm_user(url: str, base: str, user_filter: str, user: str) -> tuple[int, str]:
    """`doveadm user` through a real dovecot: (exit code, dovecot's error line or '')."""
    from tests.oracles.dovecot import DovecotSandbox

    conf = (
        f"uris = {url}\nbase = {base}\ndn = {ADMIN}\ndnpass = mypassword\nldap_version = 3\n"
        f"user_filter = {user_filter.replace('%s', '%u')}\npass_filter = {user_filter.replace('%s', '%u')}\n"
        "user_attrs = =home=/var/mail/%{ldap:uid},uidNumber=uid,gidNumber=gid\n"
    )
    with DovecotSandbox(conf) as dovecot:
        answer = dovecot.user(user)
    errors = [line for line in answer.log if "Error:" in line]
    return answer.exit_code, errors[-1] if errors else ""


def run(tmp_path: Path, args: list[str], url: str, *extra: str, json_out: bool = False) -> tuple:
    """test_faults.ldapdiag() with any command line (the matrix's configuration and --timeout 2)."""
    COMMANDS["_limits"] = args
    try:
        return ldapdiag(tmp_path, "_limits", url, *extra, json_out=json_out)
    finally:
        COMMANDS.pop("_limits", None)


def could_not_check(result: tuple, *words: str) -> None:
    code, out, err, elapsed = result
    assert "Traceback" not in out + err
    assert code == 2, out + err
    lines = [line for line in err.splitlines() if line.startswith("ldapdiag: could not check: ")]
    assert lines and all(any(word in line for line in lines) for word in words), err
    assert elapsed <= 3.0


# --- size limit exceeded ----------------------------------------------------------------------------


def test_size_limit_postfix_like_postmap(tmp_path: Path, size_limited: RunningDirectory) -> None:
    real = postmap(tmp_path, size_limited.ldap_url, "dc=example,dc=org", GROUP_FILTER, "team@example.org")
    assert real.returncode != 0 and real.stdout == "", real
    warning = "warning: dict_ldap_lookup: Search error 4: Size limit exceeded"
    assert warning in real.stderr and "query error" in real.stderr
    result = run(tmp_path, ["lookup", "groups", "team@example.org"], size_limited.ldap_url)
    could_not_check(result, "size limit exceeded")
    assert f"ldapdiag: {warning}" in result[2]  # postfix's own warning, word for word
    # one entry is within the limit: both answer
    real = postmap(tmp_path, size_limited.ldap_url, "dc=example,dc=org", USER_FILTER, "alice@example.org")
    assert (real.returncode, real.stdout) == (0, "alice@example.org\n"), real.stderr
    code, out, err, _ = ldapdiag(tmp_path, "lookup", size_limited.ldap_url)
    assert code == 0 and "alice@example.org\talice@example.org" in out, err


SIZE_COMMANDS = {
    "resolve": ["resolve", "alice@example.org", "team@example.org"],
    "send-as": ["send-as", "alice@example.org", "alice@example.org", "team@example.org"],
    "run": ["run", "{team}"],
    "audit": ["audit"],  # the enumeration's paged search meets the limit first
}


@pytest.mark.parametrize("command", list(SIZE_COMMANDS))
def test_size_limit_every_postfix_command(
    tmp_path: Path, command: str, size_limited: RunningDirectory
) -> None:
    team = tmp_path / "team.yaml"
    team.write_text("deliver:\n  - alice@example.org\n  - team@example.org\n")
    args = [arg.replace("{team}", str(team)) for arg in SIZE_COMMANDS[command]]
    result = run(tmp_path, args, size_limited.ldap_url, json_out=True)
    could_not_check(result, "postfix: ", "size limit exceeded")
    if command == "resolve":
        import json

        alice, team = json.loads(result[1])
        assert alice["incomplete"] is False and alice["verdict"] == "deliver"  # answered in the limit
        assert team["incomplete"] is True and team["smtp_reply"].startswith("451 4.3.0")


def test_size_limit_dovecot_like_doveadm(tmp_path: Path, size_limited: RunningDirectory) -> None:
    code, error = doveadm_user(size_limited.ldap_url, "dc=example,dc=org", GROUP_FILTER, "team@example.org")
    assert code == 75 and error.endswith("failed: Size limit exceeded"), (code, error)
    group_filter = ["--set", f"DOVECOT_USER_FILTER={GROUP_FILTER.replace('%s', '%u')}"]
    for command in (["user", "team@example.org"], ["login", "team@example.org", "--password-file", "{pw}"]):
        result = run(tmp_path, command, size_limited.ldap_url, *group_filter)
        could_not_check(result, "dovecot: ", "size limit exceeded")
        assert "internal_failure" in result[1] and error.split("Error: ")[-1].split("): ", 1)[1] in result[1]


# --- a referral instead of results ------------------------------------------------------------------


def test_referral_like_postmap_doveadm_and_saslauthd(tmp_path: Path, with_referral: RunningDirectory) -> None:
    from tests.oracles.saslauthd import SaslauthdSandbox

    url = with_referral.ldap_url
    real = postmap(tmp_path, url, MOVED, USER_FILTER, "alice@example.org")
    assert real.returncode != 0 and "Search error 10: Referral" in real.stderr, real
    code, error = doveadm_user(url, MOVED, USER_FILTER, "alice@example.org")
    assert code == 75 and error.endswith("failed: Referral"), (code, error)
    conf = (
        f"ldap_servers: {url}\nldap_auth_method: bind\nldap_bind_dn: {ADMIN}\nldap_bind_pw: mypassword\n"
        f"ldap_search_base: {MOVED}\nldap_filter: (&(mail=%U@example.org)(objectClass=inetOrgPerson))\n"
        "ldap_referrals: yes\n"
    )
    with SaslauthdSandbox(conf) as saslauthd:
        assert saslauthd.answer("alice", "example.org", "alice-in-wonderland") == "NO"
    login = ["login", "alice@example.org", "--password-file", "{pw}", "--format", "json"]
    result = run(tmp_path, login, url, "--set", f"LDAP_SEARCH_BASE={MOVED}")
    could_not_check(result, "dovecot: ", "saslauthd: ", "referral")
    assert '"imap_login": false' in result[1] and '"ok": false' in result[1]


@pytest.mark.parametrize(
    "command", ["check", "lookup", "resolve", "send-as", "login", "user", "run", "audit"]
)
def test_referral_every_command(tmp_path: Path, command: str, with_referral: RunningDirectory) -> None:
    result = ldapdiag(tmp_path, command, with_referral.ldap_url, "--set", f"LDAP_SEARCH_BASE={MOVED}")
    could_not_check(result, "answered with a referral")


def test_continuation_references_are_ignored_like_the_programs(
    tmp_path: Path, with_referral: RunningDirectory
) -> None:
    """The referral object inside the subtree: entries come with a reference; every program answers."""
    from tests.oracles.saslauthd import SaslauthdSandbox

    url = with_referral.ldap_url
    real = postmap(tmp_path, url, "dc=example,dc=org", USER_FILTER, "alice@example.org")
    assert (real.returncode, real.stdout) == (0, "alice@example.org\n"), real.stderr
    code, error = doveadm_user(url, "dc=example,dc=org", USER_FILTER, "alice@example.org")
    assert (code, error) == (0, "")
    conf = (
        f"ldap_servers: {url}\nldap_auth_method: bind\nldap_bind_dn: {ADMIN}\nldap_bind_pw: mypassword\n"
        "ldap_search_base: dc=example,dc=org\n"
        "ldap_filter: (&(mail=%U@example.org)(objectClass=inetOrgPerson))\nldap_referrals: yes\n"
    )
    with SaslauthdSandbox(conf) as saslauthd:
        assert saslauthd.answer("alice", "example.org", "alice-in-wonderland") == "OK"
    code, out, err, _ = ldapdiag(tmp_path, "lookup", url)
    assert code == 0 and "could not check" not in err and "alice@example.org\talice@example.org" in out
    code, out, err, _ = ldapdiag(tmp_path, "user", url)
    assert code == 0 and "could not check" not in err, out + err
    login = ["login", "alice@example.org", "--password-file", "{pw}", "--format", "json"]
    code, out, err, _ = run(tmp_path, login, url)
    assert "could not check" not in err and '"ok": true' in out, out + err
