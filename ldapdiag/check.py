"""`ldapdiag check`: connect as postfix, dovecot and saslauthd would, and say what happens.

For each component - postfix tables grouped as postfix shares connections between them
(dict_ldap_conn_find()), dovecot unless SMTP_ONLY, saslauthd when it authenticates against
LDAP - the check reaches the server, judges the certificate under that component's policy,
binds, looks up the search base and reads the root DSE. Components are checked in parallel.
A program that cannot start with this configuration (startup.py: an smtpd or trivial-rewrite
dying on a table, dovecot's auth process, saslauthd rejecting its file) is an error of its
component ("X cannot start with this configuration: ITS ERROR"); dovecot and saslauthd are then
not connected (they never connect). A postfix table that no daemon opens is a finding.
Exit code: 0 all good, 1 a finding, 2 a component could not work (or could not be checked).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ldapdiag.config.model import MailServerConfig
from ldapdiag.directory.directory import Directory, RootDse
from ldapdiag.directory.faults import ANSWERED, FaultLog, capped, is_fault
from ldapdiag.directory.ldapconf import LdapConf, read_ldap_conf
from ldapdiag.directory.policies import connection_policies
from ldapdiag.directory.policy import ConnectionPolicy, PolicyFailure
from ldapdiag.directory.problems import DirectoryProblem, Problem, ProblemKind
from ldapdiag.directory.tls import CertificateVerdict, judge
from ldapdiag.directory.trace import Trace, TraceEvent
from ldapdiag.errors import EXIT_CANNOT_CHECK, EXIT_FINDING, EXIT_OK
from ldapdiag.lint.runner import LintResult, lint_config
from ldapdiag.startup import StartupProblem, startup_problems

DEFAULT_MAX_WAIT = 15.0  # seconds ldapdiag waits for one answer at most (dovecot itself waits 60)
Level = Literal["error", "finding", "note"]
_DYNAMIC = {
    "postfix": re.compile(r"%[%sSuUdD1-9]"),
    "dovecot": re.compile(r"%"),
    "saslauthd": re.compile(r"%"),
}
_LDAP_TABLE = re.compile(r"(?:^|[\s,])(?:proxy:)?ldap:(\S+?)(?=[\s,]|$)")


@dataclass(frozen=True)
class Finding:
    """A problem with its weight: error (the component fails), finding (works, but look), note."""

    level: Level
    problem: Problem

    def as_dict(self) -> dict[str, object]:
        return {"level": self.level, **self.problem.as_dict()}


@dataclass(frozen=True)
class BaseCheck:
    """Whether one file's search base exists (as its component's bind sees it)."""

    source: str
    base: str
    checked: bool  # False: the base depends on the looked-up key
    exists: bool | None
    code: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.source,
            "base": self.base,
            "checked": self.checked,
            "exists": self.exists,
            "code": self.code,
        }


@dataclass
class ComponentCheck:
    """The outcome for one component (one postfix connection group)."""

    component: str
    files: tuple[str, ...]
    policy: ConnectionPolicy | None
    server: str | None = None
    tls_mode: str = "none"
    verdict: CertificateVerdict | None = None
    tls_accepted: bool | None = None
    bind_code: int | None = None
    whoami: str | None = None
    bases: list[BaseCheck] = field(default_factory=list)
    root_dse: RootDse | None = None
    findings: list[Finding] = field(default_factory=list)
    trace: Trace = field(default_factory=Trace)

    @property
    def status(self) -> Level | Literal["ok"]:
        levels = {finding.level for finding in self.findings}
        return "error" if "error" in levels else "finding" if "finding" in levels else "ok"

    def add(self, level: Level, problem: Problem) -> None:
        self.findings.append(Finding(level, problem))


@dataclass
class CheckResult:
    """Everything `ldapdiag check` found."""

    components: list[ComponentCheck]
    lint: LintResult | None = None  # the configuration-only lint rules (`ldapdiag lint`)

    @property
    def exit_code(self) -> int:
        statuses = {component.status for component in self.components}
        if "error" in statuses:
            return EXIT_CANNOT_CHECK
        lint_errors = self.lint is not None and self.lint.exit_code() == EXIT_FINDING
        return EXIT_FINDING if "finding" in statuses or lint_errors else EXIT_OK

    @property
    def trace(self) -> list[TraceEvent]:
        return [event for component in self.components for event in component.trace.events]


def run_check(
    config: MailServerConfig,
    output_format: str = "table",
    ca_file: Path | None = None,
    ca_dir: Path | None = None,
    *,
    ldap_conf: LdapConf | None = None,
    max_wait: float | None = DEFAULT_MAX_WAIT,
) -> int:
    """Check every component's connection, print the report, return the exit code."""
    from ldapdiag.report.check_report import print_check

    result = check_config(
        config,
        ca_files=(ca_file,) if ca_file else (),
        ca_dirs=(ca_dir,) if ca_dir else (),
        ldap_conf=ldap_conf,
        max_wait=max_wait,
    )
    print_check(result, output_format)
    _print_faults(result)
    return result.exit_code


