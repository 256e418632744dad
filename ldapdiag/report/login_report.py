"""Rendering of `ldapdiag login` and `ldapdiag user`: readable steps, or the stable JSON of issue 12.

Nothing here sees a password; the trace holds bind DNs only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from ldapdiag.directory.faults import summary
from ldapdiag.directory.trace import Trace
from ldapdiag.dovecot.ldap_search import DovecotSearch
from ldapdiag.dovecot.lookups import PassdbOutcome, UserdbOutcome
from ldapdiag.explain.model import Lookup
from ldapdiag.report.explain_report import explain_json, explain_section

if TYPE_CHECKING:
    from ldapdiag.dovecot.login_command import LoginReport, UserReport


# ------------------------------------------------------------------------------------------------
# JSON


def login_json(report: LoginReport) -> dict[str, object]:
    """The `login` object: user, passdb, userdb, imap_login, smtp_auth (issue 12)."""
    login = report.login
    passdb: dict[str, object] = {"result": None, "user": None, "reason": "dovecot is not used"}
    userdb: dict[str, object] = {"result": None, "fields": {}}
    if report.cannot_predict is not None and login is None and report.dovecot_used:
        passdb["reason"] = f"ldapdiag cannot predict this: {report.cannot_predict}"
    if login is not None:
        passdb = {"result": login.passdb.result, "user": login.passdb.user, "reason": login.passdb.reason}
        if login.userdb is not None:
            userdb = {"result": login.userdb.result, "fields": dict(login.userdb.fields)}
    smtp = report.smtp
    return {
        "user": report.user,
        "passdb": passdb,
        "userdb": userdb,
        "imap_login": report.imap_login,
        "smtp_auth": {
            "via": smtp.via,
            "ok": smtp.ok if report.password_given or smtp.cannot_start else None,
            "sasl_username": smtp.sasl_username,
            "reason": smtp.reason,
            "cannot_start": smtp.cannot_start.as_dict() if smtp.cannot_start else None,
        },
        **_fault_fields(report.trace),
    }


def _fault_fields(trace: Trace) -> dict[str, object]:
    """`incomplete` (the directory did not answer: exit 2) and `fault` (why, one line)."""
    faults = trace.faults.distinct()
    return {"incomplete": bool(faults), "fault": summary(faults)}


def user_json(report: UserReport) -> dict[str, object]:
    """The `user` object: user, result, fields (issue 12)."""
    outcome = report.outcome
    if outcome is None:
        return {
            "user": report.user,
            "result": None,
            "fields": {},
            "reason": report.cannot_predict,
            **_fault_fields(report.trace),
        }
    return {
        "user": report.user,
        "result": outcome.result,
        "fields": dict(outcome.fields),
        "reason": outcome.reason,
        **_fault_fields(report.trace),
    }


# ------------------------------------------------------------------------------------------------
# text


def _search_lines(search: DovecotSearch) -> list[str]:
    attrs = ",".join(search.attributes) if search.attributes else "(all)"
    lines = [f"    search base={search.base!r} scope={search.scope} filter={search.filter} attrs={attrs}"]
    if search.error is not None and not search.entries:
        lines.append(f"      -> {search.error}")
    else:
        count = len(search.entries)
        lines.append(f"      -> {count} entr{'y' if count == 1 else 'ies'}")
        lines += [f"         {entry.dn}" for entry in search.entries[:5]]
    return lines


def _passdb_lines(passdb: PassdbOutcome, given: str, checked: bool) -> list[str]:
    lines = ["dovecot passdb (IMAP login)"]
    for search in passdb.searches:
        lines += _search_lines(search)
    if passdb.bind_dn is not None:
        lines.append(f"    auth bind as {passdb.bind_dn}")
    if passdb.scheme is not None:
        lines.append(f"    password scheme: {passdb.scheme}" + ("" if checked else " (not checked)"))
    if passdb.user != given:
        lines.append(f"    login name: {given} -> {passdb.user}")
    lines.append(f"  result: {passdb.result}" + (f" ({passdb.reason})" if passdb.reason else ""))
    return lines


def _userdb_lines(userdb: UserdbOutcome, title: str) -> list[str]:
    lines = [title]
    for search in userdb.searches:
        lines += _search_lines(search)
    lines.append(f"  result: {userdb.result}" + (f" ({userdb.reason})" if userdb.reason else ""))
    lines += [f"    {key:<10}: {value}" for key, value in userdb.fields.items()]
    return lines


def login_text(report: LoginReport) -> str:
    """The readable report: each step with the queries sent and what came back."""
    lines = [f"login {report.user}"]
    if not report.password_given:
        lines.append("(no password given: lookups only)")
    lines.append("")
    if report.cannot_predict is not None:
        lines.append(f"ldapdiag cannot predict this configuration: {report.cannot_predict}")
        lines.append("")
    login = report.login
    if not report.dovecot_used:
        lines.append("dovecot: not used in this configuration (SMTP_ONLY / POSTFIX_DAGENT)")
    elif login is not None:
        lines += _passdb_lines(login.passdb, report.user, report.password_given)
        if login.userdb is not None:
            lines.append("")
            lines += _userdb_lines(login.userdb, f"dovecot userdb (after the passdb, as {login.userdb.user})")
        if report.password_given:
            lines.append("")
            lines.append(f"IMAP login: {'succeeds' if report.imap_login else 'FAILS'}")
    lines.append("")
    lines += _smtp_lines(report)
    return "\n".join(lines) + "\n"


def _smtp_lines(report: LoginReport) -> list[str]:
    smtp = report.smtp
    lines = [f"SMTP AUTH via {smtp.via}"]
    if smtp.saslauthd_user is not None:
        lines.append(f"    saslauthd receives user={smtp.saslauthd_user!r} realm={smtp.saslauthd_realm!r}")
    if smtp.lak is not None:
        if smtp.lak.filter is not None:
            base = smtp.lak.search_base
            lines.append(f"    search base={base!r} filter={smtp.lak.filter} -> {len(smtp.lak.dns)} entries")
        lines += [f"    {step}" for step in smtp.lak.steps]
    if smtp.sasl_username is not None:
        lines.append(f"    SASL username: {smtp.sasl_username}")
    if report.password_given or smtp.cannot_start is not None:
        verdict = "OK" if smtp.ok else "FAILS"
        lines.append(f"  result: {verdict}" + (f" ({smtp.reason})" if smtp.reason else ""))
    else:
        lines.append(f"  result: {smtp.reason}")
    return lines


def user_text(report: UserReport) -> str:
    """`doveadm user`-like output with the query behind it."""
    if report.outcome is None:
        return f"user {report.user}\nldapdiag cannot predict this: {report.cannot_predict}\n"
    lines = [f"user {report.user}", ""]
    lines += _userdb_lines(report.outcome, "dovecot userdb (doveadm user / LMTP)")
    return "\n".join(lines) + "\n"


def print_login(report: LoginReport, output_format: str, explain: Sequence[Lookup] | None = None) -> None:
    """Print the login report in the chosen format (--explain: the LDAP queries after it)."""
    if output_format == "json":
        document = login_json(report)
        if explain is not None:
            document["explain"] = explain_json(explain)
        click.echo(json.dumps(document, indent=2))
    else:
        text = login_text(report)
        if explain is not None:
            text += explain_section([(f"login {report.user}", explain)])
        click.echo(text, nl=False)


def print_user(report: UserReport, output_format: str, explain: Sequence[Lookup] | None = None) -> None:
    """Print the user report in the chosen format (--explain: the LDAP queries after it)."""
    if output_format == "json":
        document = user_json(report)
        if explain is not None:
            document["explain"] = explain_json(explain)
        click.echo(json.dumps(document, indent=2))
    else:
        text = user_text(report)
        if explain is not None:
            text += explain_section([(f"user {report.user}", explain)])
        click.echo(text, nl=False)
