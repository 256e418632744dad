"""When a program cannot even start with the configuration: ldapdiag's predictions vs the real programs.

Every case is a DMS configuration (scenarios/basic-setup plus a few `--set` values, a
`--dms-config` file or an edited dovecot-ldap.conf.ext read the way `--from-files` reads it) on
which a daemon dies at start or refuses its file. Each runs in its own sandbox (tests/sandbox: the
real postfix 3.7, dovecot 2.3, saslauthd 2.1) against the basic-setup directory, and the client's
view is probed step by step: an SMTP session that waits a few seconds for each reply (a daemon
that is down gives no reply at all: the session then stalls), LMTP delivery through postfix,
doveadm, testsaslauthd. ldapdiag's `resolve`, `send-as`, `login`, `user` and `check` must name
the same stalled step (or the same reply), the same component and, word for word, the error the
real program logged (postfix's `fatal:` line, dovecot's `auth: Fatal:` line).

Costs: a stalled step costs its wait (3 s; 8 s behind DMS's postscreen, whose pregreet test holds
a new client 6 s; 15 s for submission with dovecot SASL, where smtpd retries the dead auth socket
about 10 s before it exits), and dovecot's master restarts the dying auth process after 2, 4, 8...
s. The cases run in parallel sandboxes.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from ldapdiag.check import CheckResult, check_config
from ldapdiag.config.dovecot_conf import parse_dovecot_ldap_ext
from ldapdiag.config.load import load_config
from ldapdiag.config.model import MailServerConfig
from ldapdiag.config.sources import SourceOptions
from ldapdiag.demo import RunningDirectory, load_scenario, serve_scenario
from ldapdiag.directory.trace import Trace
from ldapdiag.dovecot.engine import directory_factory
from ldapdiag.dovecot.login_command import LoginReport, UserReport, predict_login, predict_user
from ldapdiag.postfix.resolve_command import predict_resolve, predict_send_as
from ldapdiag.postfix.sender_login import SendAsOutcome
from ldapdiag.postfix.transaction import Transaction
from tests.ldap_server import BASIC_SETUP, missing_ldap_tools
from tests.sandbox import layout
from tests.sandbox.harness import Sandbox, missing_requirements, start_sandbox

HOSTNAME = "mail.example.org"
USER = "alice@example.org"
SENDER = "someone@example.net"
SUBMISSION_RCPT = "bob@example.org"
PARALLEL = 4
WAIT = 3.0
POSTSCREEN_WAIT = 8.0  # postscreen_greet_wait (6 s) for a new client, then the hand-off
DOVECOT_SASL_WAIT = 15.0
FATAL = re.compile(r"postfix/(?P<daemon>[\w/-]+)\[\d+\]: (?P<error>fatal: .*)$")
POSTCONF_FATAL = re.compile(r"postconf: (?P<error>fatal: .*)$")
DOVECOT_FATAL = re.compile(r" auth: Fatal: (?P<error>.*)$")
DOVECOT_REASON = "dovecot's auth process cannot start with this configuration: Fatal: "
STAGE_STEP = {
    "connect": "connect",
    "greeting": "greeting",
    "MAIL FROM": "MAIL FROM",
    "RCPT TO": "RCPT TO",
    "EHLO": "EHLO (TLS)",
}

ALIASES_MISSING_EQUALS = """\
bind = yes
bind_dn = cn=admin,dc=example,dc=org
bind_pw = admin
query_filter = (&(mailAlias=%s)(mailEnabled=TRUE))
result_attribute mail
search_base = ou=people,dc=example,dc=org
server_host = mail.example.org
start_tls = no
version = 3
"""
# warnings only: postfix logs them and carries on (Unrecognized scope, start_tls needs version 3)
USERS_WARNINGS = """\
bind = yes
bind_dn = cn=admin,dc=example,dc=org
bind_pw = admin
query_filter = (&(mail=%s)(mailEnabled=TRUE))
result_attribute = mail
search_base = ou=people,dc=example,dc=org
server_host = mail.example.org
scope = bogus
start_tls = yes
version = 2
"""


@dataclass(frozen=True)
class Case:
    """A configuration, how to build it, and the probes that show what a client meets."""

    name: str
    sets: tuple[str, ...] = ()
    dms_config: dict[str, str] = field(default_factory=dict)  # file name -> text in a --dms-config folder
    dovecot_extra: str = ""  # lines appended to dovecot-ldap.conf.ext (a container copy's file)
    trust_ca: bool = False  # the sandbox's ldap.conf trusts the directory's CA (ldaps)
    postscreen: bool = False  # port 25 as DMS has it
    postfix_may_fail: bool = False  # `postfix start` itself fails
    probes: tuple[str, ...] = ()


POSTFIX_CASES = (
    Case(
        "postfix-users-template",
        ("LDAP_QUERY_FILTER_USER=(mail=%x)",),
        postscreen=True,
        probes=("smtp", "submission"),
    ),
    Case(
        "postfix-domains-template",
        ("LDAP_QUERY_FILTER_DOMAIN=(mail=%x)",),
        probes=("smtp", "smtp-null", "submission"),
    ),
    Case(
        "postfix-aliases-missing-equals",
        dms_config={"ldap-aliases.cf": ALIASES_MISSING_EQUALS},
        postfix_may_fail=True,
        probes=("smtp", "submission"),
    ),
    Case("postfix-senders-template", ("LDAP_QUERY_FILTER_SENDERS=(mail=%x)",), probes=("smtp",)),
    Case("postfix-bad-boolean-everywhere", ("LDAP_START_TLS=maybe",), probes=("smtp", "submission")),
)
CONTROL_CASES = (
    Case("postfix-warnings-only", dms_config={"ldap-users.cf": USERS_WARNINGS}, probes=("rcpt",)),
)
DOVECOT_CASES = (
    Case(
        "dovecot-bare-uris",
        ("ENABLE_SASLAUTHD=0", "DOVECOT_URIS=ldap.example.org"),
        probes=("rcpt", "user", "login", "submission"),
    ),
    Case(
        "dovecot-tls-on-ldaps",
        ("ENABLE_SASLAUTHD=0", "DOVECOT_TLS=yes", "DOVECOT_URIS=LDAPS"),
        trust_ca=True,
        probes=("rcpt", "user", "submission"),
    ),
    Case(
        "dovecot-unknown-setting",
        ("ENABLE_SASLAUTHD=0",),
        dovecot_extra="foo_bar = yes\n",
        probes=("rcpt", "login"),
    ),
)
SASLAUTHD_CASES = (
    Case("saslauthd-empty-value", ("SASLAUTHD_LDAP_MECH= ",), probes=("saslauthd", "submission")),
)
CASES = {case.name: case for case in (*POSTFIX_CASES, *CONTROL_CASES, *DOVECOT_CASES, *SASLAUTHD_CASES)}


@dataclass
class Run:
    """One case: what the real programs did, what ldapdiag said."""

    case: Case
    real: dict[str, Any] = field(default_factory=dict)
    mail_log: str = ""
    dovecot_log: str = ""
    postfix_error: str | None = None  # `postfix start`'s output when it failed
    alive: dict[str, bool] = field(default_factory=dict)
    resolve: Transaction | None = None
    resolve_null: Transaction | None = None
    send_as: SendAsOutcome | None = None
    login: LoginReport | None = None
    user: UserReport | None = None
    check: CheckResult | None = None
    seconds: float = 0.0
    report: str = ""


# ------------------------------------------------------------------------------------------------
# building and running a case


def build_config(case: Case, directory: RunningDirectory, tmp: Path) -> MailServerConfig:
    """ldapdiag's configuration of the case, exactly what the sandbox runs."""
    sets = [s.replace("LDAPS", directory.ldaps_url or "") for s in case.sets]
    folder = None
    if case.dms_config:
        folder = tmp / case.name
        folder.mkdir()
        for name, text in case.dms_config.items():
            (folder / name).write_text(text)
    options = SourceOptions(
        env_files=(BASIC_SETUP / "mailserver.env",),
        use_environment=False,
        dms_config=folder,
        sets=(f"LDAP_SERVER_HOST={directory.ldap_url}", f"OVERRIDE_HOSTNAME={HOSTNAME}", *sets),
    )
    config = load_config(options, {})
    if case.dovecot_extra and config.dovecot_ldap is not None:
        ldap = config.dovecot_ldap
        edited = parse_dovecot_ldap_ext(ldap.text + case.dovecot_extra, ldap.path, tolerant=True)
        config = replace(config, dovecot_ldap=edited)
    return config


