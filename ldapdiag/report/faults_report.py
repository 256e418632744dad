"""The faults of a run on standard error: one line each, `ldapdiag: could not check: ...`."""

from __future__ import annotations

import click

from ldapdiag.directory.faults import FaultLog


def print_faults(log: FaultLog) -> None:
    """One line per distinct fault (component, server, problem), after the command's output."""
    for line in log.lines():
        click.echo(line, err=True)
