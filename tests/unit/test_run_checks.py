"""Comparing one expectation with an answer: pass, fail (with a readable diff) or could not check."""

from __future__ import annotations

from ldapdiag.run import checks
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
from ldapdiag.run.model import (
    LintExpectation,
    LoginExpectation,
    LookupExpectation,
    MailExpectation,
    PasswordSource,
    SaslNameExpectation,
    SendAsExpectation,
    UserExpectation,
)

W = "expect.yaml:3"
LMTP = "lmtp:unix:/var/run/dovecot/lmtp"
SENT = Delivered("alice@example.org", "sent", "2.0.0", LMTP, "250 2.1.5 OK")
BOB_SENT = Delivered("bob@example.org", "sent", "2.0.0", LMTP, "250 2.1.5 OK")
BOUNCED = Delivered(
    "dan@example.com", "bounced", "5.1.1", LMTP, "550 5.1.1 <dan@example.com> User doesn't exist"
)
REJECTED = MailAnswer("reject", "550 5.1.1 <x@example.org>: Recipient address rejected: User unknown")


def mail(outcome: str, **fields: object) -> MailExpectation:
    return MailExpectation(W, outcome, "x@example.org", **fields)  # type: ignore[arg-type]


def test_deliver_passes_when_every_final_recipient_is_delivered() -> None:
    result = checks.check_mail(
        mail("deliver", to=("bob@example.org", "alice@example.org")),
        MailAnswer("deliver", None, (SENT, BOB_SENT)),
    )
    assert result.status == "pass"
    assert result.actual == "accepted -> alice@example.org sent 2.0.0, bob@example.org sent 2.0.0"


def test_deliver_fails_with_missing_and_unexpected_recipients_listed() -> None:
    result = checks.check_mail(
        mail("deliver", to=("alice@example.org", "carol@example.org")),
        MailAnswer("deliver", None, (SENT, BOB_SENT)),
    )
    assert result.status == "fail"
    assert result.expected == "delivered to alice@example.org, carol@example.org"
    assert result.details == (
        "missing recipients: carol@example.org",
        "unexpected recipients: bob@example.org",
    )


def test_a_letter_case_difference_is_pointed_out() -> None:
    dave = Delivered("Dave.Davis@example.org", "sent", "2.0.0", LMTP)
    result = checks.check_mail(
        mail("deliver", to=("dave.davis@example.org",)), MailAnswer("deliver", None, (dave,))
    )
    assert result.status == "fail"
    assert "only the letter case differs" in result.details[-1]


def test_deliver_fails_when_a_copy_bounces_and_bounce_passes() -> None:
    answer = MailAnswer("deliver", None, (SENT, BOUNCED))
    failed = checks.check_mail(mail("deliver"), answer)
    assert failed.status == "fail"
    assert failed.details == ("not delivered: dan@example.com bounced 5.1.1",)
    assert checks.check_mail(mail("bounce", reply="550 5.1.1 <dan@"), answer).status == "pass"
    wrong_reply = checks.check_mail(mail("bounce", reply="452"), answer)
    assert wrong_reply.status == "fail"
    assert "no bounce reply starts with '452'" in wrong_reply.details[0]
    assert checks.check_mail(mail("bounce"), MailAnswer("deliver", None, (SENT,))).details == (
        "nothing bounced",
    )


def test_deliver_cannot_be_checked_when_the_agent_is_not_known() -> None:
    kopano = Delivered("alice@example.com", None, None, "lmtp:kopano:2003")
    answer = MailAnswer("deliver", None, (kopano,))
    result = checks.check_mail(mail("deliver"), answer)
    assert result.status == "error"
    assert result.actual.startswith("could not check: what lmtp:kopano:2003 does with the mail is not known")
    assert checks.check_mail(mail("accept", transport="lmtp:kopano:2003"), answer).status == "pass"
    other = checks.check_mail(mail("accept", transport=LMTP), answer)
    assert other.status == "fail" and other.details == (f"transport: lmtp:kopano:2003, not {LMTP}",)


def test_reject_and_defer_compare_the_verdict_and_the_reply_prefix() -> None:
    assert checks.check_mail(mail("reject", reply="550 5.1.1 <x@"), REJECTED).status == "pass"
    assert checks.check_mail(mail("reject", reply="554"), REJECTED).details == (
        "the reply does not start with '554'",
    )
    as_defer = checks.check_mail(mail("defer"), REJECTED)
    assert as_defer.status == "fail" and as_defer.actual.startswith("rejected: 550 5.1.1")
    accepted = checks.check_mail(mail("reject"), MailAnswer("deliver", None, (SENT,)))
    assert (accepted.status, accepted.expected, accepted.actual) == (
        "fail",
        "rejected (5xx)",
        "accepted -> alice@example.org sent 2.0.0",
    )
    refused = checks.check_mail(mail("deliver"), REJECTED)
    assert refused.status == "fail" and refused.actual.startswith("rejected: ")


