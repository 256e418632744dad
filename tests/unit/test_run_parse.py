"""Expectation files (docs/expect-format.md): what they parse into, and FILE:LINE for every mistake."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ldapdiag.run.model import (
    LintExpectation,
    LoginExpectation,
    LookupExpectation,
    MailExpectation,
    PasswordSource,
    SaslNameExpectation,
    SendAsExpectation,
    UserExpectation,
)
from ldapdiag.run.parse import parse_file


def write(tmp_path: Path, text: str, name: str = "expect.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    parsed, problems = parse_file(path, "expect.yaml")
    assert parsed is None
    return [str(p) for p in problems]


FULL = """
name: smoke
defaults:
  mail_from: probe@example.net
deliver:
  - alice@example.org
  - address: info@example.org
    to: [alice@example.org, bob@example.org]
    client: mynetworks
accept:
  - {address: sales@example.com, transport: "lmtp:kopano:2003"}
bounce:
  - {address: dan@example.com, to: [dan@example.com], reply: "550 5.1.1"}
reject:
  - address: nobody@example.org
    reply: "550 5.1.1"
defer:
  - address: x@example.org
    mail_from: <>
send_as:
  - login: alice
    sasl_username: alice@example.org
    allowed: [alice@example.org]
    denied:
      - bob@example.org
      - {sender: "", reply: "553"}
logins:
  - user: alice@example.org
    password_file: secrets.yaml
    password_key: users.alice
    imap: false
    smtp: true
  - user: bob
    password_env: BOB_PASSWORD
    smtp: false
users:
  - carol@example.org
  - user: alice@example.org
    fields: {home: /var/mail/alice, uid: 5000}
  - {user: alice, result: unknown}
lookups:
  - {map: aliases, key: info@example.org, value: "alice@example.org,bob@example.org"}
  - {map: users, key: nobody@example.org, found: false}
  - {map: domains, key: example.org, error: true}
lint:
  server: true
  dms_version: 16
  absent: [error, filter-syntax]
  present: [dovecot-rename]
