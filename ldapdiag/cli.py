"""Command-line wiring: parse options, build the configuration, call an engine, pick the exit code.

Heavy modules are imported inside the commands so `--help` and `--version` stay fast.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ldapdiag import __version__
from ldapdiag.errors import EXIT_CANNOT_CHECK, EXIT_FINDING, EXIT_OK, LdapdiagError

if TYPE_CHECKING:
    from ldapdiag.config.model import MailServerConfig
    from ldapdiag.config.sources import SourceOptions


class LdapdiagGroup(click.Group):
    """A click group that turns every ldapdiag error into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        from ldapdiag.collector import fewer_collections

        fewer_collections()  # before the heavy imports: their objects stay alive too
        from ldapdiag.directory.faults import ANSWERED, MAX_WAIT

        token = MAX_WAIT.set(None)  # --timeout sets it for this invocation only
        answered = ANSWERED.set(set())  # servers that answered in this invocation
        try:
            return super().invoke(ctx)
        except LdapdiagError as error:
            click.echo(f"ldapdiag: error: {error}", err=True)
            ctx.exit(error.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("ldapdiag: interrupted", err=True)
            ctx.exit(130)
        except Exception as error:  # never a traceback for the user
            if os.environ.get("LDAPDIAG_DEBUG"):
                raise
            click.echo(
                f"ldapdiag: internal error ({type(error).__name__}); run with LDAPDIAG_DEBUG=1 for details",
                err=True,
            )
            ctx.exit(EXIT_CANNOT_CHECK)
        finally:
            MAX_WAIT.reset(token)
            ANSWERED.reset(answered)


def config_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The configuration-source options, the same on every command, given after its name."""
    options = [
        click.option(
            "--env-file",
            "env_files",
            multiple=True,
            type=click.Path(path_type=Path),
            help="A DMS env file (docker compose env_file syntax). Repeatable; later files win.",
        ),
        click.option(
            "--compose",
            type=click.Path(path_type=Path),
            help="A compose file: the mail server service's environment, env_file, hostname.",
        ),
        click.option("--service", help="The compose service (default: the one with LDAP)."),
        click.option(
            "--no-env",
            is_flag=True,
            help="Ignore the process environment (by default it overrides files).",
        ),
        click.option(
            "--set",
            "sets",
            multiple=True,
            metavar="KEY=VALUE",
            help="Override one variable (not passwords: use KEY__FILE=path).",
        ),
        click.option(
            "--dms-config",
            type=click.Path(path_type=Path),
            help="The directory mounted at /tmp/docker-mailserver (ldap-*.cf overrides...).",
        ),
        click.option(
            "--from-files",
            type=click.Path(path_type=Path),
            is_flag=False,
            flag_value="/",
            default=None,
            metavar="[ROOT]",
            help="Read the files DMS generated under ROOT (default /) instead of variables.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def source_options(params: dict[str, Any]) -> SourceOptions:
    """The SourceOptions named by a command's parameters (and removes them from `params`)."""
    from ldapdiag.config.sources import SourceOptions

    from_files = params.pop("from_files")
    return SourceOptions(
        env_files=tuple(params.pop("env_files")),
        compose=params.pop("compose"),
        service=params.pop("service"),
        use_environment=not params.pop("no_env"),
        sets=tuple(params.pop("sets")),
        dms_config=params.pop("dms_config"),
        from_files=Path(from_files) if from_files is not None else None,
    )


def load(options: SourceOptions) -> MailServerConfig:
    """The effective configuration for these options (inside a DMS container: its own files, said first)."""
    from ldapdiag.config.load import container_notice, container_root, load_config

    root = container_root(options, os.environ)
    if root is not None:  # on stderr, so that JSON on stdout stays parseable
        click.echo(f"ldapdiag: {container_notice(root, options.use_environment)}", err=True)
    return load_config(options, os.environ)


def with_config(command: Callable[..., int]) -> Callable[..., None]:
    """Add the config options, load the configuration, pass it on, exit with the returned code."""

    @config_options
    @functools.wraps(command)
    def wrapper(**params: Any) -> None:
        config = load(source_options(params))
        sys.exit(command(config, **params))

    return wrapper


def format_option(human: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--format HUMAN|json`, HUMAN by default: every command's output choice."""
    return click.option(
        "--format", "output_format", type=click.Choice([human, "json"]), default=human, show_default=True
    )


@click.group(cls=LdapdiagGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ldapdiag")
def main() -> None:
    """Predict what postfix, dovecot and saslauthd of a docker-mailserver do with your LDAP directory."""


@main.command("config", short_help="Show the files DMS would write, with each value's source.")
@format_option("text")
@with_config
def config_command(config: MailServerConfig, output_format: str) -> int:
    """Show the effective configuration as the files DMS would write, with each value's source."""
    from ldapdiag.report.config_report import render_json, render_text

    if output_format == "json":
        click.echo(render_json(config), nl=False)
    else:
        click.echo(render_text(config), nl=False)
        for finding in config.findings:
            click.echo(str(finding), err=True)
    return EXIT_FINDING if any(f.level in ("error", "warning") for f in config.findings) else EXIT_OK


@main.command("demo", short_help="Serve a scenario on a throwaway slapd and try ldapdiag.")
@click.argument("scenario", required=False, default="basic-setup")
@click.option("--keep", is_flag=True, help="Keep the server running until Ctrl-C.")
def demo_command(scenario: str, keep: bool) -> None:
    """Serve a scenario from scenarios/ on a throwaway slapd (or Samba AD DC) and run ldapdiag against it.

    `ldapdiag demo ad` serves scenarios/active-directory from a Samba AD DC (needs root and Samba).
    """
    from ldapdiag.demo.run import run_demo

    sys.exit(run_demo(scenario, keep=keep))


def connection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options for commands that talk to the directory: extra trust anchors."""
    options = [
        click.option(
            "--ca-file",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Trust this CA (PEM) in addition to what each component trusts.",
        ),
        click.option(
            "--ca-dir",
            type=click.Path(path_type=Path, file_okay=False),
            help="Trust the CAs in this directory (hashed, as for libldap's TLS_CACERTDIR).",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0.1),
            default=None,
            expose_value=False,
            callback=_set_timeout,
            metavar="SECONDS",
            help="Wait at most this long for any one answer (default: each component's own timeout, "
            "at most 15 s). A server that did not answer is not waited for again.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _set_timeout(ctx: click.Context, param: click.Parameter, value: float | None) -> None:
    """--timeout: the run-wide cap on every wait (ldapdiag.directory.faults.MAX_WAIT)."""
    from ldapdiag.directory.faults import MAX_WAIT

    if value is not None:
        MAX_WAIT.set(value)


@main.command("check", short_help="Connect, TLS, bind and base check per component.")
@format_option("table")
@connection_options
@with_config
def check_command(
    config: MailServerConfig, output_format: str, ca_file: Path | None, ca_dir: Path | None
) -> int:
    """Connect as postfix, dovecot and saslauthd would: TLS, bind, search base, server facts."""
    from ldapdiag.check import run_check

    return run_check(config, output_format=output_format, ca_file=ca_file, ca_dir=ca_dir)


explain_option = click.option(
    "--explain",
    is_flag=True,
    help="Also print each LDAP query in order, with an ldapsearch/postmap/doveadm command to repeat it.",
)


@main.command("lookup", short_help="Query a postfix map like postmap -q.")
@click.argument("map_name", metavar="MAP")
@click.argument("keys", nargs=-1, required=True, metavar="KEY...")
@format_option("text")
@explain_option
@connection_options
@with_config
def lookup_command(
    config: MailServerConfig,
    map_name: str,
    keys: tuple[str, ...],
    output_format: str,
    explain: bool,
    ca_file: Path | None,
    ca_dir: Path | None,
) -> int:
    """Query a postfix map like `postmap -q`: users, aliases, groups, domains, senders, a .cf file."""
    from ldapdiag.postfix.lookup_command import run_lookup

    return run_lookup(
        config,
        map_name,
        keys,
        output_format=output_format,
        ca_file=ca_file,
        ca_dir=ca_dir,
        explain=explain,
    )


def read_password(password_file: Path | None, password_stdin: bool, prompt: bool) -> str | None:
    """A password from a file, stdin or a prompt; never from argv. None: lookups only."""
    if password_file is not None:
        try:
            return password_file.read_text(encoding="utf-8").rstrip("\n")
        except (OSError, UnicodeDecodeError) as error:
            message = f"cannot read the password file: {type(error).__name__}"
            raise LdapdiagError(message, str(password_file)) from None
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if prompt:
        return click.prompt("Password", hide_input=True, default="", show_default=False)
    return None


def password_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Where a user's password comes from: a file, stdin or a prompt (never the command line)."""
    options = [
        click.option(
            "--password-file", type=click.Path(path_type=Path, dir_okay=False), help="Read it from a file."
        ),
        click.option("--password-stdin", is_flag=True, help="Read it from the first line of stdin."),
        click.option("--prompt", "password_prompt", is_flag=True, help="Ask for it (not echoed)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@main.command("login", short_help="Predict IMAP login and SMTP AUTH for a user.")
@click.argument("user")
@format_option("text")
@explain_option
@password_options
@connection_options
@with_config
def login_command(
    config: MailServerConfig,
    user: str,
    output_format: str,
    explain: bool,
    password_file: Path | None,
    password_stdin: bool,
    password_prompt: bool,
    ca_file: Path | None,
    ca_dir: Path | None,
) -> int:
    """Predict an IMAP login and SMTP AUTH for USER (dovecot passdb + userdb, saslauthd)."""
    from ldapdiag.dovecot.login_command import run_login

    password = read_password(password_file, password_stdin, password_prompt)
    return run_login(
        config,
        user,
        password,
        output_format=output_format,
        ca_file=ca_file,
        ca_dir=ca_dir,
        explain=explain,
        password_path=str(password_file) if password_file is not None else None,
    )


@main.command("user", short_help="The userdb lookup of dovecot LMTP (doveadm user).")
@click.argument("user")
@format_option("text")
@explain_option
@connection_options
@with_config
def user_command(
    config: MailServerConfig,
    user: str,
    output_format: str,
    explain: bool,
    ca_file: Path | None,
    ca_dir: Path | None,
) -> int:
    """The userdb lookup dovecot's LMTP makes for USER, as `doveadm user -u USER` shows it."""
    from ldapdiag.dovecot.login_command import run_user

    return run_user(
        config, user, output_format=output_format, ca_file=ca_file, ca_dir=ca_dir, explain=explain
    )


@main.command("resolve", short_help="Predict RCPT replies and final recipients.")
@click.argument("addresses", nargs=-1, required=True, metavar="ADDRESS...")
@click.option(
    "--mail-from",
    default=None,
    metavar="ADDR",
    help="Envelope sender of the probe transaction ('<>' for the null sender).",
)
@click.option(
    "--client",
    type=click.Choice(["external", "mynetworks"]),
    default="external",
    show_default=True,
    help="Where the SMTP client connects from.",
)
@format_option("table")
@explain_option
@connection_options
@with_config
def resolve_command(
    config: MailServerConfig,
    addresses: tuple[str, ...],
    mail_from: str | None,
    client: str,
    output_format: str,
    explain: bool,
    ca_file: Path | None,
    ca_dir: Path | None,
) -> int:
    """Predict postfix's answer to RCPT TO for each ADDRESS (one transaction) and where mail goes."""
    from ldapdiag.postfix.resolve_command import run_resolve

    return run_resolve(
        config,
        addresses,
        mail_from=mail_from,
        client=client,
        output_format=output_format,
        ca_file=ca_file,
        ca_dir=ca_dir,
        explain=explain,
    )


@main.command("send-as", short_help="Predict whether a login may send as an address.")
@click.argument("login")
@click.argument("senders", nargs=-1, required=True, metavar="SENDER...")
@format_option("table")
@explain_option
@connection_options
@with_config
def send_as_command(
    config: MailServerConfig,
    login: str,
    senders: tuple[str, ...],
    output_format: str,
    explain: bool,
    ca_file: Path | None,
    ca_dir: Path | None,
) -> int:
    """Predict whether LOGIN (after SMTP AUTH) may send as each SENDER on the submission port."""
    from ldapdiag.postfix.resolve_command import run_send_as

    return run_send_as(
        config,
        login,
        senders,
        output_format=output_format,
        ca_file=ca_file,
        ca_dir=ca_dir,
        explain=explain,
    )


@main.command("lint", short_help="Find broken filters and settings before they break mail.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["standard", "parsable", "github", "json"]),
    default="standard",
    show_default=True,
)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@click.option(
    "--dms-version",
    type=click.Choice(["15", "16"]),
    default="15",
    show_default=True,
    help="Also flag what this DMS version ignores or reads differently.",
)
@click.option(
    "--server/--no-server",
    default=False,
    show_default=True,
    help="Also read the directory (as postfix does): schema and sample data rules.",
)
@connection_options
@with_config
def lint_command(
    config: MailServerConfig,
    output_format: str,
    strict: bool,
    dms_version: str,
    server: bool,
    ca_file: Path | None,
    ca_dir: Path | None,
) -> int:
    """Lint the configuration: filters, placeholders, search bases, TLS, DMS pitfalls; with
    --server also the directory's schema and data. Exit 0 clean, 1 errors (or warnings with
    --strict), 2 could not check."""
    from ldapdiag.lint.command import run_lint

    return run_lint(
        config,
        output_format=output_format,
        strict=strict,
        dms_version=int(dms_version),
        server=server,
        ca_file=ca_file,
        ca_dir=ca_dir,
    )


def _jobs(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """--jobs: a whole number >= 1 (None: the default, the usable CPUs)."""
    from ldapdiag.errors import InputError

    if value is None:
        return None
    try:
        jobs = int(value)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise InputError(f"expected a whole number of worker processes, at least 1, not {value!r}", "--jobs")
    return jobs


@main.command("audit", short_help="Check every address the directory holds: what is broken.")
@format_option("text")
@click.option(
    "--jobs",
    metavar="N",
    callback=_jobs,
    help="Audit with N worker processes (default: the usable CPUs, at most 8; 1: in this process).",
)
@connection_options
@with_config
def audit_command(
    config: MailServerConfig,
    output_format: str,
    jobs: int | None,
    ca_file: Path | None,
    ca_dir: Path | None,
) -> int:
    """Enumerate every address postfix's tables can accept, resolve each through postfix and
    dovecot, and list what is broken: bounces, dangling aliases, loops, duplicates, mailboxes
    dovecot cannot find, logins that fail, truncated AD groups. --format json streams one JSON
    object per address (JSON Lines) and a summary. Exit 0 clean, 1 broken, 2 could not check."""
    from ldapdiag.audit.command import run_audit
    from ldapdiag.audit.parallel import default_jobs

    return run_audit(
        config,
        output_format=output_format,
        ca_file=ca_file,
        ca_dir=ca_dir,
        jobs=jobs if jobs is not None else default_jobs(),
    )


@main.command("run", short_help="Check expectation files (smoke tests) against the directory.")
@click.argument(
    "expect_files",
    nargs=-1,
    required=True,
    metavar="EXPECT.yaml...",
    type=click.Path(path_type=Path, dir_okay=False),
)
@format_option("text")
@click.option(
    "--junit",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Also write a JUnit XML report (for CI systems).",
)
@connection_options
@with_config
def run_command(
    config: MailServerConfig,
    expect_files: tuple[Path, ...],
    output_format: str,
    junit: Path | None,
    ca_file: Path | None,
    ca_dir: Path | None,
) -> int:
    """Check the expectations of each EXPECT.yaml (docs/expect-format.md): addresses delivered or
    rejected, send-as pairs, logins, map lookups, lint findings. One line per expectation. Exit 0
    all hold, 1 one does not, 2 something could not be checked."""
    from ldapdiag.run.command import run_expectations

    return run_expectations(
        config, expect_files, output_format=output_format, junit=junit, ca_file=ca_file, ca_dir=ca_dir
    )