def probe(sandbox: Sandbox, name: str, password: str, postscreen: bool) -> Any:
    """One probe of the client's view."""
    sasl_wait = DOVECOT_SASL_WAIT if sandbox.config.saslauthd is None else WAIT
    probes: dict[str, Callable[[], Any]] = {
        "smtp": lambda: sandbox.smtp_session(
            25, mail_from=SENDER, recipients=(USER,), wait=POSTSCREEN_WAIT if postscreen else WAIT
        ),
        "smtp-null": lambda: sandbox.smtp_session(25, mail_from="", recipients=(USER,), wait=WAIT),
        "submission": lambda: sandbox.smtp_session(
            587, mail_from=USER, recipients=(SUBMISSION_RCPT,), login=USER, password=password, wait=sasl_wait
        ),
        "rcpt": lambda: sandbox.rcpt(SENDER, [USER]),
        "user": lambda: sandbox.doveadm_user(USER),
        "login": lambda: sandbox.doveadm_auth_login(USER, password),
        "saslauthd": lambda: sandbox.testsaslauthd("alice", password, realm="example.org"),
    }
    return probes[name]()


def predict(run: Run, config: MailServerConfig, directory: RunningDirectory, password: str) -> None:
    """ldapdiag's predictions for the case (the same directory the sandbox reaches)."""
    ca_files = (directory.ca_file,) if directory.ca_file is not None else ()
    run.resolve = predict_resolve(config, [USER], ca_files=ca_files)
    run.resolve_null = predict_resolve(config, [USER], mail_from="<>", ca_files=ca_files)
    run.send_as = predict_send_as(config, USER, [USER], ca_files=ca_files)[0]
    trace = Trace()
    run.login = predict_login(config, USER, password, directory_factory(trace, ca_files), trace)
    run.user = predict_user(config, USER, directory_factory(trace, ca_files), trace)
    run.check = check_config(config, ca_files=ca_files, max_wait=5.0)


