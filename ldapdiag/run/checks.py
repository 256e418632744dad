"""Compare one expectation with the answer it got: a Result with expected, actual and a readable diff."""

from __future__ import annotations

from collections import Counter

from ldapdiag.run.answers import (
    Delivered,
    LintAnswer,
    LoginAnswer,
    LookupAnswer,
    MailAnswer,
    SendAsAnswer,
    UserAnswer,
)
from ldapdiag.run.model import (
    LintExpectation,
    LoginExpectation,
    LookupExpectation,
    MailExpectation,
    Result,
    SaslNameExpectation,
    SendAsExpectation,
    Status,
    UserExpectation,
)

_OUTCOME_TEXT = {
    "deliver": "delivered",
    "accept": "accepted (queued)",
    "bounce": "accepted, then bounced",
    "reject": "rejected (5xx)",
    "defer": "deferred (4xx)",
}


def _result(
    exp_where: str, kind: str, subject: str, ok: bool, expected: str, actual: str, *details: str
) -> Result:
    status: Status = "pass" if ok else "fail"
    return Result(exp_where, kind, subject, status, expected, actual, tuple(d for d in details if d))


def error_result(where: str, kind: str, subject: str, expected: str, reason: str) -> Result:
    """An expectation that could not be checked."""
    return Result(where, kind, subject, "error", expected, f"could not check: {reason}")


# --- mail -------------------------------------------------------------------------------------


def expected_mail(exp: MailExpectation) -> str:
    text = _OUTCOME_TEXT[exp.outcome]
    if exp.to is not None:
        text += " to " + (", ".join(exp.to) or "(nobody)")
    if exp.transport is not None:
        text += f" via {exp.transport}"
    if exp.reply is not None:
        text += f" with {exp.reply!r}..."
    if exp.client != "external" or exp.mail_from is not None:
        text += f" (from {exp.mail_from or 'the default sender'}, {exp.client} client)"
    return text


def _recipient_text(recipient: Delivered) -> str:
    status = recipient.status or f"handed to {recipient.transport or 'its transport'}"
    return " ".join(part for part in (recipient.address, status, recipient.dsn or "") if part)


def actual_mail(answer: MailAnswer) -> str:
    if answer.verdict == "deliver":
        return "accepted -> " + (", ".join(_recipient_text(r) for r in answer.recipients) or "no recipient")
    reply = answer.smtp_reply or "no reply" + (f" ({answer.note})" if answer.note else "")
    if answer.verdict == "reject":
        return f"rejected: {reply}"
    if answer.verdict == "defer":
        return f"deferred: {reply}"
    return f"unknown: {answer.unknown_reason}"


def check_mail(exp: MailExpectation, answer: MailAnswer) -> Result:
    expected, actual = expected_mail(exp), actual_mail(answer)
    if answer.verdict == "unknown":
        reason = f"ldapdiag cannot predict it: {answer.unknown_reason}"
        return error_result(exp.where, exp.outcome, exp.address, expected, reason)
    if exp.outcome in ("reject", "defer"):
        problems = _refusal_problems(exp, answer)
    elif answer.verdict != "deliver":
        problems = [""]  # not accepted: the expected and actual lines say it all
    else:
        unknown = _unknown_fate(exp, answer)
        if unknown is not None:
            return error_result(exp.where, exp.outcome, exp.address, expected, unknown)
        problems = _accepted_problems(exp, answer)
    return _result(exp.where, exp.outcome, exp.address, not problems, expected, actual, *problems)


def _refusal_problems(exp: MailExpectation, answer: MailAnswer) -> list[str]:
    """reject/defer: the verdict (shown by the expected/actual lines) and the reply's start."""
    if answer.verdict != exp.outcome:
        return [""]
    if exp.reply is not None and not (answer.smtp_reply or "").startswith(exp.reply):
        return [f"the reply does not start with {exp.reply!r}"]
    return []


def _unknown_fate(exp: MailExpectation, answer: MailAnswer) -> str | None:
    """Why deliver/bounce cannot be judged: a recipient's fate ldapdiag does not know."""
    statuses = {r.status for r in answer.recipients}
    if None not in statuses:
        return None
    if exp.outcome == "deliver" and statuses <= {None, "sent"}:
        unknown = ", ".join(sorted({r.transport or "?" for r in answer.recipients if r.status is None}))
        return f"what {unknown} does with the mail is not known to ldapdiag (expect accept: instead)"
    if exp.outcome == "bounce" and "bounced" not in statuses:
        return "the delivery outcome is not known to ldapdiag"
    return None


def _accepted_problems(exp: MailExpectation, answer: MailAnswer) -> list[str]:
    """deliver/accept/bounce of an accepted address: statuses, bounce reply, recipients, transport."""
    problems: list[str] = []
    if exp.outcome == "deliver":
        not_sent = [_recipient_text(r) for r in answer.recipients if r.status != "sent"]
        if not_sent or not answer.recipients:
            problems.append("not delivered: " + (", ".join(not_sent) or "no final recipient"))
    if exp.outcome == "bounce":
        bounced = [r for r in answer.recipients if r.status == "bounced"]
        if not bounced:
            problems.append("nothing bounced")
        elif exp.reply is not None and not any((r.reply or "").startswith(exp.reply) for r in bounced):
            replies = "; ".join(f"{r.address}: {r.reply}" for r in bounced)
            problems.append(f"no bounce reply starts with {exp.reply!r} ({replies})")
    if exp.to is not None:
        problems += _recipient_diff(exp.to, tuple(r.address for r in answer.recipients))
    if exp.transport is not None:
        others = sorted({r.transport or "?" for r in answer.recipients if r.transport != exp.transport})
        if others:
            problems.append(f"transport: {', '.join(others)}, not {exp.transport}")
    return problems


