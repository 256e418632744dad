"""A sandboxed postfix + dovecot + saslauthd of a DMS v15 container, to ask the real programs.

See README.md. The agent (pid 1 inside the sandbox) imports only standard-library modules of this
package, so the harness's names are loaded lazily: `from tests.sandbox import start_sandbox`.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "Sandbox": "tests.sandbox.harness",
    "SandboxError": "tests.sandbox.harness",
    "missing_requirements": "tests.sandbox.harness",
    "start_sandbox": "tests.sandbox.harness",
    "CommandResult": "tests.sandbox.results",
    "Delivery": "tests.sandbox.results",
    "DoveadmResult": "tests.sandbox.results",
    "RcptProbe": "tests.sandbox.results",
    "SaslResult": "tests.sandbox.results",
    "SubmissionProbe": "tests.sandbox.results",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import the harness's public names on first use."""
    if name not in _EXPORTS:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
