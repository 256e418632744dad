"""`ldapdiag login USER` and `ldapdiag user USER`: build the predictions, print them, pick the exit code."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ldapdiag.config.model import MailServerConfig
from ldapdiag.directory.trace import Trace
from ldapdiag.dovecot.engine import DovecotAuth, LoginOutcome, directory_factory
from ldapdiag.dovecot.ldap_search import DirectoryFactory
from ldapdiag.dovecot.lookups import CannotPredict, PassdbOutcome, UserdbOutcome
from ldapdiag.errors import EXIT_CANNOT_CHECK, EXIT_FINDING, EXIT_OK
from ldapdiag.postfix.maps import build_factory
from ldapdiag.postfix.params import service_params
from ldapdiag.postfix.startup import smtpd_cannot_start
from ldapdiag.saslauthd.smtp_auth import (
    SmtpAuthOutcome,
    cyrus_split,
    main_cf_value,
    sasl_cannot_start,
    sasl_mode,
    smtp_auth,
)

UNREACHABLE = "LDAP server not reachable"


@dataclass
class LoginReport:
    """Everything `ldapdiag login` tells."""

    user: str
    password_given: bool
    dovecot_used: bool
    login: LoginOutcome | None
    smtp: SmtpAuthOutcome
    trace: Trace
    cannot_predict: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def imap_login(self) -> bool | None:
        if not self.password_given:
            return None
        return self.login is not None and self.login.imap_login


@dataclass
class UserReport:
    """Everything `ldapdiag user` tells."""

    user: str
    outcome: UserdbOutcome | None
    trace: Trace
    cannot_predict: str | None = None


def _factory(trace: Trace, ca_file: Path | None, ca_dir: Path | None) -> DirectoryFactory:
    return directory_factory(trace, (ca_file,) if ca_file else (), (ca_dir,) if ca_dir else ())


def predict_login(
    config: MailServerConfig, user: str, password: str | None, factory: DirectoryFactory, trace: Trace
) -> LoginReport:
    """The IMAP login and SMTP AUTH predictions for one name (and password)."""
    login: LoginOutcome | None = None
    cannot: str | None = None
    if config.dovecot_ldap is not None:
        try:
            with DovecotAuth(config, factory) as auth:
                login = auth.login(user, password, service="imap")
        except CannotPredict as error:
            cannot = str(error)
    if password is None:
        smtp = _smtp_without_password(config, factory, user, login)
    else:
        smtp = smtp_auth(config, factory, user, password)
        if smtp.cannot_predict:
            cannot = cannot or smtp.reason
    smtp = _submission_smtpd(config, smtp)
    return LoginReport(
        user, password is not None, config.dovecot_ldap is not None, login, smtp, trace, cannot
    )


def _submission_smtpd(config: MailServerConfig, smtp: SmtpAuthOutcome) -> SmtpAuthOutcome:
    """The submission smtpd dies at start (a table postfix refuses): no AUTH at all."""
    if smtp.via == "none":
        return smtp
    factory = build_factory(config)
    try:
        failure = smtpd_cannot_start(factory, service_params(config, "submission"))
    finally:
        factory.pool.close()
    if failure is None:
        return smtp
    return replace(smtp, ok=False, reason=failure.describe(), lak=None, cannot_start=failure)


def _smtp_without_password(
    config: MailServerConfig, factory: DirectoryFactory, user: str, login: LoginOutcome | None
) -> SmtpAuthOutcome:
    """The SMTP AUTH path and the SASL name, without a password to check."""
    via = sasl_mode(config)
    reason = "no password given: not checked"
    if via == "none":
        return SmtpAuthOutcome("none", False, None, "SMTP AUTH is disabled (smtpd_sasl_auth_enable = no)")
    failure = sasl_cannot_start(config, factory)
    if failure is not None:
        return SmtpAuthOutcome(via, False, None, failure.describe(), cannot_start=failure)
    if via == "dovecot":
        name = login.passdb.user if login is not None and login.passdb.result == "ok" else None
        return SmtpAuthOutcome("dovecot", False, name, reason)
    canonical, name, realm = cyrus_split(user, main_cf_value(config, "smtpd_sasl_local_domain"))
    return SmtpAuthOutcome(via, False, canonical, reason, name, realm)


def exit_code(report: LoginReport) -> int:
    """0 expected success, 1 a finding (login fails, unknown user), 2 could not check."""
    if report.cannot_predict is not None or report.trace.faults.faults:
        return EXIT_CANNOT_CHECK
    steps: list[PassdbOutcome | UserdbOutcome] = []
    if report.login is not None:
        steps.append(report.login.passdb)
        if report.login.userdb is not None:
            steps.append(report.login.userdb)
    if any(s.result == "internal_failure" and s.reason.startswith(UNREACHABLE) for s in steps):
        return EXIT_CANNOT_CHECK
    if report.smtp.cannot_start is not None:
        return EXIT_FINDING
    if report.password_given:
        imap_ok = report.imap_login or not report.dovecot_used
        smtp_ok = report.smtp.ok or report.smtp.via == "none"
        return EXIT_OK if imap_ok and smtp_ok else EXIT_FINDING
    return EXIT_OK if all(s.result == "ok" for s in steps) else EXIT_FINDING


def run_login(
    config: MailServerConfig,
    user: str,
    password: str | None,
    *,
    output_format: str = "text",
    ca_file: Path | None = None,
    ca_dir: Path | None = None,
    explain: bool = False,
    password_path: str | None = None,
) -> int:
    """`ldapdiag login USER`: predict, print, return the exit code (password_path: for --explain)."""
    from ldapdiag.explain.dovecot import from_login_report
    from ldapdiag.report.faults_report import print_faults
    from ldapdiag.report.login_report import print_login

    trace = Trace()
    report = predict_login(config, user, password, _factory(trace, ca_file, ca_dir), trace)
    print_login(report, output_format, from_login_report(config, report, password_path) if explain else None)
    print_faults(trace.faults)
    return exit_code(report)


def predict_user(config: MailServerConfig, user: str, factory: DirectoryFactory, trace: Trace) -> UserReport:
    """The userdb lookup `doveadm user -u USER` (and LMTP) makes."""
    if config.dovecot_ldap is None:
        return UserReport(user, None, trace, "dovecot is not used in this configuration (SMTP_ONLY)")
    try:
        with DovecotAuth(config, factory) as auth:
            return UserReport(user, auth.user(user, service="lmtp"), trace)
    except CannotPredict as error:
        return UserReport(user, None, trace, str(error))


def run_user(
    config: MailServerConfig,
    user: str,
    *,
    output_format: str = "text",
    ca_file: Path | None = None,
    ca_dir: Path | None = None,
    explain: bool = False,
) -> int:
    """`ldapdiag user USER`: predict, print, return the exit code."""
    from ldapdiag.explain.dovecot import from_user_report
    from ldapdiag.report.faults_report import print_faults
    from ldapdiag.report.login_report import print_user

    trace = Trace()
    report = predict_user(config, user, _factory(trace, ca_file, ca_dir), trace)
    print_user(report, output_format, from_user_report(config, report) if explain else None)
    print_faults(trace.faults)
    if report.outcome is None or trace.faults.faults:
        return EXIT_CANNOT_CHECK
    if report.outcome.result == "internal_failure" and report.outcome.reason.startswith(UNREACHABLE):
        return EXIT_CANNOT_CHECK
    return EXIT_OK if report.outcome.result == "ok" else EXIT_FINDING