def _print_faults(result: CheckResult) -> None:
    """The errors that are faults (faults.py), one line each on stderr like every command's."""
    from ldapdiag.report.faults_report import print_faults

    log = FaultLog()
    for component in result.components:
        for finding in component.findings:
            if finding.level == "error" and is_fault(finding.problem):
                log.add(component.component, finding.problem)
    print_faults(log)


def check_config(
    config: MailServerConfig,
    *,
    ca_files: tuple[Path, ...] = (),
    ca_dirs: tuple[Path, ...] = (),
    ldap_conf: LdapConf | None = None,
    max_wait: float | None = DEFAULT_MAX_WAIT,
) -> CheckResult:
    """The checks, without printing."""
    max_wait = capped(max_wait)  # --timeout is read here: the checks run in worker threads
    groups = _groups(config, ldap_conf or read_ldap_conf())
    policies = [group[0] for group in groups if isinstance(group[0], ConnectionPolicy)]
    startup = startup_problems(config)
    stopped = {problem.component for problem in startup if problem.stops_component}

    answered = ANSWERED.get()  # shared with the worker threads: which servers answered in this run

    def one(group: Sequence[ConnectionPolicy | PolicyFailure]) -> ComponentCheck:
        ANSWERED.set(answered)
        if group[0].component in stopped:  # it never connects: nothing to check but why
            return ComponentCheck(group[0].component, tuple(item.source for item in group), None)
        return _check_group(group, ca_files, ca_dirs, max_wait)

    with ThreadPoolExecutor(max_workers=max(1, len(groups))) as pool:
        components = list(pool.map(one, groups))
    for component in components:
        _compare_tls(component, policies)
    _add_startup(components, startup)
    return CheckResult(components, lint_config(config, ldap_conf=ldap_conf))


def _add_startup(components: list[ComponentCheck], problems: Sequence[StartupProblem]) -> None:
    """Each cannot-start problem, first in the component (postfix: the group of the file at fault)."""
    for problem in reversed(problems):  # each goes first: the first problem ends up on top
        mine = [c for c in components if c.component == problem.component]
        target = next((c for c in mine if problem.file in c.files), mine[0] if mine else None)
        if target is None:
            target = ComponentCheck(problem.component, (problem.file,) if problem.file else (), None)
            components.append(target)
        target.findings.insert(0, Finding(problem.level, Problem(ProblemKind.CANNOT_START, problem.message)))


# ---------------------------------------------------------------------------------------------
# which connections


def used_tables(config: MailServerConfig) -> list[str]:
    """The ldap tables main.cf names (postfix opens no other); all of them if it names none."""
    named: list[str] = []
    for entry in config.postfix_main.entries:
        for match in _LDAP_TABLE.finditer(entry.value):
            if match.group(1) in config.postfix_tables and match.group(1) not in named:
                named.append(match.group(1))
    return named or list(config.postfix_tables)