def _recipient_diff(expected: tuple[str, ...], actual: tuple[str, ...]) -> list[str]:
    missing = Counter(expected) - Counter(actual)
    extra = Counter(actual) - Counter(expected)
    lines = []
    if missing:
        lines.append("missing recipients: " + ", ".join(sorted(missing.elements())))
    if extra:
        lines.append("unexpected recipients: " + ", ".join(sorted(extra.elements())))
    folded_missing = {a.lower() for a in missing}
    if folded_missing and folded_missing == {a.lower() for a in extra}:
        lines.append("(only the letter case differs: postfix queues the address as the directory spells it)")
    return lines


# --- send-as ----------------------------------------------------------------------------------


def check_send_as(exp: SendAsExpectation, answer: SendAsAnswer) -> Result:
    expected = "allowed" if exp.allowed else "denied" + (f" with {exp.reply!r}..." if exp.reply else "")
    actual = "allowed" if answer.allowed else f"denied: {answer.smtp_reply or 'no reply'}"
    subject = f"{exp.login} as {exp.sender or '<>'}"
    if answer.cannot_check is not None:
        return error_result(exp.where, "send-as", subject, expected, answer.cannot_check)
    problems = []
    if answer.allowed != exp.allowed:
        problems.append(f"postfix compares sasl_username={answer.sasl_username}")
    elif exp.reply is not None and not (answer.smtp_reply or "").startswith(exp.reply):
        problems.append(f"the reply does not start with {exp.reply!r}")
    ok = answer.allowed == exp.allowed and not problems
    return _result(exp.where, "send-as", subject, ok, expected, actual, *problems)


def check_sasl_name(exp: SaslNameExpectation, answer: SendAsAnswer) -> Result:
    actual = answer.sasl_username or "(none)"
    ok = answer.sasl_username == exp.sasl_username
    return _result(exp.where, "sasl-username", exp.login, ok, exp.sasl_username, actual)


# --- logins and users -------------------------------------------------------------------------


def check_login(exp: LoginExpectation, answer: LoginAnswer) -> Result:
    subject = f"{exp.user} {exp.service}"
    expected = "succeeds" if exp.succeeds else "fails"
    if answer.cannot_check is not None:
        return error_result(exp.where, "login", subject, expected, answer.cannot_check)
    ok_actual = answer.imap if exp.service == "imap" else answer.smtp
    reason = answer.imap_reason if exp.service == "imap" else answer.smtp_reason
    actual = ("succeeds" if ok_actual else "fails") + (f" ({reason})" if reason else "")
    return _result(exp.where, "login", subject, ok_actual == exp.succeeds, expected, actual)


def check_user(exp: UserExpectation, answer: UserAnswer) -> Result:
    expected = "found" if exp.result == "ok" else exp.result
    if exp.fields:
        expected += " with " + ", ".join(f"{k}={v}" for k, v in exp.fields)
    if answer.cannot_check is not None:
        return error_result(exp.where, "user", exp.user, expected, answer.cannot_check)
    if answer.result == "ok":
        actual = "found: " + ", ".join(f"{k}={v}" for k, v in answer.fields.items())
    else:
        actual = answer.result + (f" ({answer.reason})" if answer.reason else "")
    problems = []
    if answer.result != exp.result:
        problems.append(f"userdb result: {answer.result}, not {exp.result}")
    else:
        for name, value in exp.fields:
            got = answer.fields.get(name)
            if got is None:
                problems.append(f"{name}: missing")
            elif got != value:
                problems.append(f"{name}: expected {value!r}, got {got!r}")
    return _result(exp.where, "user", exp.user, not problems, expected, actual, *problems)


# --- lookups and lint -------------------------------------------------------------------------


def check_lookup(exp: LookupExpectation, answer: LookupAnswer) -> Result:
    subject = f"{exp.map} {exp.key}"
    if exp.error:
        expected = "lookup error (postfix: temporary failure)"
    else:
        expected = "not found" if exp.value is None else exp.value
    if answer.cannot_check is not None:
        return error_result(exp.where, "lookup", subject, expected, answer.cannot_check)
    if answer.error is not None:
        actual = f"lookup error (postfix: temporary failure): {answer.error}"
        ok = exp.error
    else:
        actual = answer.value if answer.found and answer.value is not None else "not found"
        ok = not exp.error and (answer.value == exp.value if exp.value is not None else not answer.found)
    return _result(exp.where, "lookup", subject, ok, expected, actual)


def check_lint(exp: LintExpectation, answer: LintAnswer) -> Result:
    scope = " (with --server)" if exp.server else ""
    subject = f"{exp.code}{scope}"
    expected = "present" if exp.present else "absent"
    if answer.not_checked:
        return error_result(exp.where, "lint", subject, expected, "; ".join(answer.not_checked))
    found = [f for f in answer.findings if exp.code in (f.code, f.level)]
    actual = "present" if found else "absent"
    details = [f"{f.where}: {f.level}: {f.message} ({f.code})" for f in found[:10]]
    ok = bool(found) == exp.present
    return _result(exp.where, "lint", subject, ok, expected, actual, *([] if ok else details))
