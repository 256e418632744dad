"""Collect DMS variables from every source, later ones overriding earlier ones.

Order: `--env-file` files, the `--compose` service (its env_file: entries, then environment:),
the process environment (unless `--no-env`), then `--set KEY=VALUE`. DMS's own defaults are
applied afterwards by `dms_variables`, only where nothing else set a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ldapdiag.config.envfile import parse_env_file
from ldapdiag.config.origin import Finding, Origin
from ldapdiag.config.settings import Setting, Settings, is_secret_variable
from ldapdiag.errors import InputError

if TYPE_CHECKING:  # compose.py needs PyYAML: imported only for --compose
    from ldapdiag.config.compose import ComposeService

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class SourceOptions:
    """The configuration options every command accepts."""

    env_files: tuple[Path, ...] = ()
    compose: Path | None = None
    service: str | None = None
    use_environment: bool = True
    sets: tuple[str, ...] = ()
    dms_config: Path | None = None
    from_files: Path | None = None


@dataclass(frozen=True)
class CollectedSettings:
    """The container environment ldapdiag reconstructed, before DMS's own defaults."""

    settings: Settings
    findings: tuple[Finding, ...] = ()
    compose: ComposeService | None = None
    sources: tuple[str, ...] = field(default=())


def collect_settings(options: SourceOptions, environ: Mapping[str, str]) -> CollectedSettings:
    """Layer env files, compose, the process environment and --set into one Settings."""
    settings = Settings()
    findings: list[Finding] = []
    for path in options.env_files:
        layer, found = parse_env_file(path, environ)
        settings = settings.layered(layer)
        findings += found
    compose = None
    if options.compose is not None:
        from ldapdiag.config.compose import load_compose

        compose = load_compose(options.compose, options.service, environ)
        settings = settings.layered(compose.settings)
        findings += compose.findings
    elif options.service is not None:
        raise InputError("--service needs --compose FILE")
    if options.use_environment:
        settings = settings.layered(
            Setting(name, value, Origin("environment", "", name))
            for name, value in environ.items()
            if _NAME.fullmatch(name)
        )
    settings = settings.layered(parse_set_options(options.sets))
    return CollectedSettings(settings, tuple(findings), compose)


def parse_set_options(items: tuple[str, ...]) -> list[Setting]:
    """`--set KEY=VALUE` overrides; passwords are refused (they would sit in argv)."""
    result = []
    for number, item in enumerate(items, start=1):
        name, sep, value = item.partition("=")
        if not sep or not _NAME.fullmatch(name):
            # the text is not echoed: a mistyped --set could be a password
            raise InputError(f"--set number {number} is not KEY=VALUE with a variable name as KEY")
        if is_secret_variable(name):
            raise InputError(
                f"--set {name}: passwords are never taken from the command line; "
                f"use --set {name}__FILE=/path/to/file or an env file"
            )
        result.append(Setting(name, value, Origin("set", "", name)))
    return result