"""


def test_a_full_file_parses_into_expectations_in_file_order(tmp_path: Path) -> None:
    parsed, problems = parse_file(write(tmp_path, FULL), "expect.yaml")
    assert problems == [] and parsed is not None
    assert parsed.name == "smoke"
    lines = [int(e.where.rsplit(":", 1)[1]) for e in parsed.expectations]
    assert lines == sorted(lines)
    by_type: dict[type, list[object]] = {}
    for expectation in parsed.expectations:
        by_type.setdefault(type(expectation), []).append(expectation)
    mails = by_type[MailExpectation]
    assert [(m.outcome, m.address) for m in mails] == [  # type: ignore[attr-defined]
        ("deliver", "alice@example.org"),
        ("deliver", "info@example.org"),
        ("accept", "sales@example.com"),
        ("bounce", "dan@example.com"),
        ("reject", "nobody@example.org"),
        ("defer", "x@example.org"),
    ]
    info = mails[1]
    assert info == MailExpectation(
        "expect.yaml:6",
        "deliver",
        "info@example.org",
        to=("alice@example.org", "bob@example.org"),
        mail_from="probe@example.net",
        client="mynetworks",
    )
    assert mails[0].mail_from == "probe@example.net"  # type: ignore[attr-defined]
    assert mails[5].mail_from == "<>"  # type: ignore[attr-defined]
    assert by_type[SaslNameExpectation] == [
        SaslNameExpectation("expect.yaml:21", "alice", "alice@example.org")
    ]
    assert [(s.sender, s.allowed, s.reply) for s in by_type[SendAsExpectation]] == [  # type: ignore[attr-defined]
        ("alice@example.org", True, None),
        ("bob@example.org", False, None),
        ("", False, "553"),
    ]
    logins = by_type[LoginExpectation]
    assert [(e.user, e.service, e.succeeds) for e in logins] == [  # type: ignore[attr-defined]
        ("alice@example.org", "imap", False),
        ("alice@example.org", "smtp", True),
        ("bob", "smtp", False),
    ]
    assert logins[0].password == PasswordSource(file="secrets.yaml", key="users.alice")  # type: ignore[attr-defined]
    assert logins[2].password == PasswordSource(env="BOB_PASSWORD")  # type: ignore[attr-defined]
    assert logins[0].base_dir == str(tmp_path.resolve())  # type: ignore[attr-defined]
    users = by_type[UserExpectation]
    assert [(u.user, u.result, u.fields) for u in users] == [  # type: ignore[attr-defined]
        ("carol@example.org", "ok", ()),
        ("alice@example.org", "ok", (("home", "/var/mail/alice"), ("uid", "5000"))),
        ("alice", "unknown", ()),
    ]
    assert by_type[LookupExpectation] == [
        LookupExpectation(
            "expect.yaml:41", "aliases", "info@example.org", "alice@example.org,bob@example.org"
        ),
        LookupExpectation("expect.yaml:42", "users", "nobody@example.org", None),
        LookupExpectation("expect.yaml:43", "domains", "example.org", None, error=True),
    ]
    assert [(e.code, e.present, e.server, e.dms_version) for e in by_type[LintExpectation]] == [  # type: ignore[attr-defined]
        ("error", False, True, 16),
        ("filter-syntax", False, True, 16),
        ("dovecot-rename", True, True, 16),
    ]


def test_name_defaults_to_the_file_name(tmp_path: Path) -> None:
    parsed, _ = parse_file(write(tmp_path, "deliver: [a@example.org]\n", "smoke.yaml"))
    assert parsed is not None and parsed.name == "smoke.yaml"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "delivr:\n  - a@example.org\n",
            "expect.yaml:1: the file: unknown key 'delivr' (did you mean 'deliver'?)",
        ),
        (
            "deliver:\n  - address: a@example.org\n    too: [b@example.org]\n",
            "expect.yaml:3: deliver item: unknown key 'too' (did you mean 'to'?)",
        ),
        (
            "reject:\n  - address: a@example.org\n    to: [b@example.org]\n",
            "expect.yaml:3: reject item: unknown key 'to' (known: address, mail_from, client, reply)",
        ),
        (
            "deliver:\n  - a@example.org\nlookups:\n  - {map: users, key: k, valeu: v}\n",
            "expect.yaml:4: lookups item: unknown key 'valeu' (did you mean 'value'?)",
        ),
        (
            "lint:\n  absent: [no-such-rule]\n",
            "expect.yaml:2: lint.absent: unknown rule code 'no-such-rule' (see ldapdiag lint, "
            "or error / warning for every rule of that level)",
        ),
        (
            "deliver:\n  - a@example.org\ndeliver:\n  - b@example.org\n",
            "expect.yaml:3: the file: duplicate key 'deliver'",
        ),
        (
            "deliver: a@example.org\n",
            "expect.yaml:1: deliver: expected a list (lines starting with '- '), found a string",
        ),
        (
            "deliver:\n  - true\n",
            'expect.yaml:2: deliver item: expected a string, found a boolean (quote it: "...")',
        ),
        ("- a\n", "expect.yaml:1: the file: expected a mapping (key: value lines), found a list"),
        ("", "expect.yaml:1: empty file: expected a mapping with expectations"),
        (
            "name: x\n",
            "expect.yaml:1: no expectations (deliver:, reject:, send_as:, logins:, lookups:, lint:...)",
        ),
        ("version: 2\ndeliver: [a@b]\n", "expect.yaml:1: version: only version 1 exists"),
        ("deliver: [a@b]\n---\nreject: [c@d]\n", "expect.yaml:3: only one YAML document allowed"),
        (
            "deliver:\n  - &a x@example.org\nreject:\n  - *a\n",
            "expect.yaml:4: YAML aliases (*name) are not supported: write the value out",
        ),
        (
            "users:\n  - {user: a, result: missing}\n",
            "expect.yaml:2: result: one of ok, unknown, internal_failure",
        ),
        (
            "lookups:\n  - {map: users, key: k, value: v, found: false}\n",
            "expect.yaml:2: lookups item: give one of value: (found, with this value), "
            "found: false, error: true",
        ),
        (
            "lookups:\n  - {map: users, key: k, found: true}\n",
            "expect.yaml:2: found: only found: false (for a found key, give its value:)",
        ),
        (
            "send_as:\n  - login: alice\n",
            "expect.yaml:2: send_as item: give allowed:, denied: or sasl_username:",
        ),
        (
            "deliver:\n  - {address: a@b, client: inside}\n",
            "expect.yaml:2: client: expected one of external, mynetworks",
        ),
    ],
)
def test_mistakes_are_reported_with_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in problems_of(tmp_path, text)


def test_yaml_syntax_errors_name_the_line_without_quoting_it(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "deliver:\n  - a@example.org\n  - [unclosed s3cret-value\nreject: []\n")
    assert len(problems) == 1
    assert problems[0].startswith("expect.yaml:4: not valid YAML: ")
    assert "s3cret-value" not in problems[0]


def test_every_problem_of_a_file_is_reported(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path, "delivr: []\nreject:\n  - {address: a@b, replay: x}\nlint: {absent: [nope]}\n"
    )
    assert [p.split(":")[1] for p in problems] == ["1", "3", "4"]


@pytest.mark.parametrize("key", ["password", "pass", "passwd"])
def test_an_inline_password_is_refused_without_echoing_it(tmp_path: Path, key: str) -> None:
    text = f"logins:\n  - user: alice\n    {key}: canary-Zq8-inline\n    imap: true\n"
    problems = problems_of(tmp_path, text)
    assert any(
        p.startswith(f"expect.yaml:3: logins item: unknown key '{key}' (passwords never go into this file")
        for p in problems
    ), problems
    assert not any("canary-Zq8-inline" in p for p in problems)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            "    imap: true\n",
            "expect.yaml:2: logins item: give exactly one of password_file and password_env",
        ),
        (
            "    password_file: a\n    password_env: B\n    imap: true\n",
            "expect.yaml:2: logins item: give exactly one of password_file and password_env",
        ),
        (
            "    password_env: B\n",
            "expect.yaml:2: logins item: say what must happen: imap: true|false and/or smtp: true|false",
        ),
        (
            "    password_env: B\n    imap: yes please\n",
            "expect.yaml:4: imap: expected true or false, found a string",
        ),
        (
            "    password_env: B\n    password_key: users.a\n    imap: true\n",
            "expect.yaml:4: password_key: only with password_file (a YAML file)",
        ),
    ],
)
def test_login_entries_need_a_password_source_and_a_verdict(
    tmp_path: Path, entry: str, expected: str
) -> None:
    assert expected in problems_of(tmp_path, "logins:\n  - user: alice\n" + entry)


def test_unreadable_files(tmp_path: Path) -> None:
    parsed, problems = parse_file(tmp_path / "missing.yaml", "missing.yaml")
    assert parsed is None and [str(p) for p in problems] == ["missing.yaml: no such file"]
    (tmp_path / "latin1.yaml").write_bytes(b"deliver: [\xe9@example.org]\n")
    _, problems = parse_file(tmp_path / "latin1.yaml", "latin1.yaml")
    assert [str(p) for p in problems] == ["latin1.yaml: not UTF-8 text"]