def _saslauthd_uses_ldap(config: MailServerConfig) -> bool:
    """SASLAUTHD_MECHANISMS (DMS default ldap) picks saslauthd's backend; rimap, pam... skip LDAP."""
    mechanisms = config.settings.value("SASLAUTHD_MECHANISMS")
    return mechanisms is None or "ldap" in mechanisms.split()


def _groups(config: MailServerConfig, ldap_conf: LdapConf) -> list[list[ConnectionPolicy | PolicyFailure]]:
    """postfix tables sharing a connection key, then dovecot, then saslauthd."""
    wanted = set(used_tables(config))
    groups: dict[object, list[ConnectionPolicy | PolicyFailure]] = {}
    for item in connection_policies(config, ldap_conf):
        if item.component == "postfix" and item.source not in wanted:
            continue
        if item.component == "saslauthd" and not _saslauthd_uses_ldap(config):
            continue
        key = item.connection_key() if isinstance(item, ConnectionPolicy) else ("failure", item.source)
        groups.setdefault(key, []).append(item)
    return list(groups.values())


# ---------------------------------------------------------------------------------------------
# one group


def _check_group(
    group: Sequence[ConnectionPolicy | PolicyFailure],
    ca_files: tuple[Path, ...],
    ca_dirs: tuple[Path, ...],
    max_wait: float | None,
) -> ComponentCheck:
    first = group[0]
    files = tuple(item.source for item in group)
    if isinstance(first, PolicyFailure):
        check = ComponentCheck(first.component, files, None)
        check.add("error", Problem(ProblemKind.CONFIG, str(first.error)))
        return check
    policies = [item for item in group if isinstance(item, ConnectionPolicy)]
    check = ComponentCheck(first.component, files, first)
    for note in dict.fromkeys(note for policy in policies for note in policy.notes):
        check.add("note", Problem(ProblemKind.CONFIG, note))
    directory = Directory(first, trace=check.trace, ca_files=ca_files, ca_dirs=ca_dirs, max_wait=max_wait)
    try:
        _connect(check, directory)
        if check.status != "error":
            _inspect(check, directory, policies)
    except DirectoryProblem as failure:
        check.add("error", failure.problem)
    finally:
        directory.close()
    return check


def _connect(check: ComponentCheck, directory: Directory) -> None:
    policy = directory.policy
    _bind_findings(check, policy)
    try:
        session = directory.connect()
    except DirectoryProblem as failure:
        if failure.problem.phase == "bind":
            check.bind_code = failure.problem.code
        if isinstance(failure.verdict, CertificateVerdict):
            check.verdict, check.tls_accepted = failure.verdict, False
            check.tls_mode = "starttls" if policy.start_tls else "ldaps"
        check.add("error", _tls_hint(_waited(failure.problem, policy, directory.max_wait), policy))
        for problem in failure.also:
            check.add("error", problem)
        return
    check.server = session.url
    check.tls_mode = session.tls_mode
    check.verdict = session.verdict
    check.tls_accepted = session.judgement.accepted if session.judgement else None
    check.bind_code = session.bind_result
    for skipped in session.skipped:
        check.add(
            "finding", Problem(skipped.kind, f"skipped: {skipped.message}", skipped.server, skipped.code)
        )
    if session.judgement is not None:
        for tolerated in session.judgement.tolerated:
            level: Level = "finding"
            check.add(level, tolerated)


def _waited(problem: Problem, policy: ConnectionPolicy, max_wait: float | None) -> Problem:
    """Say so when ldapdiag gave up before the component would have."""
    if problem.kind is ProblemKind.TIMEOUT and max_wait and max_wait < policy.operation_timeout:
        message = f"{problem.message}; {policy.component} itself waits {policy.operation_timeout:g} s"
        return Problem(problem.kind, message, problem.server, problem.code)
    return problem


