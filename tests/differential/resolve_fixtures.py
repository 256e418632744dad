"""The session's resolve/send-as runs: every configuration of resolve_cases.py, computed once.

The runs are plain data once computed (the directory and the sandboxes are closed right after),
so test_resolve_*.py and test_send_as_*.py share them through a module-level cache (each test
module's `runs` fixture calls session_runs()). The
configurations run in parallel, each in its own sandbox (private namespaces: no clashes).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from ldapdiag.demo import serve_scenario
from tests.differential.resolve_cases import CONFIGURATIONS, ROUTING
from tests.differential.resolve_runs import ConfigurationRun, run_configuration
from tests.ldap_server import missing_ldap_tools
from tests.sandbox.harness import missing_requirements

PARALLEL = 4
_LOCK = threading.Lock()
_RUNS: dict[str, ConfigurationRun] = {}
_TIMINGS: dict[str, float] = {}


def compute_runs() -> dict[str, ConfigurationRun]:
    """Run every configuration (once per session)."""
    with _LOCK:
        if not _RUNS:
            import time

            begin = time.monotonic()
            with serve_scenario(ROUTING) as directory, ThreadPoolExecutor(PARALLEL) as pool:
                futures = {c.name: pool.submit(run_configuration, c, directory) for c in CONFIGURATIONS}
                _RUNS.update({name: future.result() for name, future in futures.items()})
            _TIMINGS["total"] = time.monotonic() - begin
        return _RUNS


def session_runs() -> dict[str, ConfigurationRun]:
    """Every configuration's probes, real and predicted (skips the test without sandbox or slapd)."""
    for problem in (missing_ldap_tools(), missing_requirements()):
        if problem:
            pytest.skip(f"resolve differential tests need the sandbox and slapd: {problem}")
    return compute_runs()


def timings() -> dict[str, float]:
    """Wall time of the whole computation and of each configuration."""
    result = dict(_TIMINGS)
    result.update({name: run.seconds for name, run in _RUNS.items()})
    return result
