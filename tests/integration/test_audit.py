"""`ldapdiag audit` against real slapd servers: planted faults found exactly, the scenarios' faults,
no progress characters when piped.

The generated directory (bench/audit_data.py) has SUITE_MAILBOXES entries with one planted fault of
each kind but AD; the expected set of (address, kind) is reasoned in that module's docstring from
the configuration and the postfix/dovecot behaviour the engines mirror (the differential tests
prove those). bench/audit_bench.py runs the same audit on 10,000 and 100,000 entries: at the
machine's current speed, 10,000 does not fit this suite's time budget.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.audit_data import EXPECTED, INDEXES, write_audit_scenario
from ldapdiag.audit.command import audit_address
from ldapdiag.audit.engine import AuditEngine
from ldapdiag.audit.model import Candidate
from ldapdiag.cli import main
from ldapdiag.config.load import load_config
from ldapdiag.config.sources import SourceOptions
from ldapdiag.demo import RunningDirectory, serve_scenario
from ldapdiag.demo.run import demo_overrides
from ldapdiag.postfix.transaction import AddressOutcome
from ldapdiag.report.audit_report import ProgressBar
from tests.ldap_server import SCENARIOS_DIR, requires_slapd
from tests.relay import Relay

pytestmark = requires_slapd

SUITE_MAILBOXES = 10_000  # issue 6: 10,000 mailboxes with planted faults


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, RunningDirectory]]:
    folder = write_audit_scenario(tmp_path_factory.mktemp("audit") / "generated", SUITE_MAILBOXES)
    with serve_scenario(folder, indexes=INDEXES, size_limit="unlimited") as directory:
        yield folder, directory


def options(env_file: Path, sets: list[str]) -> list[str]:
    args = ["--no-env", "--env-file", str(env_file)]
    for value in sets:
        args += ["--set", value]
    return args


def json_lines(text: str) -> tuple[list[dict], dict]:
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines and lines[-1]["type"] == "summary"
    return lines[:-1], lines[-1]


def test_planted_faults_are_found_and_nothing_else(generated: tuple[Path, RunningDirectory]) -> None:
    folder, directory = generated
    args = options(folder / "mailserver.env", [f"LDAP_SERVER_HOST={directory.ldap_url}"])
    result = CliRunner().invoke(main, ["audit", "--format", "json", *args])
    addresses, summary = json_lines(result.stdout)
    found = {(line["address"], finding["kind"]) for line in addresses for finding in line["findings"]}
    assert found == EXPECTED
    assert result.exit_code == 1 and summary["exit_code"] == 1
    assert summary["errors"] == [] and summary["unchecked"] == 0
    # every mailbox, alias and group once: N-9 user<i>@ + 9 planted (dup@ twice) - 1, alias<i>@ for
    # every 5th generated user, group<j>@ for (N-9) // 50 groups, old-alias@, loop aliases seen
    # already, Team-X@
    generated_users = SUITE_MAILBOXES - 9
    aliases, groups = (generated_users + 4) // 5, generated_users // 50
    assert summary["addresses"] == generated_users + 8 + aliases + groups + 2
    assert len({line["address"].lower() for line in addresses}) == len(addresses)
    assert summary["findings"]["login"] == 2 and summary["broken"] == len({a for a, _ in EXPECTED})


def test_text_output_piped_lists_the_broken_addresses_without_progress() -> None:
    folder = SCENARIOS_DIR / "dms-defaults"
    with serve_scenario(folder) as directory:
        env_file = folder / "mailserver.env"
        args = options(env_file, list(demo_overrides(env_file, directory.ldap_url)))
        result = subprocess.run(
            [sys.executable, "-m", "ldapdiag", "audit", *args], capture_output=True, text=True, timeout=120
        )
    assert result.returncode == 1
    listed = result.stdout.split("broken addresses:", 1)[1]
    assert "daniel.smith@example.com" in listed and "staff@example.com" in listed
    assert "alice@example.com" not in listed  # a healthy mailbox is not listed
    assert "\nbounce                  1 " in result.stdout
    # stderr is a pipe: no progress bar at all
    assert result.stderr == ""
    assert "\r" not in result.stdout + result.stderr and "[#" not in result.stdout


def test_progress_bar_draws_only_on_a_terminal() -> None:
    class Stream:
        def __init__(self, tty: bool) -> None:
            self.tty, self.text = tty, ""

        def isatty(self) -> bool:
            return self.tty

        def write(self, text: str) -> None:
            self.text += text

        def flush(self) -> None:
            pass

    for tty in (True, False):
        stream = Stream(tty)
        bar = ProgressBar(10, stream)  # type: ignore[arg-type]
        bar.update(5, 6, 1, force=True)
        bar.finish()
        assert ("\r[###############..............." in stream.text) is tty
        assert (stream.text == "") is not tty


# --- the scenarios: the faults their README and expect.yaml describe ------------------------------

SCENARIO_FINDINGS: dict[str, tuple[int, set[tuple[str, str]]]] = {
    # the docs' Basic Setup: pass_attrs uid=user renames every login, (mail=%u) cannot find it again
    "basic-setup": (
        1,
        {(a, "login") for a in ("alice@example.org", "bob@example.org", "carol@example.org",
                                "Dave.Davis@example.org")},
    ),
    # daniel.smith@ passes postfix and bounces at LMTP (uniqueIdentifier=%n), also as staff@'s member
    "dms-defaults": (
        1,
        {("daniel.smith@example.com", "bounce"), ("daniel.smith@example.com", "mailbox"),
         ("staff@example.com", "dangling")},
    ),
    # (uid=%u) serves LMTP too: alice, bob and erin (noaccess) bounce; their aliases point nowhere
    "qmail": (
        1,
        {(a, k) for a in ("alice@example.org", "bob@example.org", "erin@example.org")
         for k in ("bounce", "mailbox")}
        | {("alice.a@example.org", "dangling"), ("info@example.org", "dangling")},
    ),
    "really-simple": (0, set()),
    # carol@example.org: Relay access denied; alice.anders@: otherMailbox has no equality rule
    "kopano": (1, {("carol@example.org", "bounce"), ("alice.anders@example.com", "bounce")}),
    # the stray quote: no search works, nothing can be enumerated
    "really-simple-quoted": (2, set()),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SCENARIO_FINDINGS))
def test_scenario_audit(name: str) -> None:
    folder = SCENARIOS_DIR / name
    code, expected = SCENARIO_FINDINGS[name]
    with serve_scenario(folder) as directory:
        sets = list(demo_overrides(folder / "mailserver.env", directory.ldap_url))
        args = options(folder / "mailserver.env", sets)
        result = CliRunner().invoke(main, ["audit", "--format", "json", *args])
    addresses, summary = json_lines(result.stdout)
    found = {(line["address"], finding["kind"]) for line in addresses for finding in line["findings"]}
    assert found == expected
    assert result.exit_code == code == summary["exit_code"]
    if code == 2:
        assert summary["errors"] and "invalidDNSyntax" in summary["errors"][0]


def test_a_fault_met_by_a_check_makes_the_address_incomplete(
    generated: tuple[Path, RunningDirectory],
) -> None:
    """The directory goes away after an address's delivery was predicted, while the login check
    asks dovecot's passdb and userdb (this configuration renames logins): the address is
    incomplete, with the fault, instead of a finding or a clean line built on a failed lookup."""
    folder, directory = generated
    relay = Relay(directory.ldap_url)
    through = (f"LDAP_SERVER_HOST={relay.url}",)
    config = load_config(SourceOptions((folder / "mailserver.env",), use_environment=False, sets=through), {})
    try:
        with AuditEngine(config, fast=False) as engine:
            assert engine.renames_login() is not None
            healthy = audit_address(engine, Candidate("user93@example.org", "users", ""))
            assert healthy.outcome.verdict == "deliver" and healthy.checked
            assert healthy.findings == [] and healthy.outcome.faults == []
            probe = engine.probe

            def probe_then_die(address: str) -> AddressOutcome:
                outcome = probe(address)
                relay.kill()
                return outcome

            engine.probe = probe_then_die  # type: ignore[method-assign]
            audited = audit_address(engine, Candidate("user94@example.org", "users", ""))
    finally:
        relay.kill()
    assert audited.outcome.verdict == "deliver"
    lines = [fault.line() for fault in audited.outcome.faults]
    assert lines and all(line.startswith(f"dovecot: {relay.url}: ") for line in lines), lines
    assert "connection refused" in lines[-1], lines  # the search sent again met the dead server
