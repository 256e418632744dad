"""Every scenario's expect.yaml passes against its own directory, and broken copies fail readably.

One session slapd per scenario (started on first use). The configuration is the one `ldapdiag
demo` uses (the scenario's mailserver.env, LDAP_SERVER_HOST pointed at the slapd, the hostname
derived from the search base unless the env file sets OVERRIDE_HOSTNAME).

Broken copies: an expectation flipped (the first address expected to arrive is expected to be
rejected instead, or the other way round), and the directory changed (an entry the expectations
rely on removed). Each must fail (exit 1) with the expected/actual lines of the changed address.
Scenarios served by something else (`scenario-kind` file, e.g. `samba-ad` for the Active
Directory scenario) use the session fixture KIND_FIXTURES names (a RunningDirectory), and the
directory's CA is passed as --ca-file would be (a DC's certificate is its own).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ldapdiag.config.model import MailServerConfig
from ldapdiag.demo import RunningDirectory, serve_scenario
from ldapdiag.demo.ad_scenario import SLAPD_KIND, scenario_kind
from ldapdiag.demo.run import demo_config
from ldapdiag.errors import EXIT_FINDING, EXIT_OK
from ldapdiag.report.run_report import RunOutcome, failures_text
from ldapdiag.run.command import check_files
from tests.ldap_server import SCENARIOS_DIR, requires_slapd

pytestmark = requires_slapd

SCENARIOS = sorted(p.name for p in SCENARIOS_DIR.iterdir() if (p / "expect.yaml").is_file())
SLAPD_SCENARIOS = [n for n in SCENARIOS if scenario_kind(SCENARIOS_DIR / n) == SLAPD_KIND]
# scenario kind -> the session fixture serving it (tests/samba_dc.py serves scenarios/active-directory)
KIND_FIXTURES = {"samba-ad": "ad_directory"}
MAIL_SECTIONS = ("deliver", "accept", "bounce", "reject", "defer")
# scenario -> (an entry to remove from directory.ldif, an address whose expectation then fails)
DIRECTORY_CHANGES = {
    "basic-setup": ("uid=bob,ou=users,dc=example,dc=org", "info@example.org"),
    "dms-defaults": ("uniqueIdentifier=alice,ou=people,dc=example,dc=com", "alice@example.com"),
    "really-simple": ("uid=alice,ou=people,dc=example,dc=org", "alice@example.org"),
    "qmail": ("uid=carol@example.org,ou=people,dc=example,dc=org", "carol@example.org"),
    "kopano": ("cn=Sales,cn=Users,dc=mydomain,dc=loc", "sales@example.com"),
}


@pytest.fixture(scope="session")
def scenario_directories(request: pytest.FixtureRequest) -> Iterator[Callable[[str], RunningDirectory]]:
    """name -> the scenario's running directory, one per scenario for the whole session."""
    started: dict[str, RunningDirectory] = {}
    with contextlib.ExitStack() as stack:

        def get(name: str) -> RunningDirectory:
            if name not in started:
                started[name] = stack.enter_context(_serve(request, SCENARIOS_DIR / name))
            return started[name]

        yield get


def _serve(request: pytest.FixtureRequest, folder: Path) -> contextlib.AbstractContextManager[Any]:
    kind = scenario_kind(folder)
    if kind == SLAPD_KIND:
        return serve_scenario(folder)
    if kind not in KIND_FIXTURES:
        pytest.skip(f"scenario {folder.name}: no fixture serves {kind} scenarios")
    return contextlib.nullcontext(request.getfixturevalue(KIND_FIXTURES[kind]))


def config_for(folder: Path, directory: RunningDirectory) -> MailServerConfig:
    return demo_config(folder, directory.ldap_url)


def run_file(config: MailServerConfig, expect: Path, directory: RunningDirectory | None = None) -> RunOutcome:
    """check_files() as `ldapdiag run` does; the directory's CA trusted for non-slapd scenarios."""
    ca_file = directory.ca_file if directory is not None else None
    return check_files(config, [expect], ca_file=ca_file, environ={})


def run_scenario(name: str, directories: Callable[[str], RunningDirectory], expect: Path) -> RunOutcome:
    """Check `expect` against scenario `name`'s running directory."""
    folder = SCENARIOS_DIR / name
    directory = directories(name)
    trusted = directory if scenario_kind(folder) != SLAPD_KIND else None
    return run_file(config_for(folder, directory), expect, trusted)