def run_case(case: Case, directory: RunningDirectory, tmp: Path, password: str) -> Run:
    """The sandbox's answers and ldapdiag's, for one case."""
    begin = time.monotonic()
    run = Run(case)
    config = build_config(case, directory, tmp)
    ldap_conf = f"TLS_CACERT\t{layout.LDAP_CA_FILE}\n" if case.trust_ca else None
    with start_sandbox(
        config,
        directory,
        ldap_conf=ldap_conf,
        postscreen=case.postscreen,
        postfix_may_fail=case.postfix_may_fail,
    ) as sandbox:
        run.postfix_error = sandbox.postfix_error
        try:
            for name in case.probes:
                run.real[name] = probe(sandbox, name, password, case.postscreen)
            run.alive = sandbox.alive()
        finally:
            run.mail_log = sandbox.log("mail.log")
            run.dovecot_log = sandbox.log("dovecot.log")
            run.report = sandbox.report(tail=30, dumps=False)
    predict(run, config, directory, password)
    run.seconds = time.monotonic() - begin
    return run


_LOCK = threading.Lock()
_RUNS: dict[str, Run] = {}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """Every case, run once (in parallel sandboxes)."""
    for problem in (missing_ldap_tools(), missing_requirements()):
        if problem:
            pytest.skip(f"the cannot-start differential tests need the sandbox and slapd: {problem}")
    with _LOCK:
        if not _RUNS:
            tmp = tmp_path_factory.mktemp("cannot-start")
            password = load_scenario(BASIC_SETUP).user_passwords["alice"]
            with serve_scenario(BASIC_SETUP) as directory, ThreadPoolExecutor(PARALLEL) as pool:
                futures = {
                    name: pool.submit(run_case, case, directory, tmp, password)
                    for name, case in CASES.items()
                }
                _RUNS.update({name: future.result() for name, future in futures.items()})
    yield _RUNS


# ------------------------------------------------------------------------------------------------
# reading the real programs' answers


def fatal_lines(log: str, daemon: str) -> list[str]:
    """The `fatal:` texts one postfix daemon (smtpd, submission/smtpd, trivial-rewrite) logged."""
    return [
        m.group("error") for m in map(FATAL.search, log.splitlines()) if m and m.group("daemon") == daemon
    ]


def real_postfix_error(run: Run, component: str) -> str | None:
    """What the postfix program that cannot start said: postconf's fatal (postfix does not run),
    or the daemon's `fatal:` line in mail.log."""
    if component == "postfix":
        found = [
            m.group("error") for m in map(POSTCONF_FATAL.search, (run.postfix_error or "").splitlines()) if m
        ]
    else:
        found = fatal_lines(run.mail_log, component.removeprefix("postfix/"))
    return found[0] if found else None


def dovecot_fatal(log: str) -> str | None:
    """The text dovecot's auth process died with (`auth: Fatal: TEXT`)."""
    found = [m.group("error") for m in map(DOVECOT_FATAL.search, log.splitlines()) if m]
    return found[0] if found else None


