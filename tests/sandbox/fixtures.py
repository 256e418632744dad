"""pytest fixtures for the sandbox: one sandbox per configuration per session, many probes each.

Register in tests/conftest.py (`pytest_plugins = [..., "tests.sandbox.fixtures"]`) to get the
failure hook too: a failed test that used a sandbox then shows its postconf -n/-M, doveconf -n and
the end of its logs (passwords redacted). Without registration, import the fixtures into a test
module; the configuration dumps are still attached to each test that uses `basic_sandbox`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ldapdiag.config.load import load_config
from ldapdiag.config.model import MailServerConfig
from ldapdiag.config.sources import SourceOptions
from ldapdiag.demo import RunningDirectory
from tests.ldap_server import BASIC_SETUP
from tests.sandbox.harness import Sandbox, missing_requirements, start_sandbox

HOSTNAME = "mail.example.org"

requires_sandbox = pytest.mark.skipif(
    missing_requirements() is not None, reason=f"sandbox unavailable: {missing_requirements()}"
)


def scenario_config(env_file: Path, directory: RunningDirectory, *sets: str) -> MailServerConfig:
    """ldapdiag's configuration for a scenario's mailserver.env, pointed at the running directory."""
    options = SourceOptions(
        env_files=(env_file,),
        use_environment=False,
        sets=(f"LDAP_SERVER_HOST={directory.ldap_url}", f"OVERRIDE_HOSTNAME={HOSTNAME}", *sets),
    )
    return load_config(options, {})


@pytest.fixture(scope="session")
def basic_setup_sandbox(basic_setup_directory: RunningDirectory) -> Iterator[Sandbox]:
    """The sandbox for scenarios/basic-setup/mailserver.env (saslauthd on), shared by the session."""
    problem = missing_requirements()
    if problem:
        pytest.skip(f"sandbox unavailable: {problem}")
    config = scenario_config(BASIC_SETUP / "mailserver.env", basic_setup_directory)
    with start_sandbox(config, basic_setup_directory) as sandbox:
        yield sandbox


@pytest.fixture
def basic_sandbox(basic_setup_sandbox: Sandbox, request: pytest.FixtureRequest) -> Sandbox:
    """basic_setup_sandbox, with its configuration dumps attached to the test's report."""
    attach_dumps(request.node, basic_setup_sandbox)
    return basic_setup_sandbox


def attach_dumps(item: pytest.Item, sandbox: Sandbox) -> None:
    """Add postconf -n/-M and doveconf -n as report sections (shown when the test fails)."""
    for name, text in sandbox.dumps.items():
        item.add_report_section("setup", f"sandbox {name}", sandbox.redact(text))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On a failed test call, add the report of every sandbox the test used (when registered)."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    dumps_shown = any("sandbox postconf" in title for title, _ in report.sections)
    sandboxes = {id(v): v for v in getattr(item, "funcargs", {}).values() if isinstance(v, Sandbox)}
    for sandbox in sandboxes.values():
        report.sections.append(("sandbox report", sandbox.report(dumps=not dumps_shown)))
