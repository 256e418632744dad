"""`ldapdiag lookup` on a DMS configuration rendered from the basic-setup env file, on its slapd."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ldapdiag.cli import main
from ldapdiag.demo import RunningDirectory
from tests.ldap_server import BASIC_SETUP
from tests.oracles.postfix import POSTMAP, _write_cool

ENV_FILE = BASIC_SETUP / "mailserver.env"
PASSWORD = "mypassword"  # LDAP_BIND_PW of the env file (demo data)


def lookup(
    directory: RunningDirectory,
    *args: str,
    sets: tuple[str, ...] = (),
    stdin: bytes | None = None,
    env_file: Path = ENV_FILE,
) -> Result:
    options = [
        "--no-env",
        "--env-file",
        str(env_file),
        "--set",
        f"LDAP_SERVER_HOST={directory.ldap_url}",
        "--set",
        "OVERRIDE_HOSTNAME=mail.dms.test",
    ]
    for item in sets:
        options += ["--set", item]
    return CliRunner().invoke(main, ["lookup", *options, *args], input=stdin)


@pytest.mark.parametrize(
    ("map_name", "key", "value"),
    [
        ("users", "Alice@Example.org", "alice@example.org"),
        ("users", "dave.davis@example.org", "Dave.Davis@example.org"),
        ("aliases", "info@example.org", "alice@example.org,bob@example.org"),
        ("groups", "team@example.org", "alice@example.org,bob@example.org,Dave.Davis@example.org"),
        ("senders", "alice@example.org", "alice,alice@example.org"),  # server order: uid before mail
        ("virtual_alias_maps", "support@example.org", "bob@example.org,carol@example.org"),
        ("smtpd_sender_login_maps", "info@example.org", "alice,alice@example.org,bob,bob@example.org"),
        ("/etc/postfix/ldap-users.cf", "bob@example.org", "bob@example.org"),
        ("ldap:/etc/postfix/ldap-users.cf", "bob@example.org", "bob@example.org"),
        ("virtual_mailbox_domains", "DMS.test", "dms.test"),
    ],
)
def test_one_key_prints_the_value(
    basic_setup_directory: RunningDirectory, map_name: str, key: str, value: str
) -> None:
    result = lookup(basic_setup_directory, map_name, key)
    assert (result.exit_code, result.stdout) == (0, value + "\n"), result.stderr


def test_domains_map_answers_with_the_mail_values(basic_setup_directory: RunningDirectory) -> None:
    result = lookup(basic_setup_directory, "domains", "example.org")
    assert result.exit_code == 0 and "alice@example.org" in result.stdout


def test_several_keys_print_key_tab_value_for_found_keys(basic_setup_directory: RunningDirectory) -> None:
    result = lookup(
        basic_setup_directory, "users", "alice@example.org", "nobody@example.org", "bob@example.org"
    )
    assert (result.exit_code, result.stdout) == (
        0,
        "alice@example.org\talice@example.org\nbob@example.org\tbob@example.org\n",
    )


def test_keys_from_stdin(basic_setup_directory: RunningDirectory) -> None:
    result = lookup(
        basic_setup_directory, "aliases", "-", stdin=b"nobody@example.org\npostmaster@example.org\n"
    )
    assert (result.exit_code, result.stdout) == (0, "postmaster@example.org\talice@example.org\n")


def test_nothing_found_is_exit_1(basic_setup_directory: RunningDirectory) -> None:
    result = lookup(basic_setup_directory, "users", "nobody@example.org")
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", "")


def test_json_shape(basic_setup_directory: RunningDirectory) -> None:
    result = lookup(
        basic_setup_directory,
        "virtual_alias_maps",
        "team@example.org",
        "nobody@example.org",
        "--format",
        "json",
    )
    data = json.loads(result.stdout)
    assert result.exit_code == 0
    assert [sorted(item) for item in data] == [
        ["error", "fault", "found", "incomplete", "key", "steps", "table", "value", "warnings"]
    ] * 2
    found, missing = data
    assert (found["key"], found["found"], found["error"]) == ("team@example.org", True, None)
    assert found["table"] == "ldap:/etc/postfix/ldap-groups.cf"  # the aliases table had nothing
    searches = [step for step in found["steps"] if step["action"] == "search"]
    assert [s["filter"] for s in searches] == [
        "(&(objectClass=inetOrgPerson)(mailAlias=team@example.org))",
        "(&(objectClass=inetOrgPerson)(mailGroupMember=team@example.org))",
    ]
    assert (missing["found"], missing["value"], missing["error"]) == (False, None, None)


def test_dms_empty_query_filter_is_a_temporary_failure(basic_setup_directory: RunningDirectory) -> None:
    """An unset LDAP_QUERY_FILTER_ALIAS leaves `query_filter =`: slapd answers protocolError."""
    result = lookup(basic_setup_directory, "aliases", "info@example.org", sets=("LDAP_QUERY_FILTER_ALIAS=",))
    assert (result.exit_code, result.stdout) == (2, "")
    assert "warning: dict_ldap_lookup: Search error 2: Protocol error" in result.stderr
    data = json.loads(
        lookup(
            basic_setup_directory,
            "aliases",
            "info@example.org",
            "--format",
            "json",
            sets=("LDAP_QUERY_FILTER_ALIAS=",),
        ).stdout
    )
    assert data[0]["error"] == "dict_ldap_lookup: Search error 2: Protocol error "


def test_password_never_printed(basic_setup_directory: RunningDirectory, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("Wrong-Secret-42\n")
    env_file = tmp_path / "mailserver.env"
    env_file.write_text(
        ENV_FILE.read_text().replace(f"LDAP_BIND_PW={PASSWORD}", f"LDAP_BIND_PW__FILE={secret}")
    )
    ok = lookup(basic_setup_directory, "users", "alice@example.org", "--format", "json")
    wrong = lookup(
        basic_setup_directory,
        "users",
        "alice@example.org",
        "--format",
        "json",
        env_file=env_file,
    )
    assert wrong.exit_code == 2
    assert "49 (Invalid credentials)" in json.loads(wrong.stdout)[0]["error"]
    for result in (ok, wrong):
        assert PASSWORD not in result.output + result.stderr
        assert "Wrong-Secret-42" not in result.output + result.stderr


def test_unknown_map_is_one_line(basic_setup_directory: RunningDirectory) -> None:
    result = lookup(basic_setup_directory, "nonsense", "x")
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1


def test_timeout_0_is_a_temporary_failure_as_in_postfix(
    basic_setup_directory: RunningDirectory, tmp_path: Path
) -> None:
    """postfix's bind with a zero timeout races the server (-5 "Timed out"), and when it wins, the
    search refuses a zero timeout (-9): a temporary failure either way. ldapdiag says the first."""
    table = tmp_path / "t.cf"
    _write_cool(
        table,
        f"server_host = {basic_setup_directory.ldap_url}\nsearch_base = {basic_setup_directory.base}\n"
        f"bind_dn = {basic_setup_directory.bind_dn}\nbind_pw = {PASSWORD}\ntimeout = 0\n",
    )
    result = lookup(basic_setup_directory, f"ldap:{table}", "alice@example.org", "--format", "json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)[0]["error"].endswith(": -5 (Timed out)")
    if POSTMAP is not None:
        import subprocess

        _write_cool(tmp_path / "main.cf", "")
        proc = subprocess.run(
            [POSTMAP, "-c", str(tmp_path), "-q", "alice@example.org", f"ldap:{table}"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        assert proc.returncode == 1 and "fatal: table" in proc.stderr
        assert "-5 (Timed out)" in proc.stderr or "Search error -9: Bad parameter" in proc.stderr
