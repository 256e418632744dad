"""Shared fixtures: throwaway slapd servers (plain and TLS) and the postfix+dovecot+saslauthd sandbox.

Every throwaway slapd of the run keeps its operation log (LDAPDIAG_KEEP_ACCESS_LOGS); when the run
ends, all of them are audited: only BIND, SRCH, EXT (StartTLS, WhoAmI) and UNBIND may have reached
any server, or the run fails (ldapdiag is read-only by construction; this proves it). ABANDON is
a read too: libldap sends it when a client gives up waiting (a real postfix or dovecot whose
timeout expired on a loaded machine); it cancels an operation and changes nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

pytest_plugins = ["tests.ldap_server", "tests.tls_servers", "tests.sandbox.fixtures", "tests.samba_dc"]

ACCESS_LOGS = Path(tempfile.mkdtemp(prefix="ldapdiag-access-logs-"))
os.environ["LDAPDIAG_KEEP_ACCESS_LOGS"] = str(ACCESS_LOGS)

ALLOWED_OPERATIONS = {"BIND", "SRCH", "EXT", "UNBIND", "ABANDON", "STARTTLS", "WHOAMI"}
NOT_OPERATIONS = {b"RESULT", b"SEARCH", b"DISCONNECT"}  # slapd's result and notice lines
ALLOWED_EXTENDED = {"1.3.6.1.4.1.1466.20037", "1.3.6.1.4.1.4203.1.11.3"}  # StartTLS, WhoAmI
OPERATION = re.compile(rb"conn=\d+ op=\d+ ([A-Z]+)(?: oid=(\S+))?")


def forbidden_operations(log: Path) -> list[str]:
    """Operation log lines of `log` that are not a read (bind, search, StartTLS, WhoAmI, abandon, unbind)."""
    found = []
    for line in log.read_bytes().splitlines():
        match = OPERATION.search(line)
        if match is None or match.group(1) in NOT_OPERATIONS:
            continue
        name = match.group(1).decode()
        oid = (match.group(2) or b"").decode()
        if name not in ALLOWED_OPERATIONS or (name == "EXT" and oid not in ALLOWED_EXTENDED):
            found.append(f"{log.name}: {line.decode(errors='replace').strip()}")
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any throwaway slapd saw an operation other than a read."""
    logs = sorted(ACCESS_LOGS.glob("*.log"))
    bad = [line for log in logs for line in forbidden_operations(log)]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"read-only audit: {len(logs)} slapd operation logs, {len(bad)} writes")
        for line in bad[:20]:
            reporter.write_line(f"  write reached a server: {line}", red=True)
    if bad:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        shutil.rmtree(ACCESS_LOGS, ignore_errors=True)