# the setting that turns StartTLS on, per component (file setting; DMS variable)
_STARTTLS_SWITCH = {
    "postfix": "start_tls = yes; DMS: LDAP_START_TLS=yes",
    "dovecot": "tls = yes; DMS: DOVECOT_TLS=yes",
    "saslauthd": "ldap_start_tls: yes; DMS: SASLAUTHD_LDAP_START_TLS=yes",
}


def _tls_hint(problem: Problem, policy: ConnectionPolicy) -> Problem:
    """A simple bind refused for want of TLS (Samba AD's default): say how to turn TLS on."""
    if problem.kind is not ProblemKind.STRONGER_AUTH_REQUIRED or problem.phase != "bind" or policy.uses_tls:
        return problem
    switch = _STARTTLS_SWITCH[policy.component]
    message = (
        f"{problem.message}; the server refuses simple binds without TLS: use StartTLS "
        f"({switch}) or LDAPS (an ldaps:// URL)"
    )
    return Problem(problem.kind, message, problem.server, problem.code, problem.phase)


def _bind_findings(check: ComponentCheck, policy: ConnectionPolicy) -> None:
    bind = policy.bind
    if bind.method == "simple" and not bind.dn:
        what = {
            "postfix": "bind = yes but bind_dn is empty",
            "dovecot": "dn is not set",
            "saslauthd": "ldap_bind_dn is not set",
        }[policy.component]
        check.add(
            "finding", Problem(ProblemKind.BIND_DN_MISSING, f"{policy.component} binds anonymously: {what}")
        )


def _inspect(check: ComponentCheck, directory: Directory, policies: Sequence[ConnectionPolicy]) -> None:
    check.whoami = directory.who_am_i()
    check.root_dse = directory.root_dse()
    for policy in policies:
        base = policy.search_base
        if _dynamic_base(policy.component, base):
            check.bases.append(BaseCheck(policy.source, base, checked=False, exists=None))
            continue
        outcome = directory.base_exists(base)
        check.bases.append(BaseCheck(policy.source, base, True, outcome.ok, outcome.result_code))
        if outcome.problem is not None:
            problem = outcome.problem
            message = f"{problem.message} ({policy.source})"
            check.add("error", Problem(problem.kind, message, problem.server, problem.code))


def _dynamic_base(component: str, base: str) -> bool:
    """A base that depends on the key (postfix db_common_parse(): any expansion but %%)."""
    if component == "postfix":
        return re.search(r"%[sSuUdD1-9]", base.replace("%%", "")) is not None
    return "%" in base  # dovecot %u/%d/%{...}, saslauthd %u/%U/%d/%r/%1-%9


# ---------------------------------------------------------------------------------------------
# certificate verdicts across components


def _compare_tls(check: ComponentCheck, policies: Sequence[ConnectionPolicy]) -> None:
    """'postfix accepts this certificate; dovecot (TLS_REQCERT demand) would refuse it'."""
    if check.verdict is None or check.policy is None or not check.tls_accepted:
        return
    tolerated = [f for f in check.findings if f.problem.kind in _CERT_KINDS]
    if not tolerated:
        return
    others = []
    for policy in policies:
        if policy.component == check.component or not policy.uses_tls:
            continue
        if not judge(check.verdict, policy.tls).accepted and policy.component not in [o[0] for o in others]:
            others.append((policy.component, policy.tls.describe()))
    accepts = f"{check.component} accepts this certificate ({check.policy.tls.describe()})"
    if check.verdict.no_anchors:
        accepts += f"; {check.component} takes CA certificates from {check.policy.tls.ca_origin}"
    refusers = "; ".join(f"{name} ({how}) would refuse it" for name, how in others)
    check.add(
        "finding",
        Problem(
            ProblemKind.CERT_ACCEPTED, f"{accepts}{'; ' + refusers if refusers else ''}", check.verdict.server
        ),
    )


_CERT_KINDS = {
    ProblemKind.CERT_UNTRUSTED,
    ProblemKind.CERT_EXPIRED,
    ProblemKind.CERT_NOT_YET_VALID,
    ProblemKind.HOSTNAME_MISMATCH,
}
