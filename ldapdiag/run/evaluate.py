"""Check every expectation of a file against an Oracle, in file order, one Result each."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from ldapdiag.run import checks
from ldapdiag.run.answers import Oracle, SendAsAnswer
from ldapdiag.run.model import (
    Expectation,
    ExpectFile,
    LintExpectation,
    LoginExpectation,
    LookupExpectation,
    MailExpectation,
    Result,
    SaslNameExpectation,
    SendAsExpectation,
    UserExpectation,
)
from ldapdiag.run.passwords import PasswordUnavailable, read_password

NEUTRAL_SENDER = "someone@example.net"  # a sender for a sasl_username check given without senders


class Evaluator:
    """Asks the oracle what each expectation needs (send-as per login in one go) and compares."""

    def __init__(
        self, oracle: Oracle, environ: Mapping[str, str], blocked: Mapping[str, str] | None = None
    ) -> None:
        self.oracle = oracle
        self.environ = environ
        self.blocked = dict(blocked or {})  # component -> why it cannot be checked from here
        self._send_as: dict[tuple[str, str], SendAsAnswer] = {}

    def run(self, expect_file: ExpectFile) -> Iterator[Result]:
        for expectation in expect_file.expectations:
            yield self.check(expectation, expect_file)

    def check(self, exp: Expectation, expect_file: ExpectFile) -> Result:
        blocked = self._blocked(exp)
        if blocked is not None:
            return blocked
        if isinstance(exp, MailExpectation):
            return checks.check_mail(exp, self.oracle.mail(exp.address, exp.mail_from, exp.client))
        if isinstance(exp, SendAsExpectation):
            return checks.check_send_as(exp, self._send_as_answer(exp.login, exp.sender, expect_file))
        if isinstance(exp, SaslNameExpectation):
            sender = self._any_sender(exp.login, expect_file)
            return checks.check_sasl_name(exp, self._send_as_answer(exp.login, sender, expect_file))
        if isinstance(exp, LoginExpectation):
            return self._login(exp)
        if isinstance(exp, UserExpectation):
            return checks.check_user(exp, self.oracle.user(exp.user))
        if isinstance(exp, LookupExpectation):
            return checks.check_lookup(exp, self.oracle.lookup(exp.map, exp.key))
        return checks.check_lint(exp, self.oracle.lint(exp.server, exp.dms_version))

    def _login(self, exp: LoginExpectation) -> Result:
        subject = f"{exp.user} {exp.service}"
        expected = "succeeds" if exp.succeeds else "fails"
        try:
            password = read_password(exp.password, Path(exp.base_dir), self.environ)
        except PasswordUnavailable as error:
            return checks.error_result(exp.where, "login", subject, expected, str(error))
        return checks.check_login(exp, self.oracle.login(exp.user, password))

    def _send_as_answer(self, login: str, sender: str, expect_file: ExpectFile) -> SendAsAnswer:
        """The answer for (login, sender); the first call asks for every sender of this login at once."""
        if (login, sender) not in self._send_as:
            senders = [e.sender for e in expect_file.expectations if isinstance(e, SendAsExpectation)]
            senders = [s for s in senders if (login, s) not in self._send_as and s != sender]
            wanted = list(dict.fromkeys([sender, *senders]))
            for answer in self.oracle.send_as(login, wanted):
                self._send_as[(login, answer.sender)] = answer
        return self._send_as[(login, sender)]

    def _any_sender(self, login: str, expect_file: ExpectFile) -> str:
        for exp in expect_file.expectations:
            if isinstance(exp, SendAsExpectation) and exp.login == login:
                return exp.sender
        return login if "@" in login else NEUTRAL_SENDER

    def _blocked(self, exp: Expectation) -> Result | None:
        """A could-not-check result when a component the expectation needs is unreachable."""
        needs = components(exp)
        reasons = [self.blocked[c] for c in needs if c in self.blocked]
        if not reasons:
            return None
        kind, subject = _labels(exp)
        return checks.error_result(exp.where, kind, subject, "-", reasons[0])


def components(exp: Expectation) -> tuple[str, ...]:
    """The components whose LDAP server an expectation's check talks to."""
    if isinstance(exp, MailExpectation):
        return ("postfix", "dovecot")
    if isinstance(exp, SendAsExpectation | SaslNameExpectation | LookupExpectation):
        return ("postfix",)
    if isinstance(exp, LoginExpectation):
        return ("dovecot",) if exp.service == "imap" else ("saslauthd", "dovecot")
    if isinstance(exp, UserExpectation):
        return ("dovecot",)
    return ("postfix",) if exp.server else ()


def _labels(exp: Expectation) -> tuple[str, str]:
    if isinstance(exp, MailExpectation):
        return exp.outcome, exp.address
    if isinstance(exp, SendAsExpectation):
        return "send-as", f"{exp.login} as {exp.sender or '<>'}"
    if isinstance(exp, SaslNameExpectation):
        return "sasl-username", exp.login
    if isinstance(exp, LoginExpectation):
        return "login", f"{exp.user} {exp.service}"
    if isinstance(exp, UserExpectation):
        return "user", exp.user
    if isinstance(exp, LookupExpectation):
        return "lookup", f"{exp.map} {exp.key}"
    assert isinstance(exp, LintExpectation)
    return "lint", exp.code