def test_an_outcome_ldapdiag_cannot_predict_is_an_error() -> None:
    answer = MailAnswer("unknown", None, (), "proxy: tables")
    result = checks.check_mail(mail("deliver"), answer)
    assert (result.status, result.actual) == (
        "error",
        "could not check: ldapdiag cannot predict it: proxy: tables",
    )


def test_send_as() -> None:
    allowed = SendAsAnswer("bob@example.org", True, "alice", None)
    denied = SendAsAnswer(
        "bob@example.org", False, "alice", "553 5.7.1 <bob@example.org>: not owned by user alice"
    )
    exp = SendAsExpectation(W, "alice", "bob@example.org", False, "553 5.7.1")
    assert checks.check_send_as(exp, denied).status == "pass"
    result = checks.check_send_as(exp, allowed)
    assert (result.status, result.expected, result.actual) == (
        "fail",
        "denied with '553 5.7.1'...",
        "allowed",
    )
    assert result.details == ("postfix compares sasl_username=alice",)
    assert (
        checks.check_sasl_name(SaslNameExpectation(W, "alice", "alice@example.org"), denied).actual == "alice"
    )


def test_login_reports_the_reason_and_errors_when_it_cannot_check() -> None:
    exp = LoginExpectation(W, "alice", PasswordSource(env="PW"), "/", "imap", True)
    failing = LoginAnswer(False, "userdb unknown: unknown user", True, "via saslauthd")
    result = checks.check_login(exp, failing)
    assert (result.status, result.actual) == ("fail", "fails (userdb unknown: unknown user)")
    smtp = LoginExpectation(W, "alice", PasswordSource(env="PW"), "/", "smtp", True)
    assert checks.check_login(smtp, failing).status == "pass"
    cannot = LoginAnswer(False, "", False, "", cannot_check="LDAP server not reachable")
    assert checks.check_login(exp, cannot).status == "error"


def test_user_fields() -> None:
    answer = UserAnswer("ok", {"user": "a", "home": "/var/mail/a", "uid": "5000"})
    assert (
        checks.check_user(UserExpectation(W, "a", "ok", (("home", "/var/mail/a"),)), answer).status == "pass"
    )
    wrong = checks.check_user(UserExpectation(W, "a", "ok", (("home", "/x"), ("gid", "5000"))), answer)
    assert wrong.details == ("home: expected '/x', got '/var/mail/a'", "gid: missing")
    unknown = checks.check_user(UserExpectation(W, "a", "unknown"), answer)
    assert unknown.details == ("userdb result: ok, not unknown",)
    failure = UserAnswer("internal_failure", {}, "Invalid DN syntax")
    assert checks.check_user(UserExpectation(W, "a", "unknown"), failure).status == "fail"
    assert checks.check_user(UserExpectation(W, "a", "internal_failure"), failure).status == "pass"


def test_lookup() -> None:
    found = LookupAnswer(True, "a@example.org,b@example.org")
    assert (
        checks.check_lookup(LookupExpectation(W, "aliases", "k", "a@example.org,b@example.org"), found).status
        == "pass"
    )
    assert (
        checks.check_lookup(LookupExpectation(W, "aliases", "k", "b@example.org,a@example.org"), found).status
        == "fail"
    )
    assert checks.check_lookup(LookupExpectation(W, "aliases", "k", None), found).status == "fail"
    error = LookupAnswer(False, None, "dict_ldap_lookup: Search error 34: Invalid DN syntax")
    assert checks.check_lookup(LookupExpectation(W, "users", "k", None), error).status == "fail"
    assert checks.check_lookup(LookupExpectation(W, "users", "k", None, error=True), error).status == "pass"
    assert checks.check_lookup(LookupExpectation(W, "users", "k", None, error=True), found).status == "fail"


def test_lint_codes_and_levels() -> None:
    answer = LintAnswer(
        (LintFinding("warning", "tls-no-verify", "mailserver.env:3", "postfix does not check"),)
    )
    assert checks.check_lint(LintExpectation(W, "tls-no-verify", True), answer).status == "pass"
    absent = checks.check_lint(LintExpectation(W, "warning", False), answer)
    assert absent.status == "fail"
    assert absent.details == ("mailserver.env:3: warning: postfix does not check (tls-no-verify)",)
    assert checks.check_lint(LintExpectation(W, "error", False), answer).status == "pass"
    unchecked = LintAnswer((), ("--server: cannot reach the server",))
    assert checks.check_lint(LintExpectation(W, "error", False, server=True), unchecked).status == "error"
