"""Spoof protection: may a client that authenticated as LOGIN send as SENDER on DMS's submission port?

After AUTH, postfix knows the SASL user name (`sasl_username`): for cyrus SASL (saslauthd) the
name the client sent, `@$smtpd_sasl_local_domain` appended when it has no `@` (cyrus-sasl
canonuser.c `_canonuser_internal()`, checked: login `alice` -> `alice@example.org`); for dovecot
SASL the name dovecot's auth answers with (auth_username_format = %Lu, then a `user` field of the
passdb renames it). MAIL FROM gets 250 (smtpd_delay_reject = yes); the sender restrictions
($mua_sender_restrictions) run at RCPT TO, where reject_authenticated_sender_login_mismatch
(smtpd_check.c `reject_auth_sender_login_mismatch()`) looks the sender up in
smtpd_sender_login_maps (mail_addr_find(); a list of tables is maps_find(): the first table that
answers decides) and compares LOGIN with each owner, case-insensitively.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ldapdiag.config.model import MailServerConfig
from ldapdiag.directory.faults import Fault, summary
from ldapdiag.errors import LdapdiagError
from ldapdiag.postfix.dns import MailhostResolver
from ldapdiag.postfix.maps import TableFactory
from ldapdiag.postfix.params import Params, service_params
from ldapdiag.postfix.resolve import MapSet, NotEmulated, Resolver
from ldapdiag.postfix.smtpd import Session, Smtpd, split_owners
from ldapdiag.postfix.startup import CannotStart, rewrite_cannot_start, smtpd_cannot_start
from ldapdiag.postfix.steps import Step
from ldapdiag.postfix.transaction import envelope_address

# The RCPT TO of the probe transaction: with DMS's submission restrictions
# (permit_sasl_authenticated first in the client, relay and recipient lists) it is never judged.
SEND_AS_RECIPIENT = "someone@example.net"


@dataclass(frozen=True)
class SaslName:
    """The name postfix's sender check compares, and how ldapdiag got it."""

    name: str
    via: str  # "cyrus" (saslauthd) or "dovecot"
    assumed: bool  # True when the dovecot passdb (a rename) was not consulted
    steps: tuple[Step, ...] = ()


# TODO(dovecot engine): the lead wires the dovecot passdb lookup here: given the login, return
# the user name dovecot's auth replies with (after auth_username_format and a `user` rename of
# pass_attrs), e.g. via ldapdiag.dovecot.engine.DovecotAuth. None falls back to `login` lowercased.
DovecotNameHook = Callable[[MailServerConfig, str], str | None]
DOVECOT_NAME_HOOK: DovecotNameHook | None = None


@dataclass
class SendAsOutcome:
    """One sender: allowed or not, the owners the tables name, the exact reply."""

    login: str
    sasl_username: str
    sender: str
    allowed: bool
    owners: list[str] | None
    smtp_reply: str | None
    steps: list[Step] = field(default_factory=list)
    cannot_start: CannotStart | None = None  # a program the session needs cannot start (startup.py)
    faults: list[Fault] = field(default_factory=list)  # what the directory could not answer (faults.py)

    @property
    def incomplete(self) -> bool:
        """The prediction rests on a directory that did not answer: ldapdiag could not check it."""
        return bool(self.faults)

    def as_dict(self) -> dict[str, object]:
        """The JSON object of issue 12."""
        return {
            "login": self.login,
            "sasl_username": self.sasl_username,
            "sender": self.sender,
            "allowed": self.allowed,
            "owners": self.owners,
            "smtp_reply": self.smtp_reply,
            "cannot_start": self.cannot_start.as_dict() if self.cannot_start else None,
            "incomplete": self.incomplete,
            "fault": summary(self.faults),
            "steps": [step.as_dict() for step in self.steps],
        }


