"""`ldapdiag resolve` and `ldapdiag send-as` output: issue 12's JSON shapes, the table, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ldapdiag.cli import main
from tests.unit.resolve_support import container

RECIPIENT_KEYS = {
    "address",
    "status",
    "dsn",
    "lmtp_reply",
    "userdb",
    "transport",
    "agent",
    "original_recipient",
}
STEP_KEYS = {"phase", "action", "detail", "table", "key", "base", "filter", "values", "result"}


def _root(tmp_path: Path) -> str:
    container(tmp_path)
    return str(tmp_path / "root")


def test_resolve_json_shape(tmp_path: Path) -> None:
    args = ["resolve", "--from-files", _root(tmp_path), "--format", "json"]
    result = CliRunner().invoke(main, [*args, "info@example.org", "nobody@example.org", "loop-a@example.org"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert [item["address"] for item in data] == [
        "info@example.org",
        "nobody@example.org",
        "loop-a@example.org",
    ]
    for item in data:
        assert set(item) == {
            "address",
            "verdict",
            "smtp_reply",
            "rcpt_reply",
            "recipients",
            "cannot_start",
            "incomplete",
            "fault",
            "steps",
        }
        assert item["cannot_start"] is None
        assert item["verdict"] in {"deliver", "reject", "defer"}
        assert all(
            set(step) <= STEP_KEYS and {"phase", "action", "detail"} <= set(step) for step in item["steps"]
        )
        for recipient in item["recipients"]:
            assert set(recipient) == RECIPIENT_KEYS
            assert recipient["status"] in {None, "sent", "bounced", "deferred"}
    # one transaction: the loop fails DATA for every accepted recipient
    assert [item["verdict"] for item in data] == ["defer", "reject", "defer"]
    assert data[0]["smtp_reply"] == "451 4.6.0 Alias expansion error" and data[0]["recipients"] == []
    assert data[0]["rcpt_reply"] == "250 2.1.5 Ok"


def test_resolve_json_recipients_of_a_queued_message(tmp_path: Path) -> None:
    args = ["resolve", "--from-files", _root(tmp_path), "--format", "json", "info@example.org"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    [item] = json.loads(result.stdout)
    assert item["smtp_reply"] is None and item["verdict"] == "deliver"
    assert [r["address"] for r in item["recipients"]] == ["alice@example.org", "bob@example.org"]
    assert item["recipients"][0] == {
        "address": "alice@example.org",
        "status": None,
        "dsn": None,
        "lmtp_reply": None,
        "userdb": None,
        "transport": "lmtp:unix:/var/run/dovecot/lmtp",
        "agent": "lmtp",
        "original_recipient": "info@example.org",
    }
    lookups = [s for s in item["steps"] if s["action"] == "lookup" and s.get("table")]
    assert any(s["key"] == "info@example.org" and s["result"] == "found" for s in lookups)


def test_resolve_table_and_options(tmp_path: Path) -> None:
    root = _root(tmp_path)
    result = CliRunner().invoke(
        main, ["resolve", "--from-files", root, "x@example.com", "--client", "mynetworks"]
    )
    assert result.exit_code == 0, result.output
    assert "mynetworks client" in result.stdout and "via smtp" in result.stdout
    null = CliRunner().invoke(
        main, ["resolve", "--from-files", root, "--mail-from", "<>", "alice@example.org"]
    )
    assert null.exit_code == 0 and "MAIL FROM:<>" in null.stdout
    unknown = CliRunner().invoke(main, ["resolve", "--from-files", root, "root@localhost"])
    assert unknown.exit_code == 2 and "unknown" in unknown.stdout


def test_send_as_json_shape(tmp_path: Path) -> None:
    args = ["send-as", "--from-files", _root(tmp_path), "--format", "json", "alice@example.org"]
    result = CliRunner().invoke(main, [*args, "alice@example.org", "bob@example.org"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    for item in data:
        keys = {
            "login",
            "sasl_username",
            "sender",
            "allowed",
            "owners",
            "smtp_reply",
            "cannot_start",
            "incomplete",
            "fault",
            "steps",
        }
        assert set(item) == keys and item["cannot_start"] is None
    assert [(d["sender"], d["allowed"], d["smtp_reply"]) for d in data] == [
        ("alice@example.org", True, None),
        ("bob@example.org", False, "553 5.7.1 <bob@example.org>: Sender address rejected: not owned by user "
         "alice@example.org"),
    ]  # fmt: skip
    assert data[0]["owners"] == ["alice@example.org", "alice"]
    assert data[1]["owners"] == ["postmaster@example.org"]  # the @example.org entry
    table = CliRunner().invoke(
        main, ["send-as", "--from-files", _root(tmp_path), "alice", "alice@example.org"]
    )
    assert table.exit_code == 0 and "sasl_username='alice'" in table.stdout