def explain(run: Run) -> str:
    lines = [f"case {run.case.name} ({run.seconds:.1f} s)"]
    for name, value in run.real.items():
        lines.append(f"real {name}: {value}")
    for label, transaction in (("resolve", run.resolve), ("resolve <>", run.resolve_null)):
        if transaction is not None:
            outcome = transaction.outcomes[0]
            lines.append(f"ldapdiag {label}: {outcome.verdict} {outcome.smtp_reply} {outcome.cannot_start}")
    if run.send_as is not None:
        lines.append(f"ldapdiag send-as: {run.send_as.smtp_reply} {run.send_as.cannot_start}")
    return "\n".join(lines) + "\n" + run.report


def component_problems(run: Run, component: str) -> list[tuple[str, str, str]]:
    """(level, kind, message) of one component's problems in ldapdiag check."""
    assert run.check is not None
    return [
        (f.level, f.problem.kind.slug, f.problem.message)
        for c in run.check.components
        if c.component == component
        for f in c.findings
    ]


# ------------------------------------------------------------------------------------------------
# postfix: smtpd or trivial-rewrite dies at start


def _session_matches(run: Run, probe_name: str, cannot: Any, component: str) -> None:
    session = run.real[probe_name]
    stalled = session.stalled
    assert cannot is not None, explain(run)
    assert stalled is not None, f"the real session never stalled\n{explain(run)}"
    assert stalled.command == STAGE_STEP[cannot.stage], explain(run)
    assert stalled.outcome == ("refused" if cannot.stage == "connect" else "timeout"), explain(run)
    assert cannot.component == component, explain(run)
    assert real_postfix_error(run, component) == cannot.error, explain(run)
    assert (run.postfix_error is not None) is (component == "postfix"), explain(run)


