"""`ldapdiag demo`: serve a scenario on a throwaway slapd and run ldapdiag's commands against it."""

from __future__ import annotations

import os
import re
import shlex
import signal
import sys
import time
from pathlib import Path

import click

from ldapdiag.errors import EXIT_CANNOT_CHECK, EXIT_OK, InputError


def scenarios_root() -> Path:
    """The scenarios/ folder: $LDAPDIAG_SCENARIOS, the source checkout's, or ./scenarios."""
    candidates = [
        Path(os.environ["LDAPDIAG_SCENARIOS"]) if os.environ.get("LDAPDIAG_SCENARIOS") else None,
        Path(__file__).resolve().parents[2] / "scenarios",
        Path.cwd() / "scenarios",
    ]
    for candidate in candidates:
        if candidate is not None and candidate.is_dir():
            return candidate
    raise InputError("no scenarios/ folder found; set LDAPDIAG_SCENARIOS to its path")


def find_scenario(name: str) -> Path:
    """The folder of scenario `name` (or a path to a scenario folder)."""
    given = Path(name)
    if given.is_dir() and (given / "directory.ldif").is_file():
        return given
    root = scenarios_root()
    folder = root / name
    if not (folder / "directory.ldif").is_file():
        known = sorted(p.name for p in root.iterdir() if (p / "directory.ldif").is_file())
        raise InputError(f"unknown scenario {name!r}; known: {', '.join(known)}")
    return folder


def demo_overrides(env_file: Path, ldap_url: str) -> list[str]:
    """The --set overrides that point a scenario's mailserver.env at the demo server."""
    text = env_file.read_text(encoding="utf-8")
    overrides = [
        f"{name}={ldap_url}"
        for name in ("LDAP_SERVER_HOST", "DOVECOT_URIS", "SASLAUTHD_LDAP_SERVER")
        if name == "LDAP_SERVER_HOST" or re.search(rf"^{name}=", text, re.M)
    ]
    if not re.search(r"^OVERRIDE_HOSTNAME=", text, re.M):
        base = re.search(r"^LDAP_SEARCH_BASE=(.*)$", text, re.M)
        labels = re.findall(r"dc=([^,\"]+)", base.group(1)) if base else []
        domain = ".".join(labels) or "example.org"
        overrides.append(f"OVERRIDE_HOSTNAME=mail.{domain}")
    return overrides


def run_demo(scenario: str, keep: bool = False) -> int:
    """Start the scenario's directory, show how to reach it, run ldapdiag, stop it again."""
    from ldapdiag.demo.server import serve_scenario

    folder = find_scenario(scenario)
    env_file = folder / "mailserver.env"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with serve_scenario(folder) as server:
        overrides = demo_overrides(env_file, server.ldap_url)
        arguments = ["--no-env", "--env-file", str(env_file)]
        for override in overrides:
            arguments += ["--set", override]
        click.echo(f"ldapdiag demo: scenario {folder.name} ({folder})")
        click.echo(f"  slapd serves {server.base} at {server.ldap_url} (StartTLS) and {server.ldaps_url}")
        click.echo(f"  CA certificate: {server.ca_file}")
        click.echo("  to run ldapdiag against it yourself, while it runs (demo --keep):")
        click.echo(f"    ldapdiag config {shlex.join(arguments)}")
        status = EXIT_OK  # findings are what the demo is for; only "could not check" fails it
        for command in (["config"], ["check"], ["lint", "--server"]):
            click.echo(f"\n$ ldapdiag {shlex.join(command + arguments)}")
            if _run(command + arguments) == EXIT_CANNOT_CHECK:
                status = EXIT_CANNOT_CHECK
        if keep:
            click.echo("\nserver running; Ctrl-C stops it")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                click.echo("stopping")
    return status


def _run(arguments: list[str]) -> int:
    """Run one ldapdiag command in this process and return its exit code."""
    from ldapdiag.cli import main

    try:
        result = main.main(arguments, prog_name="ldapdiag", standalone_mode=False)
    except SystemExit as done:
        return int(done.code or 0)
    return result if isinstance(result, int) else EXIT_OK
