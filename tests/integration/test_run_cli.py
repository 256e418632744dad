"""`ldapdiag run` on the command line, against the basic-setup slapd: exit codes, formats, secrets."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

from ldapdiag.demo import RunningDirectory
from tests.ldap_server import BASIC_SETUP, requires_slapd

pytestmark = requires_slapd

CANARY = "Canary-Pw-9xZ!q"
EXPECT = BASIC_SETUP / "expect.yaml"


def ldapdiag(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ldapdiag", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def config_args(ldap_url: str) -> list[str]:
    return [
        "--no-env",
        "--env-file",
        str(BASIC_SETUP / "mailserver.env"),
        "--set",
        f"LDAP_SERVER_HOST={ldap_url}",
        "--set",
        "OVERRIDE_HOSTNAME=mail.example.org",
    ]


def test_unknown_keys_and_bad_yaml_exit_2_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("deliver:\n  - address: alice@example.org\n    mailbox: alice\nrejcet: []\n")
    broken = tmp_path / "broken.yaml"
    broken.write_text("deliver:\n  - alice@example.org\n  reject: [\n")
    done = ldapdiag("run", *config_args("ldap://127.0.0.1:1"), str(bad), str(broken))
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    hint = "(did you mean 'mail_from'?)"
    assert lines[0] == f"ldapdiag: error: {bad}:3: deliver item: unknown key 'mailbox' {hint}"
    assert lines[1] == f"ldapdiag: error: {bad}:4: the file: unknown key 'rejcet' (did you mean 'reject'?)"
    assert re.fullmatch(rf"ldapdiag: error: {re.escape(str(broken))}:3: not valid YAML: .+", lines[2])
    assert len(lines) == 3
    assert "Traceback" not in done.stderr


def test_the_basic_setup_expectations_pass_with_json_and_junit(
    basic_setup_directory: RunningDirectory, tmp_path: Path
) -> None:
    junit = tmp_path / "junit.xml"
    done = ldapdiag(
        "run",
        *config_args(basic_setup_directory.ldap_url),
        "--format",
        "json",
        "--junit",
        str(junit),
        str(EXPECT),
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    document = json.loads(done.stdout)
    assert document["exit_code"] == 0
    assert document["summary"]["failed"] == 0 and document["summary"]["not_checked"] == 0
    assert document["summary"]["passed"] == len(document["results"]) >= 30
    assert {r["kind"] for r in document["results"]} >= {
        "deliver",
        "reject",
        "send-as",
        "login",
        "user",
        "lookup",
        "lint",
    }
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "0" and root.get("errors") == "0"
    assert root.get("tests") == str(len(document["results"]))


def test_a_password_never_appears_in_any_output(
    basic_setup_directory: RunningDirectory, tmp_path: Path
) -> None:
    (tmp_path / "canary.pw").write_text(CANARY + "\n")
    expect = tmp_path / "canary.yaml"
    expect.write_text(
        textwrap.dedent(
            """
            logins:
              - {user: alice@example.org, password_file: canary.pw, imap: true, smtp: true}
              - {user: bob@example.org, password_env: LDAPDIAG_CANARY_PW, smtp: true}
              - {user: nobody@example.org, password_env: LDAPDIAG_CANARY_PW, smtp: false}
            """
        )
    )
    junit = tmp_path / "junit.xml"
    env = {"LDAPDIAG_CANARY_PW": CANARY}
    for output_format in ("text", "json"):
        done = ldapdiag(
            "run",
            *config_args(basic_setup_directory.ldap_url),
            "--format",
            output_format,
            "--junit",
            str(junit),
            str(expect),
            env=env,
        )
        assert done.returncode == 1, done.stdout + done.stderr  # the wrong passwords fail
        assert CANARY not in done.stdout + done.stderr
        assert CANARY not in junit.read_text()
        assert "alice@example.org smtp" in done.stdout  # the results are there, the password is not


def test_an_unreachable_server_could_not_be_checked(tmp_path: Path) -> None:
    expect = tmp_path / "e.yaml"
    expect.write_text(
        "deliver: [alice@example.org]\nlookups:\n  - {map: users, key: alice@example.org, value: x}\n"
    )
    done = ldapdiag("run", *config_args("ldap://127.0.0.1:1"), str(expect))
    assert done.returncode == 2
    assert (
        f"ERROR  {expect}:1  deliver alice@example.org: could not check: postfix's LDAP server "
        "ldap://127.0.0.1:1 is not reachable from here (connection refused)"
    ) in done.stdout
    assert done.stdout.rstrip().endswith(
        "2 expectations in 1 file: 0 passed, 0 failed, 2 could not be checked"
    )


def test_run_is_a_listed_command() -> None:
    done = ldapdiag("--help")
    assert re.search(r"^  run +Check expectation files", done.stdout, re.M)
    help_text = ldapdiag("run", "--help").stdout
    assert "--junit FILE" in help_text and "--format [text|json]" in help_text
