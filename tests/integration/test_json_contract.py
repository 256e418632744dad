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
