"""`ldapdiag demo`: serve a scenario on a throwaway slapd and run ldapdiag's commands against it."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ldapdiag.demo.ad_scenario import SAMBA_KIND, SLAPD_KIND, scenario_kind
from ldapdiag.errors import EXIT_CANNOT_CHECK, EXIT_OK, InputError

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from ldapdiag.config.model import MailServerConfig
    from ldapdiag.demo.server import RunningDirectory


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


ALIASES = {"ad": "active-directory"}  # short names `ldapdiag demo` accepts
SERVED_KINDS = (SLAPD_KIND, SAMBA_KIND)  # slapd (ldapdiag.demo.server), Samba AD DC (ldapdiag.demo.samba)


def find_scenario(name: str) -> Path:
    """The folder of scenario `name` (or a path to a scenario folder) that ldapdiag demo can serve."""
    given = Path(name)
    if given.is_dir() and (given / "directory.ldif").is_file() and scenario_kind(given) in SERVED_KINDS:
        return given
    root = scenarios_root()
    folder = root / ALIASES.get(name, name)
    if folder.is_dir() and scenario_kind(folder) not in SERVED_KINDS:
        kind = scenario_kind(folder)
        raise InputError(f"scenario {name!r} is served by {kind}, which ldapdiag demo cannot start")
    if not (folder / "directory.ldif").is_file():
        known = sorted(
            p.name
            for p in root.iterdir()
            if (p / "directory.ldif").is_file() and scenario_kind(p) in SERVED_KINDS
        )
        raise InputError(f"unknown scenario {name!r}; known: {', '.join(known)} (ad: active-directory)")
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


def demo_config(folder: Path, ldap_url: str) -> MailServerConfig:
    """The configuration the demo checks a scenario with: mailserver.env, config/, demo_overrides()."""
    from ldapdiag.config.load import load_config
    from ldapdiag.config.sources import SourceOptions

    env_file = folder / "mailserver.env"
    sets = tuple(demo_overrides(env_file, ldap_url))
    options = SourceOptions(
        env_files=(env_file,), use_environment=False, sets=sets, dms_config=config_volume(folder)
    )
    return load_config(options, {})


def config_volume(folder: Path) -> Path | None:
    """The scenario's DMS config volume (its config/ folder: ldap-groups.cf...), if it has one."""
    volume = folder / "config"
    return volume if volume.is_dir() else None


def run_demo(scenario: str, keep: bool = False) -> int:
    """Start the scenario's directory, show how to reach it, run ldapdiag, stop it again."""
    if importlib.util.find_spec("slapd") is None:  # the single-file build (ldapdiag.pyz) leaves it out
        raise InputError("the demo needs the python-slapd package: pip install 'ldapdiag[demo]'")
    folder = find_scenario(scenario)
    env_file = folder / "mailserver.env"
    serve, what = _server_for(folder)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with serve(folder) as server:
        overrides = demo_overrides(env_file, server.ldap_url)
        arguments = ["--no-env", "--env-file", str(env_file)]
        volume = config_volume(folder)
        if volume is not None:
            arguments += ["--dms-config", str(volume)]
        for override in overrides:
            arguments += ["--set", override]
        click.echo(f"ldapdiag demo: scenario {folder.name} ({folder})")
        click.echo(f"  {what} serves {server.base} at {server.ldap_url} (StartTLS) and {server.ldaps_url}")
        click.echo(f"  CA certificate: {server.ca_file}")
        click.echo("  to run ldapdiag against it yourself, while it runs (demo --keep):")
        click.echo(f"    ldapdiag config {shlex.join(arguments)}")
        status = EXIT_OK  # findings are what the demo is for; only "could not check" fails it
        samba = scenario_kind(folder) == SAMBA_KIND
        trust = ["--ca-file", str(server.ca_file)] if samba and server.ca_file else []
        for command in (["config"], ["check", *trust], ["lint", "--server", *trust]):
            click.echo(f"\n$ ldapdiag {shlex.join(command + arguments)}")
            code = _run(command + arguments)
            if (
                code == EXIT_CANNOT_CHECK
                and samba
                and command[0] == "check"
                and _tls_name_only(command + arguments)
            ):
                click.echo(SAMBA_NAME_NOTE)
            elif code == EXIT_CANNOT_CHECK:
                status = EXIT_CANNOT_CHECK
        expect = folder / "expect.yaml"
        if expect.is_file():  # the scenario's own expectations: a failing one is a real problem
            command = ["run", *arguments, str(expect)]
            click.echo(f"\n$ ldapdiag {shlex.join(command)}")
            code = _run(command)
            if code != EXIT_OK and status == EXIT_OK:
                status = code
        if keep:
            click.echo("\nserver running; Ctrl-C stops it")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                click.echo("stopping")
    return status


SAMBA_NAME_NOTE = (
    "\n(expected: Samba's self-signed certificate names the DC by its DNS name; reached at 127.0.0.1, "
    "dovecot's libldap refuses it even with the CA. A container that names the DC in LDAP_SERVER_HOST "
    "and trusts the CA (the DMS docs' update-ca-certificates) passes: see the scenario's README.md)"
)


def _tls_name_only(arguments: list[str]) -> bool:
    """check failed only because a component refuses the certificate's name (Samba's own)."""
    import json

    from click.testing import CliRunner

    from ldapdiag.cli import main

    result = CliRunner().invoke(main, [*arguments, "--format", "json"])
    try:
        report = json.loads(result.stdout)
    except ValueError:
        return False
    errors = {
        problem["kind"]
        for component in report.get("components", [])
        for problem in component.get("problems", [])
        if problem.get("level") == "error"
    }
    return errors == {"hostname-mismatch"}


def _server_for(folder: Path) -> tuple[Callable[[Path], AbstractContextManager[RunningDirectory]], str]:
    """How to serve the folder: a throwaway slapd, or a Samba AD DC (InputError when Samba cannot run)."""
    if scenario_kind(folder) == SAMBA_KIND:
        from ldapdiag.demo.samba import samba_missing, serve_ad_scenario

        problem = samba_missing()
        if problem:
            raise InputError(f"scenario {folder.name} needs a Samba AD DC: {problem}")
        return serve_ad_scenario, "a Samba AD DC (its own self-signed certificate)"
    from ldapdiag.demo.server import serve_scenario

    return serve_scenario, "slapd"


def _run(arguments: list[str]) -> int:
    """Run one ldapdiag command in this process and return its exit code."""
    from ldapdiag.cli import main

    try:
        result = main.main(arguments, prog_name="ldapdiag", standalone_mode=False)
    except SystemExit as done:
        return int(done.code or 0)
    return result if isinstance(result, int) else EXIT_OK
