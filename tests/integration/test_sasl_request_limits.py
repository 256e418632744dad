"""SMTP AUTH through the real postfix + cyrus SASL + saslauthd (the sandbox), at saslauthd's request
limits: does saslauthd search the directory, and does ldapdiag's `login` predict the same?

Under postfix, the login is not handed to saslauthd as typed: cyrus SASL 2.1.28 canonicalizes it
(lib/canonusr.c `_canonuser_internal()`: isspace() stripped around the whole login) and
lib/checkpw.c `saslauthd_verify_password()` splits it at its last '@' into user and realm (its own
buffer allows 8 KiB). saslauthd's do_request() (saslauthd/ipc_unix.c) then answers NO, without
any search, to a user longer than MAX_REQ_LEN = 256 bytes (saslauthd-main.h) or an empty one.
So `\\r@example.org` reaches saslauthd as an empty login (while `testsaslauthd -u '\\r'` would
search: tests/differential/test_hostile_keys.py), and 257 bytes of local part get no search.

The searches are read from the slapd's own operation log: saslauthd's filter (basic-setup's
SASLAUTHD_LDAP_FILTER) starts `(&(mail=`, which neither postfix's nor dovecot's filters do.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ldapdiag.cli import main
from ldapdiag.demo import RunningDirectory
from tests.ldap_server import BASIC_SETUP
from tests.sandbox.fixtures import HOSTNAME, requires_sandbox
from tests.sandbox.harness import Sandbox

pytestmark = requires_sandbox

SASLAUTHD_FILTER = 'filter="(&(mail='  # as slapd logs basic-setup's saslauthd filter


def saslauthd_searches(directory: RunningDirectory, offset: int) -> int:
    """saslauthd's searches in the slapd operation log since `offset`."""
    assert directory.access_log is not None
    time.sleep(0.2)  # slapd writes its log asynchronously
    text = directory.access_log.read_bytes()[offset:].decode("utf-8", "replace")
    return sum(1 for line in text.splitlines() if " SRCH base=" in line and SASLAUTHD_FILTER in line)


def log_size(directory: RunningDirectory) -> int:
    assert directory.access_log is not None
    return directory.access_log.stat().st_size


@pytest.mark.parametrize(
    "login",
    ["alice@example.org", "\r@example.org", "a" * 256 + "@example.org", "a" * 257 + "@example.org"],
    ids=["alice", "cr-only", "256-bytes", "257-bytes"],
)
def test_smtp_auth_through_postfix_searches_as_ldapdiag_predicts(
    tmp_path: Path, basic_sandbox: Sandbox, basic_setup_directory: RunningDirectory, login: str
) -> None:
    password = "alice-in-wonderland"
    offset = log_size(basic_setup_directory)
    probe = basic_sandbox.submission(login, password, "alice@example.org", "bob@example.org")
    real = saslauthd_searches(basic_setup_directory, offset)
    assert probe.auth.startswith("235" if login == "alice@example.org" else "535"), probe.auth
    assert real == (1 if login in ("alice@example.org", "a" * 256 + "@example.org") else 0), real

    (tmp_path / "pw").write_text(password)
    offset = log_size(basic_setup_directory)
    args = ["login", login, "--password-file", str(tmp_path / "pw"), "--format", "json", "--no-env"]
    args += ["--env-file", str(BASIC_SETUP / "mailserver.env")]
    args += [
        "--set",
        f"LDAP_SERVER_HOST={basic_setup_directory.ldap_url}",
        "--set",
        f"OVERRIDE_HOSTNAME={HOSTNAME}",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (0, 1), result.output
    smtp_auth = json.loads(result.stdout)["smtp_auth"]
    assert smtp_auth["ok"] is probe.auth.startswith("235"), smtp_auth
    assert saslauthd_searches(basic_setup_directory, offset) == real
    if login != "alice@example.org":
        expected = "NULL login received" if login.startswith("\r") else "login exceeded MAX_REQ_LEN: 256"
        assert real or smtp_auth["reason"] == expected, smtp_auth
