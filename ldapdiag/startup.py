"""Which programs of the mail server cannot start with this configuration (for `ldapdiag check`).

The engines say what a client meets when a program is down (postfix/startup.py for smtpd and
trivial-rewrite, dovecot/settings.py startup_refusal() for dovecot's auth process, the `refused`
saslauthd.conf for saslauthd); this gathers them per component, with what stops working:

- error (the component cannot work: `check` exits 2): an smtpd or trivial-rewrite that dies at
  start (no mail in or out), dovecot's auth process (no login, no delivery), saslauthd rejecting
  its file (no SMTP AUTH);
- finding (exit 1): an ldap table postfix refuses that no daemon of this configuration opens
  (main.cf names it nowhere smtpd or trivial-rewrite look): mail flows, but the file is broken.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ldapdiag.config.model import MailServerConfig
from ldapdiag.dovecot.settings import startup_refusal
from ldapdiag.postfix.ldap_config import LdapConfigError, read_ldap_table
from ldapdiag.postfix.maps import TableFactory, build_factory
from ldapdiag.postfix.params import service_params
from ldapdiag.postfix.startup import daemon_tables, rewrite_cannot_start, smtpd_cannot_start

Component = Literal["postfix", "dovecot", "saslauthd"]
_DOVECOT_EFFECT = (
    "no IMAP/POP3 login works, dovecot's LMTP defers every delivery (451 4.3.0 Temporary internal "
    "error), and with dovecot SASL the submission ports drop the connection at EHLO"
)
_SASLAUTHD_EFFECT = "every SMTP AUTH fails (535 5.7.8 Error: authentication failed: authentication failure)"


@dataclass(frozen=True)
class StartupProblem:
    """One program that cannot start (or one file a daemon would die on), for one component."""

    component: Component
    level: Literal["error", "finding"]
    message: str
    file: str | None = None  # the configuration file at fault, when known

    @property
    def stops_component(self) -> bool:
        """The component does not run at all: its connections need no checking."""
        return self.level == "error" and self.component != "postfix"


def startup_problems(config: MailServerConfig) -> list[StartupProblem]:
    """Every program of the configuration that cannot start, and postfix tables no daemon opens."""
    factory = build_factory(config)
    try:
        problems = _postfix(config, factory)
    finally:
        factory.pool.close()
    if config.dovecot_ldap is not None:
        fatal = startup_refusal(config.dovecot_ldap)
        if fatal is not None:
            message = f"dovecot's auth process cannot start with this configuration: Fatal: {fatal}"
            problems.append(
                StartupProblem("dovecot", "error", f"{message}; {_DOVECOT_EFFECT}", config.dovecot_ldap.path)
            )
    saslauthd = config.saslauthd
    mechanisms = (config.settings.value("SASLAUTHD_MECHANISMS") or "ldap").strip()
    if saslauthd is not None and saslauthd.refused and mechanisms in ("ldap", ""):
        message = f"saslauthd cannot start with this configuration: {saslauthd.refused}; {_SASLAUTHD_EFFECT}"
        problems.append(StartupProblem("saslauthd", "error", message, saslauthd.path))
    return problems


def _postfix(config: MailServerConfig, factory: TableFactory) -> list[StartupProblem]:
    failures = [
        smtpd_cannot_start(factory, service_params(config, "smtp")),
        smtpd_cannot_start(factory, service_params(config, "submission")),
        rewrite_cannot_start(factory, service_params(config, "smtp")),
    ]
    problems: list[StartupProblem] = []
    errors: set[str] = set()
    for failure in failures:
        if failure is None or failure.error in errors:
            continue  # another daemon dies on the same table first: said once
        errors.add(failure.error)
        message = (
            f"{failure.component} cannot start with this configuration: {failure.error}; "
            f"clients meet it at {failure.stage}: {failure.client_sees}"
        )
        problems.append(StartupProblem("postfix", "error", message, _file_in(config, failure.error)))
    first = next((problem.file for problem in problems), None)
    opened = {
        path for service in ("smtp", "submission") for path in daemon_tables(service_params(config, service))
    }
    for path, conf in config.postfix_tables.items():
        try:
            read_ldap_table(conf)
        except LdapConfigError as error:
            if f"fatal: {error}" not in errors:
                problems.append(_other_table(path, str(error), path in opened, first))
    return problems


def _other_table(path: str, error: str, opened: bool, first: str | None) -> StartupProblem:
    """A table postfix refuses besides the one the daemons die on first."""
    if opened:
        message = f"postfix also refuses {path} (fatal: {error}): its daemons die on it next"
        message += f", once {first} is fixed" if first else ""
        return StartupProblem("postfix", "error", message, path)
    message = (
        f"postfix refuses {path} (fatal: {error}); no smtpd or trivial-rewrite of this "
        "configuration opens it, so mail still flows: any postfix program that opens it dies"
    )
    return StartupProblem("postfix", "finding", message, path)


def _file_in(config: MailServerConfig, error: str) -> str | None:
    """The ldap table file a postfix fatal error names."""
    return next((path for path in config.postfix_tables if path in error), None)