def sasl_username(
    config: MailServerConfig, params: Params, login: str, hook: DovecotNameHook | None = None
) -> SaslName:
    """xsasl_cyrus / xsasl_dovecot: the name smtpd stores as state->sasl_username after AUTH."""
    if not params.flag("smtpd_sasl_auth_enable"):
        raise LdapdiagError("SMTP AUTH is off on the submission port (SMTP_ONLY=1 without saslauthd)")
    sasl_type = params.get("smtpd_sasl_type").strip()
    if sasl_type == "cyrus":
        realm = params.get("smtpd_sasl_local_domain").strip()
        name = login.strip()
        step = f"cyrus SASL (saslauthd): the login as sent{f', @{realm} appended' if realm else ''}"
        if realm and "@" not in name:
            name = f"{name}@{realm}"
        else:
            step = "cyrus SASL (saslauthd): the login as sent"
        return SaslName(name, "cyrus", False, (Step("auth", "sasl", f"{step}: sasl_username={name}"),))
    renamed = (hook or DOVECOT_NAME_HOOK)(config, login) if (hook or DOVECOT_NAME_HOOK) else None
    if renamed is not None:
        detail = f"dovecot SASL: auth answers user={renamed}"
        return SaslName(renamed, "dovecot", False, (Step("auth", "sasl", detail),))
    name = login.lower()
    detail = (
        f"dovecot SASL: auth_username_format %Lu -> {name}; ASSUMED: a `user` field of the passdb "
        "(pass_attrs ...=user) would rename it, and ldapdiag did not ask the passdb"
    )
    return SaslName(name, "dovecot", True, (Step("auth", "sasl", detail),))


def send_as(
    config: MailServerConfig,
    login: str,
    senders: list[str],
    *,
    factory: TableFactory,
    dns: MailhostResolver,
    name_hook: DovecotNameHook | None = None,
    sasl_failure: CannotStart | None = None,
) -> list[SendAsOutcome]:
    """AUTH as LOGIN, then MAIL FROM:<sender> and RCPT TO on the submission service, per sender.

    sasl_failure: the SASL service smtpd asks cannot work at all (dovecot's auth process or
    saslauthd refuses its configuration; saslauthd/smtp_auth.py sasl_cannot_start()).
    """
    params = service_params(config, "submission")
    maps = MapSet(config, factory, params)
    maps.check_unsupported()
    smtpd = Smtpd(params, Resolver(maps), dns)
    faults = factory.pool.trace.faults
    first = faults.mark()
    name = sasl_username(config, params, login, name_hook)
    name_faults = faults.since(first)  # the dovecot passdb behind the SASL name: every sender
    notes = [*name.steps, *_policy_steps(params, maps)]
    outcomes = []
    for raw in senders:
        sender = envelope_address(raw)
        failure = smtpd_cannot_start(factory, params) or sasl_failure
        failure = failure or rewrite_cannot_start(factory, params)
        if failure is not None:
            phase = "connect" if failure.stage in ("connect", "greeting") else "auth"
            step = Step(phase, "cannot_start", failure.describe())
            outcomes.append(
                SendAsOutcome(login, name.name, sender, False, None, failure.reply, [*notes, step], failure)
            )
            continue
        session = Session(in_mynetworks=False, sasl_username=name.name, sender=sender)
        smtpd.last_owners = None
        mark = faults.mark()
        try:
            reply, steps = smtpd.check_rcpt(session, SEND_AS_RECIPIENT)
        except NotEmulated as error:
            raise LdapdiagError(str(error)) from None
        owners = split_owners(smtpd.last_owners) if smtpd.last_owners is not None else None
        found = name_faults + faults.since(mark)
        if not found and faults.faults and reply is not None and reply.startswith("4"):
            found = faults.distinct()  # a temporary failure built on an answer cached from a fault
        outcomes.append(
            SendAsOutcome(
                login, name.name, sender, reply is None, owners, reply, [*notes, *steps], faults=found
            )
        )
    return outcomes


def _policy_steps(params: Params, maps: MapSet) -> list[Step]:
    """Say which check is on, and how a list of sender login tables is searched."""
    restrictions = [r.lower() for r in params.items("smtpd_sender_restrictions")]
    checks = {
        "reject_authenticated_sender_login_mismatch",
        "reject_sender_login_mismatch",
        "reject_known_sender_login_mismatch",
    }
    if not checks & set(restrictions):
        return [
            Step(
                "auth",
                "note",
                "reject_authenticated_sender_login_mismatch is not in smtpd_sender_restrictions "
                f"({', '.join(restrictions)}): the sender login check is off (SPOOF_PROTECTION unset)",
            )
        ]
    tables = params.items("smtpd_sender_login_maps")
    if not tables:
        return [Step("auth", "note", "smtpd_sender_login_maps is empty: the login check has nothing to ask")]
    detail = f"smtpd_sender_login_maps = {' '.join(tables)}"
    if len(tables) > 1:
        detail += ": searched in order, the FIRST table that answers decides (not a union of the tables)"
    return [Step("auth", "note", detail)]
