"""The scenarios' expectation files, checked against the REAL postfix, dovecot and saslauthd.

`ldapdiag run` answers from ldapdiag's engines. Here the same expect.yaml files are evaluated by
the same code, but with an Oracle whose answers come from the sandbox (tests/sandbox/: Debian 12's
postfix 3.7, dovecot 2.3 and saslauthd 2.1 with DMS v15's configuration, against the scenario's
slapd). An expectation that holds here holds for the real programs, not only for ldapdiag.

What the sandbox answers, and how:
- deliver/accept/bounce/reject/defer: one port-25 transaction per address (`Sandbox.rcpt`), the
  RCPT and DATA replies as sent, and the `to=<...> status=... dsn=...` lines of the queued message
  (the LMTP reply taken from "said: ... (in reply to ...)"). A `transport:` cannot be read from
  postfix's log (relay= names a host, not a transport): it is left out here.
- send_as / sasl_username: STARTTLS + AUTH PLAIN on port 587, MAIL FROM, RCPT TO (`submission`);
  the SASL name from postfix's log or its "not owned by user NAME" reply. The password is the
  login's account's one from passwords.yaml.
- logins: imap = `doveadm auth login` (passdb + userdb, as an IMAP login), smtp = AUTH on 587.
- users: `doveadm user -u` (exit 0 ok, 67 unknown, 75 internal failure), its fields.
- lookups: `postmap -q KEY ldap:/etc/postfix/ldap-MAP.cf` for DMS's maps; virtual_alias_maps as
  postmap given the parameter's tables in order. Other parameters and lint are not asked here.
The sandbox leaves out postgrey, amavis, milters and postscreen (tests/sandbox/README.md): a real
DMS with the basic setup's ENABLE_POSTGREY=1 greylists first attempts, which none of this models.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from ldapdiag.demo import load_scenario, serve_scenario
from ldapdiag.demo.ad_scenario import SLAPD_KIND, scenario_kind
from ldapdiag.demo.run import demo_config
from ldapdiag.postfix.sender_login import SEND_AS_RECIPIENT
from ldapdiag.postfix.transaction import DEFAULT_MAIL_FROM
from ldapdiag.report.run_report import failures_text
from ldapdiag.run.answers import (
    Delivered,
    LintAnswer,
    LoginAnswer,
    LookupAnswer,
    MailAnswer,
    SendAsAnswer,
    UserAnswer,
)
from ldapdiag.run.evaluate import Evaluator
from ldapdiag.run.model import (
    LintExpectation,
    LookupExpectation,
    MailExpectation,
    Result,
)
from ldapdiag.run.parse import parse_file
from tests.differential.resolve_runs import rcpt_from_mynetworks
from tests.ldap_server import SCENARIOS_DIR, requires_slapd
from tests.sandbox.fixtures import requires_sandbox
from tests.sandbox.harness import Sandbox, start_sandbox
from tests.sandbox.results import RcptProbe

pytestmark = [requires_slapd, requires_sandbox]

SCENARIOS = sorted(
    p.name
    for p in SCENARIOS_DIR.iterdir()
    if (p / "expect.yaml").is_file() and (p / "directory.ldif").is_file() and scenario_kind(p) == SLAPD_KIND
)
# login -> the passwords.yaml user whose password it types, where the local part is not that key
ACCOUNTS = {"really-simple": {"admin@shop.example.org": "shopadmin"}}
DOVEADM_RESULTS = {0: "ok", 67: "unknown", 75: "internal_failure"}
LMTP_SAID = re.compile(r"said: (?P<reply>.*?)(?: \(in reply to [^)]*\))?$")
SASL_LOGGED = re.compile(r"sasl_username=([^,\s]+)")
SASL_REPLIED = re.compile(r"not owned by user (\S+)$")
POSTMAP_FATAL = re.compile(r"postmap(?:\[\d+\])?: fatal: .*")
DMS_MAPS = ("users", "aliases", "groups", "domains", "senders")
MINIMUM_CHECKED = 10  # each scenario's file must have at least this many expectations the sandbox checks


class NotAsked(Exception):
    """An expectation the sandbox does not answer (lint, transport names, other parameters)."""


class SandboxOracle:
    """Answers expectations from the real programs in a running sandbox."""

    def __init__(self, sandbox: Sandbox, passwords: dict[str, str], accounts: dict[str, str]) -> None:
        self.sandbox = sandbox
        self.passwords = passwords
        self.accounts = accounts

    def mail(self, address: str, mail_from: str | None, client: str) -> MailAnswer:
        sender = mail_from or DEFAULT_MAIL_FROM
        if client == "mynetworks":
            probe = rcpt_from_mynetworks(self.sandbox, sender, (address,))
        else:
            probe = self.sandbox.rcpt(sender, [address])
        return mail_answer(probe, address)

    def send_as(self, login: str, senders: Sequence[str]) -> list[SendAsAnswer]:
        password = self._password(login)
        answers = []
        for sender in senders:
            probe = self.sandbox.submission(login, password, sender, SEND_AS_RECIPIENT)
            assert probe.auth.startswith("235"), f"AUTH as {login} failed: {probe.auth}"
            replies = [r for r in (probe.mail_from, probe.rcpt) if r is not None]
            refused = next((r for r in replies if not r.startswith("2")), None)
            answers.append(SendAsAnswer(sender, refused is None, _sasl_name(probe.log, refused), refused))
        return answers

    def login(self, user: str, password: str) -> LoginAnswer:
        if self.sandbox.config.dovecot_ldap is not None:
            real = self.sandbox.doveadm_auth_login(user, password)
            imap, imap_reason = real.exit_code == 0, real.reason
        else:
            imap, imap_reason = False, "no dovecot"
        auth = self.sandbox.submission(user, password, SEND_AS_RECIPIENT, SEND_AS_RECIPIENT).auth
        return LoginAnswer(imap, imap_reason, auth.startswith("235"), auth)

    def user(self, user: str) -> UserAnswer:
        real = self.sandbox.doveadm_user(user)
        result = DOVEADM_RESULTS.get(real.exit_code, f"exit {real.exit_code}")
        return UserAnswer(result, dict(real.fields), real.reason)

    def lookup(self, map_name: str, key: str) -> LookupAnswer:
        if map_name in DMS_MAPS:
            tables = [f"ldap:/etc/postfix/ldap-{map_name}.cf"]
        elif map_name == "virtual_alias_maps":
            tables = self.sandbox.run("postconf", "-h", map_name).stdout.replace(",", " ").split()
        else:
            raise NotAsked(map_name)
        before = len(self.sandbox.log("mail.log"))
        real = self.sandbox.run("postmap", "-q", key, *tables)
        if real.exit_code == 0:
            return LookupAnswer(True, real.stdout.rstrip("\n"))
        # postmap logs to maillog_file here; a failed query is "fatal: ... query error", exit 1
        logged = self.sandbox.log("mail.log")[before:] + real.stderr
        fatal = POSTMAP_FATAL.search(logged)
        if real.exit_code == 1 and fatal is None:
            return LookupAnswer(False, None)
        return LookupAnswer(False, None, fatal.group(0) if fatal else f"postmap exit {real.exit_code}")

    def lint(self, server: bool, dms_version: int) -> LintAnswer:
        raise NotAsked("lint")

    def _password(self, login: str) -> str:
        account = self.accounts.get(login, login.split("@", 1)[0])
        return self.passwords[account]


def mail_answer(probe: RcptProbe, address: str) -> MailAnswer:
    """The port-25 outcome of one address, in the terms of ldapdiag's `resolve`."""
    rcpt = probe.rcpt[address]
    if not rcpt.startswith("2"):
        return MailAnswer("defer" if rcpt.startswith("4") else "reject", rcpt)
    data = probe.data_reply or ""
    if not data.startswith("2"):
        return MailAnswer("defer" if data.startswith("4") else "reject", data)
    assert probe.settled, "the queue did not settle"
    recipients = tuple(Delivered(d.to, d.status, d.dsn, None, _lmtp_reply(d.reply)) for d in probe.deliveries)
    return MailAnswer("deliver", None, recipients)


