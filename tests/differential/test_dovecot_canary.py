"""`ldapdiag login` / `user` never print a password or a stored hash (canaries), and their JSON
keeps issue 12's shape."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ldapdiag.cli import main
from ldapdiag.demo import RunningDirectory, serve_scenario
from tests.ldap_server import missing_ldap_tools

MIXED = Path(__file__).resolve().parents[1] / "data" / "dovecot_dirs" / "mixed"
CANARY = "CANARY-Pw-93b1f"
FILTER = "(&(objectClass=PostfixBookMailAccount)(uniqueIdentifier=%n))"

pytestmark = pytest.mark.skipif(missing_ldap_tools() is not None, reason="slapd is not installed")


@pytest.fixture(scope="module")
def mixed() -> Iterator[RunningDirectory]:
    with serve_scenario(MIXED) as directory:
        yield directory


def _hashes() -> list[str]:
    text = (MIXED / "directory.ldif").read_text()
    return [line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("userPassword: ")]


def _run(
    directory: RunningDirectory, tmp_path: Path, *args: str, password: str | None = None
) -> tuple[int, str]:
    options = [
        "--no-env",
        "--env-file",
        str(MIXED / "mailserver.env"),
        "--set",
        f"LDAP_SERVER_HOST={directory.ldap_url}",
        "--set",
        f"LDAP_BIND_PW__FILE={directory.password_file}",
        "--set",
        "LDAP_SEARCH_BASE=ou=people,dc=example,dc=org",
        "--set",
        "LDAP_BIND_DN=cn=admin,ou=users,dc=example,dc=org",
        "--set",
        f"DOVECOT_USER_FILTER={FILTER}",
        "--set",
        "ENABLE_SASLAUTHD=1",
        "--set",
        "SASLAUTHD_LDAP_AUTH_METHOD=custom",
    ]
    extra: list[str] = []
    if password is not None:
        secret = tmp_path / "pw"
        secret.write_text(password + "\n")
        extra = ["--password-file", str(secret)]
    result = CliRunner().invoke(main, [*args, *extra, *options])
    return result.exit_code, result.output


@pytest.mark.parametrize("user", ["ssha", "badsha", "badblf", "multipw", "unknownscheme", "plain", "nobody"])
@pytest.mark.parametrize("output", ["text", "json"])
def test_no_password_or_hash_in_output(
    mixed: RunningDirectory, tmp_path: Path, user: str, output: str
) -> None:
    code, text = _run(mixed, tmp_path, "login", f"{user}@example.org", "--format", output, password=CANARY)
    assert code == 1, text
    assert CANARY not in text
    for stored in _hashes():
        assert stored not in text
        assert stored.split("}", 1)[-1] not in text or len(stored.split("}", 1)[-1]) < 8


def test_login_json_shape(mixed: RunningDirectory, tmp_path: Path) -> None:
    code, text = _run(mixed, tmp_path, "login", "ssha@example.org", "--format", "json", password="pw-ssha")
    data = json.loads(text)
    assert code == 0, text
    assert set(data) == {"user", "passdb", "userdb", "imap_login", "smtp_auth", "incomplete", "fault"}
    assert data["passdb"] == {"result": "ok", "user": "ssha", "reason": ""}
    assert data["userdb"]["result"] == "ok"
    assert data["userdb"]["fields"]["home"] == "/var/mail/example.org/ssha/"
    assert data["imap_login"] is True
    assert data["smtp_auth"] == {
        "via": "saslauthd",
        "ok": True,
        "sasl_username": "ssha@example.org",
        "reason": "",
        "cannot_start": None,
    }


def test_user_json_shape(mixed: RunningDirectory, tmp_path: Path) -> None:
    code, text = _run(mixed, tmp_path, "user", "uid0@example.org", "--format", "json")
    data = json.loads(text)
    assert code == 0
    assert data["result"] == "ok"
    assert data["fields"] == {
        "user": "uid0@example.org",
        "home": "/var/mail/example.org/uid0/",
        "uid": "0",
        "gid": "5000",
        "mail": "maildir:/var/mail/example.org/uid0/Maildir",
    }
    code, text = _run(mixed, tmp_path, "user", "nobody@example.org", "--format", "json")
    assert (code, json.loads(text)["result"]) == (1, "unknown")
    code, text = _run(mixed, tmp_path, "user", "dup@example.org", "--format", "json")
    assert (code, json.loads(text)["result"]) == (1, "internal_failure")