@pytest.mark.parametrize("name", [c.name for c in POSTFIX_CASES])
def test_port_25_stalls_where_ldapdiag_says(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    assert run.resolve is not None
    outcome = run.resolve.outcomes[0]
    assert (outcome.verdict, outcome.smtp_reply, outcome.recipients) == ("defer", None, []), explain(run)
    cannot = outcome.cannot_start
    _session_matches(run, "smtp", cannot, cannot.component if cannot else "postfix/smtpd")
    greeting = run.real["smtp"].steps[0]
    if cannot is not None and cannot.stage == "greeting":
        # nothing, or (postscreen, a new client) the first banner line only: never a full greeting
        assert greeting.reply in ("", f"220-{HOSTNAME} ESMTP\r\n"), explain(run)
        assert (greeting.reply != "") is run.case.postscreen, explain(run)


@pytest.mark.parametrize("name", [c.name for c in POSTFIX_CASES if "smtp-null" in c.probes])
def test_null_sender_stalls_at_mail_from_too(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    assert run.resolve_null is not None
    cannot = run.resolve_null.outcomes[0].cannot_start
    assert cannot is not None and cannot.stage == "MAIL FROM", explain(run)
    assert run.resolve_null.mail_reply is None
    _session_matches(run, "smtp-null", cannot, "postfix/trivial-rewrite")


@pytest.mark.parametrize("name", [c.name for c in POSTFIX_CASES if "submission" in c.probes])
def test_submission_stalls_where_send_as_says(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    assert run.send_as is not None and run.login is not None
    cannot = run.send_as.cannot_start
    assert (run.send_as.allowed, run.send_as.smtp_reply) == (False, None), explain(run)
    _session_matches(run, "submission", cannot, cannot.component if cannot else "postfix/submission/smtpd")
    real_auth = run.real["submission"].reply("AUTH")
    assert run.login.smtp.ok is (real_auth is not None and real_auth.startswith("235")), explain(run)
    if real_auth is None:
        assert run.login.smtp.cannot_start == cannot


@pytest.mark.parametrize("name", [c.name for c in POSTFIX_CASES])
def test_check_names_the_dead_daemon_with_its_error(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    errors = [
        m
        for level, kind, m in component_problems(run, "postfix")
        if (level, kind) == ("error", "cannot-start")
    ]
    components = ("postfix", "postfix/smtpd", "postfix/trivial-rewrite")
    logged = [error for c in components if (error := real_postfix_error(run, c))]
    assert errors and logged, explain(run)
    assert any(f"cannot start with this configuration: {logged[0]};" in error for error in errors), errors
    assert run.check is not None and run.check.exit_code == 2


def test_warnings_alone_do_not_stop_postfix(runs: dict[str, Run]) -> None:
    run = runs["postfix-warnings-only"]
    real = run.real["rcpt"]
    assert run.resolve is not None
    outcome = run.resolve.outcomes[0]
    assert real.rcpt[USER] == outcome.rcpt_reply == "250 2.1.5 Ok", explain(run)
    assert outcome.cannot_start is None and outcome.verdict == "deliver"
    assert [d.status for d in real.deliveries] == [r.status for r in outcome.recipients] == ["sent"]
    assert not fatal_lines(run.mail_log, "smtpd") and "Unrecognized value bogus" in run.mail_log
    assert all(kind != "cannot-start" for _, kind, _ in component_problems(run, "postfix"))


# ------------------------------------------------------------------------------------------------
# dovecot: the auth process dies


@pytest.mark.parametrize("name", [c.name for c in DOVECOT_CASES])
def test_dovecot_fatal_is_predicted_word_for_word(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    assert run.user is not None and run.user.outcome is not None
    real = dovecot_fatal(run.dovecot_log)
    assert real is not None, explain(run)
    assert run.user.outcome.result == "internal_failure"
    assert run.user.outcome.reason == DOVECOT_REASON + real, explain(run)
    assert run.alive == {"dovecot": True}, "dovecot's master keeps running; only its auth process dies"
    errors = [
        m
        for level, kind, m in component_problems(run, "dovecot")
        if (level, kind) == ("error", "cannot-start")
    ]
    assert errors and f"Fatal: {real};" in errors[0]


@pytest.mark.parametrize("name", [c.name for c in DOVECOT_CASES])
def test_lmtp_defers_as_predicted(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    real = run.real["rcpt"]
    assert run.resolve is not None
    outcome = run.resolve.outcomes[0]
    assert real.rcpt[USER] == outcome.rcpt_reply == "250 2.1.5 Ok" and outcome.cannot_start is None
    [delivery] = real.deliveries
    [recipient] = outcome.recipients
    assert (delivery.status, delivery.dsn) == (recipient.status, recipient.dsn) == ("deferred", "4.3.0")
    said = (
        f"host {HOSTNAME}[/var/run/dovecot/lmtp] said: {recipient.lmtp_reply} (in reply to RCPT TO command)"
    )
    assert delivery.reply == said, explain(run)
    assert recipient.userdb is not None and recipient.userdb["result"] == "internal_failure"


@pytest.mark.parametrize("name", [c.name for c in DOVECOT_CASES if {"user", "login"} & set(c.probes)])
def test_doveadm_fails_as_predicted(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    assert run.login is not None and run.login.login is not None
    for probe_name in {"user", "login"} & set(run.case.probes):
        real = run.real[probe_name]
        assert (real.success, real.exit_code) == (False, 75), explain(run)  # EX_TEMPFAIL: no answer
    assert run.login.imap_login is False and run.login.login.passdb.result == "internal_failure"


@pytest.mark.parametrize("name", [c.name for c in DOVECOT_CASES if "submission" in c.probes])
def test_dovecot_sasl_drops_the_submission_client(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    assert run.send_as is not None and run.login is not None
    cannot = run.send_as.cannot_start
    stalled = run.real["submission"].stalled
    assert cannot is not None and stalled is not None, explain(run)
    assert (cannot.component, cannot.stage) == ("dovecot/auth", "EHLO")
    assert (stalled.command, stalled.outcome) == (STAGE_STEP["EHLO"], "closed"), explain(run)
    assert fatal_lines(run.mail_log, "submission/smtpd") == ["fatal: no SASL authentication mechanisms"]
    assert cannot.error == f"Fatal: {dovecot_fatal(run.dovecot_log)}"
    assert run.login.smtp.ok is False and run.login.smtp.cannot_start == cannot


# ------------------------------------------------------------------------------------------------
# saslauthd rejects its file


def test_saslauthd_rejected_file_fails_every_auth(runs: dict[str, Run]) -> None:
    run = runs["saslauthd-empty-value"]
    assert run.send_as is not None and run.login is not None
    assert run.real["saslauthd"].ok is False, explain(run)
    real_auth = run.real["submission"].reply("AUTH")
    cannot = run.send_as.cannot_start
    assert cannot is not None and cannot.component == "saslauthd"
    assert real_auth == run.send_as.smtp_reply == cannot.reply, explain(run)
    assert run.login.smtp.ok is False and run.login.smtp.cannot_start == cannot
    errors = [
        m
        for level, kind, m in component_problems(run, "saslauthd")
        if (level, kind) == ("error", "cannot-start")
    ]
    assert errors and "ldap_mech: empty value" in errors[0]
