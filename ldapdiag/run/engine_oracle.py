"""The Oracle backed by ldapdiag's engines: resolve, send-as, login, user, lookup and lint.

Each mail expectation is its own SMTP transaction (what a message to that one address does);
lint results are computed once per (server, DMS version).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ldapdiag.config.model import MailServerConfig
from ldapdiag.directory.faults import Fault, FaultLog, summary
from ldapdiag.directory.trace import Trace
from ldapdiag.dovecot.login_command import UNREACHABLE, LoginReport, _factory, predict_login, predict_user
from ldapdiag.postfix.lookup_command import lookup_keys
from ldapdiag.postfix.resolve_command import predict_resolve, predict_send_as
from ldapdiag.run.answers import (
    Delivered,
    LintAnswer,
    LintFinding,
    LoginAnswer,
    LookupAnswer,
    MailAnswer,
    SendAsAnswer,
    UserAnswer,
)


@dataclass
class EngineOracle:
    """Answers from ldapdiag's predictions for one configuration."""

    config: MailServerConfig
    ca_file: Path | None = None
    ca_dir: Path | None = None
    _lint: dict[tuple[bool, int], LintAnswer] = field(default_factory=dict)
    traces: list[Trace] = field(default_factory=list)  # every question's, for the faults (faults.py)

    def _trace(self) -> Trace:
        """A fresh trace for one question, kept so the run can list what could not be checked."""
        trace = Trace()
        if self.traces:  # a server that did not answer one question is not waited for again
            trace.faults.unanswered = self.traces[0].faults.unanswered
        self.traces.append(trace)
        return trace

    def fault_log(self) -> FaultLog:
        """Every fault and failover of the run's questions."""
        log = FaultLog()
        for trace in self.traces:
            log.faults += trace.faults.faults
            log.failovers.update(trace.faults.failovers)
        return log

    @property
    def ca_files(self) -> tuple[Path, ...]:
        return (self.ca_file,) if self.ca_file else ()

    @property
    def ca_dirs(self) -> tuple[Path, ...]:
        return (self.ca_dir,) if self.ca_dir else ()

    def mail(self, address: str, mail_from: str | None, client: str) -> MailAnswer:
        transaction = predict_resolve(
            self.config,
            [address],
            mail_from=mail_from,
            client=client,
            ca_files=self.ca_files,
            ca_dirs=self.ca_dirs,
            trace=self._trace(),
        )
        [outcome] = transaction.outcomes
        if outcome.faults:  # the directory did not answer: could not check (faults.py)
            return MailAnswer(
                "unknown", outcome.smtp_reply, (), f"could not check: {summary(outcome.faults)}"
            )
        recipients = tuple(
            Delivered(r.address, r.status, r.dsn, r.transport, r.lmtp_reply) for r in outcome.recipients
        )
        unknown = None
        if outcome.verdict == "unknown":
            notes = [s.detail for s in outcome.steps if s.action == "not_emulated"]
            unknown = notes[-1] if notes else "the outcome depends on something ldapdiag does not emulate"
        notes = [s.detail for s in outcome.steps if s.action == "cannot_start"]
        return MailAnswer(
            outcome.verdict, outcome.smtp_reply, recipients, unknown, notes[0] if notes else None
        )

    def send_as(self, login: str, senders: Sequence[str]) -> list[SendAsAnswer]:
        outcomes = predict_send_as(
            self.config, login, senders, ca_files=self.ca_files, ca_dirs=self.ca_dirs, trace=self._trace()
        )
        return [
            SendAsAnswer(o.sender, o.allowed, o.sasl_username, o.smtp_reply, _could_not(o.faults))
            for o in outcomes
        ]

    def login(self, user: str, password: str) -> LoginAnswer:
        trace = self._trace()
        report = predict_login(self.config, user, password, _factory(trace, self.ca_file, self.ca_dir), trace)
        return login_answer(report)

    def user(self, user: str) -> UserAnswer:
        trace = self._trace()
        report = predict_user(self.config, user, _factory(trace, self.ca_file, self.ca_dir), trace)
        outcome = report.outcome
        if outcome is None:
            return UserAnswer("internal_failure", cannot_check=report.cannot_predict)
        cannot = outcome.reason if outcome.reason.startswith(UNREACHABLE) else None
        cannot = cannot or _could_not(trace.faults.distinct())
        return UserAnswer(outcome.result, dict(outcome.fields), outcome.reason, cannot)

    def lookup(self, map_name: str, key: str) -> LookupAnswer:
        faults: list[list[Fault]] = []
        [result] = lookup_keys(
            self.config,
            map_name,
            [key],
            ca_files=self.ca_files,
            ca_dirs=self.ca_dirs,
            trace=self._trace(),
            faults=faults,
        )
        value = result.value if result.found else None
        return LookupAnswer(result.found, value, result.error, _could_not(faults[0]))

    def lint(self, server: bool, dms_version: int) -> LintAnswer:
        if (server, dms_version) not in self._lint:
            from ldapdiag.lint.command import lint

            result = lint(
                self.config,
                dms_version=dms_version,
                server=server,
                ca_files=self.ca_files,
                ca_dirs=self.ca_dirs,
            )
            findings = tuple(LintFinding(p.level, p.code, p.where, p.message) for p in result.problems)
            self._lint[(server, dms_version)] = LintAnswer(findings, tuple(result.not_checked))
        return self._lint[(server, dms_version)]


def _could_not(faults: list[Fault]) -> str | None:
    """`could not check: ...` when the directory did not answer (faults.py), else None."""
    text = summary(faults)
    return f"could not check: {text}" if text else None


def login_answer(report: LoginReport) -> LoginAnswer:
    """The IMAP and SMTP AUTH verdicts of a `login` prediction."""
    login = report.login
    cannot = report.cannot_predict
    if not report.dovecot_used:
        imap, imap_reason = False, "dovecot is not used in this configuration (SMTP_ONLY)"
    elif login is None:
        imap, imap_reason = False, cannot or "not predicted"
    else:
        imap = bool(report.imap_login)
        steps = [("passdb", login.passdb.result, login.passdb.reason)]
        if login.userdb is not None:
            steps.append(("userdb", login.userdb.result, login.userdb.reason))
        failed = [
            f"{name} {result}" + (f": {reason}" if reason else "")
            for name, result, reason in steps
            if result != "ok"
        ]
        imap_reason = "" if imap else "; ".join(failed) or "fails"
        for _, result, reason in steps:
            if result == "internal_failure" and reason.startswith(UNREACHABLE):
                cannot = cannot or reason
    smtp = report.smtp
    smtp_reason = f"via {smtp.via}" + ("" if smtp.ok or not smtp.reason else f": {smtp.reason}")
    cannot = cannot or _could_not(report.trace.faults.distinct())
    return LoginAnswer(imap, imap_reason, smtp.ok, smtp_reason, cannot)
