"""`ldapdiag run` end to end with a scripted oracle: lines, JSON, JUnit, exit codes, passwords."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ldapdiag.run.answers import (
    Delivered,
    LintAnswer,
    LoginAnswer,
    LookupAnswer,
    MailAnswer,
    SendAsAnswer,
    UserAnswer,
)
from ldapdiag.run.command import run_expectations

CANARY = "canary-pw-7Hq2!x"
NO_CONFIG: Any = None  # the scripted oracle needs no configuration


class ScriptedOracle:
    """Answers from a table; records the passwords it was given."""

    def __init__(self) -> None:
        self.passwords: list[str] = []
        self.send_as_calls: list[tuple[str, tuple[str, ...]]] = []

    def mail(self, address: str, mail_from: str | None, client: str) -> MailAnswer:
        if address.startswith("nobody"):
            return MailAnswer("reject", f"550 5.1.1 <{address}>: Recipient address rejected: User unknown")
        return MailAnswer(
            "deliver", None, (Delivered(address, "sent", "2.0.0", "lmtp:unix:/x", "250 2.1.5 OK"),)
        )

    def send_as(self, login: str, senders: Sequence[str]) -> list[SendAsAnswer]:
        self.send_as_calls.append((login, tuple(senders)))
        return [
            SendAsAnswer(
                s, s.startswith(login), login, None if s.startswith(login) else "553 5.7.1 not owned"
            )
            for s in senders
        ]

    def login(self, user: str, password: str) -> LoginAnswer:
        self.passwords.append(password)
        ok = password == "right"
        return LoginAnswer(ok, "" if ok else "passdb mismatch: Password mismatch", ok, "via dovecot")

    def user(self, user: str) -> UserAnswer:
        return UserAnswer("ok", {"user": user, "home": f"/var/mail/{user}"})

    def lookup(self, map_name: str, key: str) -> LookupAnswer:
        return LookupAnswer(True, "alice@example.org")

    def lint(self, server: bool, dms_version: int) -> LintAnswer:
        return LintAnswer(())


def write(folder: Path, text: str, name: str = "expect.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


PASSING = """
deliver:
  - alice@example.org
reject:
  - nobody@example.org
send_as:
  - login: alice
    allowed: [alice@example.org]
    denied: [bob@example.org]
users:
  - alice
lookups:
  - {map: aliases, key: info@example.org, value: alice@example.org}
lint:
  absent: [error]
