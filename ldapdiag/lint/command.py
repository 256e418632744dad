"""`ldapdiag lint`: run the rules (and with --server the schema and data rules), print, exit code.

Exit code: 0 clean (info only), 1 an error (or a warning with --strict), 2 something could not be
checked (the server could not be read with --server).
"""

from __future__ import annotations

from pathlib import Path

import click

from ldapdiag.config.model import MailServerConfig
from ldapdiag.directory.ldapconf import LdapConf, read_ldap_conf
from ldapdiag.lint.context import LintContext
from ldapdiag.lint.output import render
from ldapdiag.lint.runner import LintResult, lint_config
from ldapdiag.lint.server import ServerFacts, ServerUnavailable, read_server


def run_lint(
    config: MailServerConfig,
    output_format: str = "standard",
    strict: bool = False,
    dms_version: int = 15,
    server: bool = False,
    ca_file: Path | None = None,
    ca_dir: Path | None = None,
    *,
    ldap_conf: LdapConf | None = None,
) -> int:
    """Lint `config`, print the report in `output_format`, return the exit code."""
    result = lint(
        config,
        dms_version=dms_version,
        server=server,
        ca_files=(ca_file,) if ca_file else (),
        ca_dirs=(ca_dir,) if ca_dir else (),
        ldap_conf=ldap_conf,
    )
    code = result.exit_code(strict)
    click.echo(render(result, output_format, code), nl=False)
    return code


def lint(
    config: MailServerConfig,
    *,
    dms_version: int = 15,
    server: bool = False,
    ca_files: tuple[Path, ...] = (),
    ca_dirs: tuple[Path, ...] = (),
    ldap_conf: LdapConf | None = None,
) -> LintResult:
    """The lint result, without printing; with `server` the directory is read as postfix reads it."""
    ldap_conf = ldap_conf or read_ldap_conf()
    facts: ServerFacts | None = None
    not_checked: list[str] = []
    if server:
        policies = LintContext(config, dms_version, ldap_conf).policies
        try:
            facts = read_server(config, policies, ca_files, ca_dirs)
        except ServerUnavailable as error:
            not_checked.append(f"--server: {error}")
    try:
        result = lint_config(config, dms_version=dms_version, server=facts, ldap_conf=ldap_conf)
    finally:
        if facts is not None:
            facts.close()
    if facts is not None and facts.schema is None:
        not_checked.append(f"--server: {facts.schema_error}: the schema rules did not run")
    result.not_checked += not_checked
    return result