# --- the scenarios pass -------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_expectations_pass(
    name: str, scenario_directories: Callable[[str], RunningDirectory]
) -> None:
    outcome = run_scenario(name, scenario_directories, SCENARIOS_DIR / name / "expect.yaml")
    results = [result for _, result in outcome.results]
    assert outcome.problems == []
    assert len(results) >= 8
    assert outcome.exit_code == EXIT_OK, "\n" + failures_text(results)
    kinds = {result.kind for result in results}
    assert kinds & set(MAIL_SECTIONS), "every scenario says what happens to mail"
    assert "lint" in kinds and "lookup" in kinds


# --- broken copies fail readably -----------------------------------------------------------------


def _flip_first_mail_expectation(document: dict[str, Any]) -> tuple[str, str]:
    """Move the first address expected to arrive into reject:, else the first rejected one into
    deliver:. Returns (address, the section it went to)."""
    for source, target in (("deliver", "reject"), ("accept", "reject"), ("bounce", "reject"),
                           ("reject", "deliver"), ("defer", "deliver")):  # fmt: skip
        items = document.get(source) or []
        if items:
            item = items.pop(0)
            address = item if isinstance(item, str) else item["address"]
            document.setdefault(target, []).insert(0, address)
            return address, target
    raise AssertionError("no mail expectation to flip")


def _copy_for_breaking(folder: Path, tmp_path: Path) -> Path:
    """The scenario folder copied (the expectation file's relative password files come along)."""
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    return copy


@pytest.mark.parametrize("name", SCENARIOS)
def test_flipped_expectation_fails_with_a_readable_diff(
    name: str, scenario_directories: Callable[[str], RunningDirectory], tmp_path: Path
) -> None:
    folder = SCENARIOS_DIR / name
    copy = _copy_for_breaking(folder, tmp_path)
    document = yaml.safe_load((copy / "expect.yaml").read_text())
    address, target = _flip_first_mail_expectation(document)
    (copy / "expect.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    outcome = run_scenario(name, scenario_directories, copy / "expect.yaml")
    failed = [result for _, result in outcome.results if result.status != "pass"]
    assert outcome.exit_code == EXIT_FINDING
    assert [(r.kind, r.subject, r.status) for r in failed] == [(target, address, "fail")]
    text = failures_text(failed)
    expected_word = "rejected (5xx)" if target == "reject" else "delivered"
    assert re.search(rf"^FAIL +\S+/expect\.yaml:\d+  {target} {re.escape(address)}$", text, re.M), text
    assert f"- expected: {expected_word}" in text, text
    assert re.search(r"^\s+\+ actual:   (accepted ->|rejected:|deferred:) ", text, re.M), text


@pytest.mark.parametrize("name", sorted(DIRECTORY_CHANGES))
def test_changed_directory_fails(name: str, tmp_path: Path) -> None:
    folder = SCENARIOS_DIR / name
    copy = _copy_for_breaking(folder, tmp_path)
    dn, address = DIRECTORY_CHANGES[name]
    ldif = copy / "directory.ldif"
    entries = ldif.read_text().split("\n\n")
    kept = [entry for entry in entries if f"\ndn: {dn}\n" not in f"\n{entry}\n"]
    assert len(kept) == len(entries) - 1, f"{dn} not found in {name}/directory.ldif"
    ldif.write_text("\n\n".join(kept))
    with serve_scenario(copy) as directory:
        outcome = run_file(config_for(copy, directory), copy / "expect.yaml")
    failed = [result for _, result in outcome.results if result.status != "pass"]
    assert outcome.exit_code == EXIT_FINDING, failures_text(failed)
    assert address in {r.subject for r in failed}, failures_text(failed)
    assert all(r.status == "fail" for r in failed)
    assert "+ actual:" in failures_text(failed)


# --- the demo runs them ---------------------------------------------------------------------------


def test_demo_runs_the_scenario_expectations() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ldapdiag", "demo", "qmail"], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert re.search(r"^\$ ldapdiag run .*scenarios/qmail/expect\.yaml$", done.stdout, re.M)
    assert re.search(r"^\d+ expectations in 1 file: \d+ passed, 0 failed$", done.stdout, re.M)
    assert "qmail-bind-pw" not in done.stdout + done.stderr
    assert "alice-qmail-pw" not in done.stdout + done.stderr


def test_every_slapd_scenario_is_listed_in_the_readme() -> None:
    readme = (SCENARIOS_DIR / "README.md").read_text()
    for name in SLAPD_SCENARIOS:
        assert f"[`{name}`]({name}/README.md)" in readme
        assert (SCENARIOS_DIR / name / "README.md").is_file()