"""


def run(paths: list[Path], oracle: ScriptedOracle, **options: Any) -> int:
    return run_expectations(NO_CONFIG, paths, oracle=oracle, **options)


def test_all_pass_exit_0_one_line_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, PASSING)
    oracle = ScriptedOracle()
    assert run([path], oracle) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"== {path}: 7 expectations"
    assert out[1] == f"PASS   {path}:2  deliver alice@example.org: accepted -> alice@example.org sent 2.0.0"
    assert [line.split()[0] for line in out[1:-1]] == ["PASS"] * 7
    assert out[-1] == "7 expectations in 1 file: 7 passed, 0 failed"
    assert oracle.send_as_calls == [("alice", ("alice@example.org", "bob@example.org"))]  # one call per login


def test_a_failure_exits_1_with_expected_and_actual(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "deliver:\n  - nobody@example.org\nreject:\n  - alice@example.org\n")
    assert run([path], ScriptedOracle()) == 1
    out = capsys.readouterr().out
    assert f"FAIL   {path}:2  deliver nobody@example.org\n" in out
    assert "       - expected: delivered\n" in out
    assert "       + actual:   rejected: 550 5.1.1 <nobody@example.org>: Recipient address rejected" in out
    assert out.rstrip().endswith("2 expectations in 1 file: 0 passed, 2 failed")


def test_passwords_come_from_a_file_a_yaml_key_or_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pw").write_text("right\n")
    (tmp_path / "secrets.yaml").write_text("users:\n  alice: right\n")
    monkeypatch.setenv("ALICE_PW", "right")
    path = write(
        tmp_path,
        """
        logins:
          - {user: alice, password_file: pw, imap: true}
          - {user: alice, password_file: secrets.yaml, password_key: users.alice, smtp: true}
          - {user: alice, password_env: ALICE_PW, imap: true}
        """,
    )
    oracle = ScriptedOracle()
    assert run([path], oracle) == 0
    assert oracle.passwords == ["right", "right", "right"]


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("password_file: missing.txt", "password file missing.txt does not exist"),
        ("password_env: NOT_SET_ANYWHERE_42", "environment variable NOT_SET_ANYWHERE_42 is not set"),
        (
            "{password_file: secrets.yaml, password_key: users.bob}".strip("{}"),
            "password file secrets.yaml has no key users.bob",
        ),
    ],
)
def test_a_missing_password_could_not_be_checked_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], entry: str, reason: str
) -> None:
    (tmp_path / "secrets.yaml").write_text("users:\n  alice: right\n")
    path = write(
        tmp_path, f"logins:\n  - {{user: alice, {entry}, imap: true}}\ndeliver: [alice@example.org]\n"
    )
    assert run([path], ScriptedOracle()) == 2
    out = capsys.readouterr().out
    assert f"ERROR  {path}:2  login alice imap: could not check: {reason}" in out
    assert "1 passed, 0 failed, 1 could not be checked" in out


def test_bad_files_are_reported_and_nothing_is_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path, PASSING, "good.yaml")
    bad = write(tmp_path, "deliver:\n  - address: a@b\n    mailbox: x\n", "bad.yaml")
    oracle = ScriptedOracle()
    assert run([good, bad], oracle, output_format="json") == 2
    captured = capsys.readouterr()
    assert f"ldapdiag: error: {bad}:3: deliver item: unknown key 'mailbox'" in captured.err
    document = json.loads(captured.out)
    assert document["exit_code"] == 2
    assert document["results"] == [] and document["files"] == []
    assert document["errors"][0]["where"] == f"{bad}:3"
    assert oracle.send_as_calls == []


def test_json_and_junit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, PASSING + "\nbounce:\n  - alice@example.org\n")
    junit = tmp_path / "report.xml"
    assert run([path], ScriptedOracle(), output_format="json", junit=junit) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["summary"] == {"passed": 7, "failed": 1, "not_checked": 0}
    assert document["files"] == [{"path": str(path), "name": "expect.yaml", "expectations": 8}]
    failed = [r for r in document["results"] if r["status"] == "fail"]
    assert failed == [
        {
            "file": str(path),
            "line": 17,
            "kind": "bounce",
            "subject": "alice@example.org",
            "status": "fail",
            "expected": "accepted, then bounced",
            "actual": "accepted -> alice@example.org sent 2.0.0",
            "details": ["nothing bounced"],
        }
    ]
    root = ET.parse(junit).getroot()
    assert (root.tag, root.get("tests"), root.get("failures"), root.get("errors")) == (
        "testsuites",
        "8",
        "1",
        "0",
    )
    [suite] = root
    cases = list(suite)
    assert len(cases) == 8
    [failure_case] = [c for c in cases if c.find("failure") is not None]
    assert failure_case.get("name") == "bounce alice@example.org"
    assert failure_case.get("line") == "17"
    failure = failure_case.find("failure")
    assert failure is not None and "- expected: accepted, then bounced" in (failure.text or "")


def test_a_password_never_reaches_text_json_or_junit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pw").write_text(CANARY)
    monkeypatch.setenv("CANARY_PW", CANARY)
    text = (
        "logins:\n"
        "  - {user: alice, password_file: pw, imap: true}\n"
        "  - {user: bob, password_env: CANARY_PW, smtp: true}\n"
    )
    path = write(tmp_path, text)
    junit = tmp_path / "r.xml"
    oracle = ScriptedOracle()
    for output_format in ("text", "json"):
        assert run([path], oracle, output_format=output_format, junit=junit) == 1
        captured = capsys.readouterr()
        assert CANARY not in captured.out + captured.err
        assert CANARY not in junit.read_text()
    assert oracle.passwords == [CANARY] * 4  # the check did use it