def _lmtp_reply(text: str) -> str:
    match = LMTP_SAID.search(text)
    return match.group("reply") if match else text


def _sasl_name(log: Sequence[str], reply: str | None) -> str | None:
    for line in log:
        if (match := SASL_LOGGED.search(line)) is not None:
            return match.group(1)
    match = SASL_REPLIED.search(reply or "")
    return match.group(1) if match else None


def sandbox_results(folder: Path) -> list[Result]:
    """Every expectation of the scenario's expect.yaml the sandbox can answer, checked there."""
    parsed, problems = parse_file(folder / "expect.yaml")
    assert parsed is not None, problems
    scenario = load_scenario(folder)
    results: list[Result] = []
    with serve_scenario(folder) as directory:
        config = demo_config(folder, directory.ldap_url)
        with start_sandbox(config, directory) as sandbox:
            oracle = SandboxOracle(sandbox, dict(scenario.user_passwords), ACCOUNTS.get(folder.name, {}))
            evaluator = Evaluator(oracle, {})
            for expectation in parsed.expectations:
                if isinstance(expectation, LintExpectation):
                    continue
                if isinstance(expectation, MailExpectation) and expectation.transport is not None:
                    expectation = dataclasses.replace(expectation, transport=None)
                try:
                    results.append(evaluator.check(expectation, parsed))
                except NotAsked:
                    assert isinstance(expectation, LookupExpectation)
    return results


@pytest.mark.parametrize("name", SCENARIOS)
def test_expectation_file_holds_for_the_real_programs(name: str) -> None:
    results = sandbox_results(SCENARIOS_DIR / name)
    assert len(results) >= MINIMUM_CHECKED, [r.title for r in results]
    assert all(r.status == "pass" for r in results), "\n" + failures_text(results)
