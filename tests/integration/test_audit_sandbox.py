"""`ldapdiag audit`'s verdicts checked against the REAL postfix and dovecot of the sandbox.

For every address the audit finds in a scenario, the sandbox (tests/sandbox/: Debian 12's postfix
3.7 and dovecot 2.3 with DMS v15's configuration, against the same slapd) gets the same port-25
transaction: the RCPT reply, and for accepted mail the status of each final recipient must be
what the audit predicted. For the basic setup, a mailbox has a `login` finding exactly when
`doveadm auth login` (with the account's real password) refuses its IMAP login.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ldapdiag.cli import main
from ldapdiag.demo import load_scenario, serve_scenario
from ldapdiag.demo.run import demo_config, demo_overrides
from ldapdiag.postfix.transaction import DEFAULT_MAIL_FROM
from tests.ldap_server import SCENARIOS_DIR, requires_slapd
from tests.sandbox.fixtures import requires_sandbox
from tests.sandbox.harness import start_sandbox

pytestmark = [requires_slapd, requires_sandbox]


def audit_lines(folder, directory) -> list[dict]:  # type: ignore[no-untyped-def]
    env_file = folder / "mailserver.env"
    args = ["--no-env", "--env-file", str(env_file)]
    for value in demo_overrides(env_file, directory.ldap_url):
        args += ["--set", value]
    result = CliRunner().invoke(main, ["audit", "--format", "json", *args])
    return [json.loads(line) for line in result.stdout.splitlines()][:-1]


@pytest.mark.parametrize("name", ["dms-defaults", "qmail"])
def test_audit_verdicts_hold_for_the_real_programs(name: str) -> None:
    folder = SCENARIOS_DIR / name
    with serve_scenario(folder) as directory:
        lines = audit_lines(folder, directory)
        assert len(lines) >= 5
        with start_sandbox(demo_config(folder, directory.ldap_url), directory) as sandbox:
            for line in lines:
                address = line["address"]
                probe = sandbox.rcpt(DEFAULT_MAIL_FROM, [address])
                rcpt = probe.rcpt[address]
                if line["verdict"] == "reject":
                    assert rcpt == line["smtp_reply"], address
                    continue
                assert line["verdict"] == "deliver", line
                assert rcpt.startswith("250") and (probe.data_reply or "").startswith("250"), (address, rcpt)
                assert probe.settled
                real = {d.to.lower(): d.status for d in probe.deliveries}
                predicted = {r["address"].lower(): r["status"] for r in line["recipients"]}
                assert real == predicted, address


def test_login_findings_hold_for_doveadm() -> None:
    folder = SCENARIOS_DIR / "basic-setup"
    passwords = load_scenario(folder).user_passwords
    with serve_scenario(folder) as directory:
        lines = audit_lines(folder, directory)
        cannot = {line["address"] for line in lines if any(f["kind"] == "login" for f in line["findings"])}
        mailboxes = [line for line in lines if line["found_in"] == "users"]
        assert cannot and len(mailboxes) == 4
        with start_sandbox(demo_config(folder, directory.ldap_url), directory) as sandbox:
            for line in mailboxes:
                address = line["address"]
                uid = line["dn"].split(",", 1)[0].split("=", 1)[1]
                real = sandbox.doveadm_auth_login(address, passwords[uid])
                assert (real.exit_code != 0) == (address in cannot), (address, real.reason)
