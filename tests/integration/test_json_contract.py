"""The JSON every command prints keeps the documented shape (docs/schemas/*.schema.json, issue 12).

Each command runs for real against the suite's basic-setup slapd, over inputs that reach its
different outcomes (found, not found, rejected, a failing server), and its output is validated
against the schema the README documents.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from ldapdiag.cli import main
from ldapdiag.demo import RunningDirectory
from tests.ldap_server import BASIC_SETUP, requires_slapd

pytestmark = requires_slapd

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
PASSWORDS = {"alice@example.org": "alice-in-wonderland"}

CASES: dict[str, list[list[str]]] = {
    "resolve": [
        ["info@example.org", "nobody@example.org", "someone@example.com"],
        ["team@example.org", "--mail-from", "<>"],
        ["dave.davis@example.org", "--client", "mynetworks"],
    ],
    "send-as": [["alice@example.org", "alice@example.org", "bob@example.org", "info@example.org"]],
    "login": [["alice@example.org", "--password-file", "{pw}"], ["nobody@example.org"]],
    "user": [["alice@example.org"], ["nobody@example.org"]],
    "lookup": [
        ["aliases", "info@example.org", "nobody@example.org"],
        ["virtual_alias_maps", "team@example.org"],
    ],
    "check": [[]],
    "lint": [[]],
    "config": [[]],
}


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


def run_json(command: str, args: list[str], directory: RunningDirectory, url: str | None = None) -> object:
    config = [
        "--no-env",
        "--env-file",
        str(BASIC_SETUP / "mailserver.env"),
        "--set",
        f"LDAP_SERVER_HOST={url or directory.ldap_url}",
        "--set",
        "OVERRIDE_HOSTNAME=mail.example.org",
    ]
    result = CliRunner().invoke(main, [command, *args, "--format", "json", *config])
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("command", "index"), [(c, i) for c, runs in CASES.items() for i in range(len(runs))], ids=str
)
def test_output_matches_schema(
    command: str, index: int, basic_setup_directory: RunningDirectory, tmp_path: Path
) -> None:
    password = tmp_path / "pw"
    password.write_text(PASSWORDS["alice@example.org"])
    args = [arg.format(pw=password) for arg in CASES[command][index]]
    document = run_json(command, args, basic_setup_directory)
    jsonschema.validate(document, schema(command), cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("command", ["resolve", "lookup", "user"])
def test_failing_server_keeps_the_shape(command: str, basic_setup_directory: RunningDirectory) -> None:
    args = {
        "resolve": ["alice@example.org"],
        "lookup": ["users", "alice@example.org"],
        "user": ["alice@example.org"],
    }
    document = run_json(command, args[command], basic_setup_directory, url="ldap://127.0.0.1:9")
    jsonschema.validate(document, schema(command), cls=jsonschema.Draft202012Validator)


def test_schemas_reject_a_changed_shape(basic_setup_directory: RunningDirectory) -> None:
    document = run_json("resolve", ["alice@example.org"], basic_setup_directory)
    assert isinstance(document, list)
    del document[0]["smtp_reply"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema("resolve"), cls=jsonschema.Draft202012Validator)


EXPLAIN_CASES = {
    "resolve": ["info@example.org", "nobody@example.org"],
    "send-as": ["alice@example.org", "bob@example.org"],
    "login": ["alice@example.org", "--password-file", "{pw}"],
    "user": ["alice@example.org"],
    "lookup": ["aliases", "info@example.org", "nobody@example.org"],
}


@pytest.mark.parametrize("command", sorted(EXPLAIN_CASES))
def test_explain_keeps_the_shape_and_adds_explain(
    command: str, basic_setup_directory: RunningDirectory, tmp_path: Path
) -> None:
    """--explain adds an `explain` list (documented in the schema); every other field is unchanged."""
    password = tmp_path / "pw"
    password.write_text(PASSWORDS["alice@example.org"])
    args = [arg.format(pw=password) for arg in EXPLAIN_CASES[command]]
    plain = run_json(command, args, basic_setup_directory)
    explained = run_json(command, [*args, "--explain"], basic_setup_directory)
    jsonschema.validate(explained, schema(command), cls=jsonschema.Draft202012Validator)
    objects = explained if isinstance(explained, list) else [explained]
    assert all(isinstance(o["explain"], list) and o["explain"] for o in objects)
    assert any(q["ldapsearch"] for o in objects for lookup in o["explain"] for q in lookup["queries"])
    for item in objects:
        del item["explain"]
    assert explained == plain
    broken = json.loads(json.dumps(objects))
    broken[0]["explain"] = [{"component": "postfix/smtpd"}]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken if isinstance(plain, list) else broken[0], schema(command))


def test_audit_json_lines_match_schema(basic_setup_directory: RunningDirectory) -> None:
    """`audit --format json` is JSON Lines: every line an address object, the last the summary."""
    url = basic_setup_directory.ldap_url
    env = str(BASIC_SETUP / "mailserver.env")
    config = ["--no-env", "--env-file", env, "--set", f"LDAP_SERVER_HOST={url}",
              "--set", "OVERRIDE_HOSTNAME=mail.example.org"]  # fmt: skip
    result = CliRunner().invoke(main, ["audit", "--format", "json", *config])
    assert result.exit_code == 1, result.output  # the basic setup's logins fail (dovecot rename)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["type"] for line in lines] == ["address"] * (len(lines) - 1) + ["summary"]
    for line in lines:
        jsonschema.validate(line, schema("audit"), cls=jsonschema.Draft202012Validator)
    changed = dict(lines[0], verdict="maybe")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(changed, schema("audit"), cls=jsonschema.Draft202012Validator)
