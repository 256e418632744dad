"""Throwaway slapd servers for the tests: session fixtures per scenario, and ldapsearch helpers.

Use from a conftest (`pytest_plugins = ["tests.ldap_server"]`) or a test module; every fixture
here is session-scoped, so the whole suite shares one server per scenario.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from ldapdiag.demo import RunningDirectory, Scenario, load_scenario, serve_scenario

SCENARIOS_DIR = Path(__file__).resolve().parents[1] / "scenarios"
BASIC_SETUP = SCENARIOS_DIR / "basic-setup"
SBIN_PATH = os.pathsep.join([os.environ.get("PATH", os.defpath), "/usr/sbin", "/sbin"])


def missing_ldap_tools() -> str | None:
    """Which of slapd, slapadd and ldapsearch is not installed, if any."""
    for tool in ("slapd", "slapadd", "ldapsearch"):
        if shutil.which(tool, path=SBIN_PATH) is None:
            return tool
    return None


requires_slapd = pytest.mark.skipif(
    missing_ldap_tools() is not None,
    reason=f"{missing_ldap_tools()} is not installed (Debian: slapd, ldap-utils)",
)


@pytest.fixture(scope="session")
def basic_setup_scenario() -> Scenario:
    """The basic-setup scenario folder, loaded (passwords included)."""
    return load_scenario(BASIC_SETUP)


@pytest.fixture(scope="session")
def basic_setup_directory() -> Iterator[RunningDirectory]:
    """A slapd serving scenarios/basic-setup (ldap + StartTLS, ldaps), shared by the suite."""
    missing = missing_ldap_tools()
    if missing:
        pytest.skip(f"{missing} is not installed (Debian: slapd, ldap-utils)")
    with serve_scenario(BASIC_SETUP) as directory:
        yield directory


def ldap_env(ca_file: Path | None) -> dict[str, str]:
    """The environment for OpenLDAP tools: no inherited LDAP* settings, certificates demanded."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDAP")}
    env["LDAPTLS_REQCERT"] = "demand"
    if ca_file is not None:
        env["LDAPTLS_CACERT"] = str(ca_file)
    return env


def paste_explained(command: str, directory: RunningDirectory) -> subprocess.CompletedProcess[str]:
    """An ldapsearch command --explain printed, pasted into sh as a user would: the bind password
    file placeholder replaced by the directory's, LDIF unwrapped, no LDAP* setting of the caller."""
    command = command.replace("/path/to/bind-password-file", str(directory.password_file))
    return subprocess.run(
        ["sh", "-c", command + " -LLL -o ldif-wrap=no"],
        capture_output=True,
        text=True,
        env=ldap_env(None),
        timeout=30,
        check=False,
    )


def dns_of(ldif: str) -> list[str]:
    """The DNs of an LDIF text, in order."""
    return [line[4:] for line in ldif.splitlines() if line.startswith("dn: ")]


def ldapsearch(
    directory: RunningDirectory,
    search_filter: str,
    attrs: Sequence[str] = ("1.1",),
    *,
    url: str | None = None,
    starttls: bool = False,
    ca_file: Path | None = None,
    bind: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run the real ldapsearch (simple bind as the directory's bind DN unless bind=False)."""
    args = ["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", url or directory.ldap_url]
    if starttls:
        args.append("-ZZ")
    if bind:
        args += ["-D", directory.bind_dn, "-y", str(directory.password_file)]
    args += ["-b", directory.base, search_filter, *attrs]
    return subprocess.run(
        args, capture_output=True, text=True, env=ldap_env(ca_file), timeout=30, check=False
    )


def search_dns(directory: RunningDirectory, search_filter: str, **options: object) -> set[str]:
    """The DNs a bound subtree search under the base returns; fails the test on an LDAP error."""
    result = ldapsearch(directory, search_filter, **options)  # type: ignore[arg-type]
    assert result.returncode == 0, f"ldapsearch {search_filter}: {result.stderr.strip()}"
    return dns_in(result.stdout)


def dns_in(ldif: str) -> set[str]:
    """The DNs of an unwrapped LDIF text (ldapsearch -LLL -o ldif-wrap=no)."""
    return {line[4:] for line in ldif.splitlines() if line.startswith("dn: ")}


def slapd_pids(workdir: Path) -> list[int]:
    """PIDs of live processes whose command line mentions `workdir` (our slapd, by its -F)."""
    needle = str(workdir).encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and needle in _cmdline(proc):
            pids.append(int(proc.name))
    return pids


def _cmdline(proc: Path) -> bytes:
    """/proc/PID/cmdline, or b"" for a process that vanished or is a zombie."""
    try:
        if (proc / "stat").read_text().split(") ", 1)[1].startswith("Z"):
            return b""
        return (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return b""
