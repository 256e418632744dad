"""The end-of-run read-only audit (tests/conftest.py) really fails a run when a write reaches slapd.

A separate pytest run (a subprocess, with tests/conftest.py as its plugin) holds one test that
passes but sends an LDAP modify to a throwaway slapd: the run must end with exit code 1 and the
audit line naming the MOD. A control run that only searches ends with 0.
The Samba AD DC is not covered: Samba keeps no per-operation log like slapd's `stats` (its
dsdb audit log also records the DC's own writes, such as logon timestamps), so there is nothing
equivalent to audit; the AD tests reach it with the same ldapdiag code whose slapd traffic is audited.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ldap_server import missing_ldap_tools

ROOT = Path(__file__).resolve().parents[2]

INNER = """
from ldap3 import MODIFY_REPLACE, Connection, Server
from ldapdiag.demo import serve_scenario
from tests.ldap_server import BASIC_SETUP


def test_passes_but_touches_the_directory():
    with serve_scenario(BASIC_SETUP, tls=False) as directory:
        conn = Connection(Server(directory.ldap_url), directory.bind_dn,
                          directory.password_file.read_text(), auto_bind=True)
        conn.search(directory.base, "(mail=alice@example.org)")
        if {write}:
            conn.modify("uid=alice,ou=users," + directory.base, {{"description": [(MODIFY_REPLACE, ["x"])]}})
        conn.unbind()
"""


def _run(tmp_path: Path, write: bool) -> subprocess.CompletedProcess[str]:
    test = tmp_path / f"test_inner_{'write' if write else 'read'}.py"
    test.write_text(INNER.format(write=write))
    env = {k: v for k, v in os.environ.items() if k != "LDAPDIAG_KEEP_ACCESS_LOGS"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.conftest",
            "--rootdir",
            str(tmp_path),
            str(test),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.skipif(missing_ldap_tools() is not None, reason="slapd is not installed")
def test_a_write_fails_the_run(tmp_path: Path) -> None:
    written = _run(tmp_path, write=True)
    assert "1 passed" in written.stdout, written.stdout + written.stderr
    assert "read-only audit: 1 slapd operation logs, 0 writes" not in written.stdout, written.stdout
    assert "write reached a server:" in written.stdout and " MOD dn=" in written.stdout, written.stdout
    assert written.returncode == 1
    read = _run(tmp_path, write=False)
    assert "read-only audit: 1 slapd operation logs, 0 writes" in read.stdout, read.stdout
    assert read.returncode == 0
