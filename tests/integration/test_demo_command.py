"""`ldapdiag demo`: serves the scenario, runs ldapdiag against it, leaves no server behind."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.ldap_server import requires_slapd, slapd_pids

pytestmark = requires_slapd


def test_demo_runs_and_cleans_up() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ldapdiag", "demo"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "slapd serves dc=example,dc=org at ldap://127.0.0.1:" in done.stdout
    assert "### /etc/postfix/ldap-users.cf" in done.stdout
    # ldapdiag check: every component connects; its lint part finds the docs' uid=user trap
    assert "result: findings (exit 1)" in done.stdout
    assert "lint (configuration; `ldapdiag lint` explains and gives fixes):" in done.stdout
    assert done.stdout.count("(dovecot-rename)") >= 2  # in check's lint part and in lint itself
    assert "mypassword" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    served = re.search(r"CA certificate: (/\S+)/tls/ca.pem", done.stdout)
    assert served is not None
    workdir = Path(served.group(1))
    assert not workdir.exists()
    assert slapd_pids(workdir) == []


def test_unknown_scenario_is_one_line_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ldapdiag", "demo", "no-such-scenario"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "unknown scenario 'no-such-scenario'; known: " in done.stderr
    assert "basic-setup" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
