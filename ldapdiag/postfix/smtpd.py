"""smtpd's access restrictions: the reply to RCPT TO (and, delayed, to HELO and MAIL FROM).

Mirrors smtpd/smtpd_check.c: `smtpd_check_rcpt()` (with smtpd_delay_reject = yes the client,
HELO and sender restrictions run again at each RCPT, then the relay and recipient restrictions,
the defer_if_permit safety net, then the implicit reject_unlisted_recipient), `generic_checks()`
(restrictions in list order; the first OK or REJECT ends a list), `smtpd_check_reject()`,
`defer_if()`, `reject_dict_retry()` (a table error is `451 4.3.0 <name>: Temporary lookup
failure`), `check_rcpt_maps()`, `permit_auth_destination()` / `reject_unauth_destination()`,
`reject_unknown_address()` / `reject_unknown_mailhost()`, `reject_auth_sender_login_mismatch()`.
Restrictions whose outcome ldapdiag cannot know (policy services, RBLs, access maps) raise
NotEmulated; an unknown restriction name is postfix's `451 4.3.5 Server configuration error`.
"""

from __future__ import annotations

from collections.abc import Callable

from ldapdiag.postfix.resolve import NotEmulated
from ldapdiag.postfix.smtpd_address import AddressChecks, split_owners
from ldapdiag.postfix.smtpd_state import (
    CLIENT,
    DUNNO,
    HELO,
    OK,
    RECIPIENT,
    REJECT,
    SENDER,
    CheckState,
    Defer,
    Session,
    StopCheck,
)
from ldapdiag.postfix.steps import Step

__all__ = ["Session", "Smtpd", "split_owners"]

_NOT_EMULATED_PREFIXES = ("check_", "reject_rbl", "reject_rhsbl", "permit_dnswl", "permit_rhswl")
_NOT_EMULATED = frozenset(
    {
        "reject_unknown_client_hostname",
        "reject_unknown_client",
        "reject_unknown_reverse_client_hostname",
        "reject_unknown_helo_hostname",
        "reject_unknown_hostname",
        "reject_unverified_sender",
        "reject_unverified_recipient",
        "permit_mx_backup",
        "permit_tls_clientcerts",
        "permit_tls_all_clientcerts",
        "reject_plaintext_session",
        "permit_inet_interfaces",
        "reject_maps_rbl",
        "sleep",
    }
)


class Smtpd(AddressChecks):
    """One smtpd service (port 25 `smtp`, or `submission`) of a configuration."""

    # --- the drivers ------------------------------------------------------------------------

    def check_rcpt(self, session: Session, recipient: str) -> tuple[str | None, list[Step]]:
        """smtpd_check_rcpt(): the reject reply for RCPT TO:<recipient>, or None; and the steps."""
        state = CheckState(session, recipient)
        if recipient.lower() == "postmaster":
            state.steps.append(Step("rcpt", "note", "RFC 5321: <postmaster> is accepted without checks"))
            return None, state.steps
        if self.params.flag("smtpd_delay_reject"):
            for reply in (self._client(state), self._helo(state), self._mail(state)):
                if reply is not None:
                    return reply, state.steps
        state.defer_if_permit = Defer(state.sender_defer)
        relay = ("smtpd_relay_restrictions", self.params.items("smtpd_relay_restrictions"))
        rcpt = ("smtpd_recipient_restrictions", self.params.items("smtpd_recipient_restrictions"))
        lists = (
            [relay, rcpt] if self.params.flag("smtpd_relay_before_recipient_restrictions") else [rcpt, relay]
        )
        status, reply = DUNNO, None
        for name, restrictions in lists:
            status, reply = self._stage(state, name, restrictions, recipient, RECIPIENT)
            if status == REJECT:
                break
        if status != REJECT and state.defer_if_permit.reply is not None:
            status, reply = REJECT, self._reject_text(state, state.defer_if_permit.reply, forced=True)
            state.steps.append(Step("rcpt", "defer_if_permit", f"an earlier temporary problem: {reply}"))
        if (
            self.params.flag("smtpd_reject_unlisted_recipient")
            and status != REJECT
            and not state.recipient_rcptmap_checked
        ):
            state.steps.append(
                Step("rcpt", "restriction", "smtpd_reject_unlisted_recipient = yes (implicit)")
            )
            status, reply = self._guarded(state, lambda: self._check_rcpt_maps(state, recipient, RECIPIENT))
        return (reply if status == REJECT else None), state.steps

    def _client(self, state: CheckState) -> str | None:
        state.defer_if_permit = Defer()
        status, reply = self._stage(
            state,
            "smtpd_client_restrictions",
            self.params.items("smtpd_client_restrictions"),
            "unknown[198.51.100.10]",
            CLIENT,
        )
        state.client_defer = state.defer_if_permit.reply
        return reply if status == REJECT else None

    def _helo(self, state: CheckState) -> str | None:
        state.defer_if_permit = Defer(state.client_defer)
        status, reply = self._stage(
            state,
            "smtpd_helo_restrictions",
            self.params.items("smtpd_helo_restrictions"),
            state.session.helo,
            HELO,
        )
        state.helo_defer = state.defer_if_permit.reply
        return reply if status == REJECT else None

    def _mail(self, state: CheckState) -> str | None:
        sender = state.session.sender
        state.defer_if_permit = Defer(state.client_defer or state.helo_defer)
        state.sender_rcptmap_checked = False
        status, reply = self._stage(
            state, "smtpd_sender_restrictions", self.params.items("smtpd_sender_restrictions"), sender, SENDER
        )
        if (
            self.params.flag("smtpd_reject_unlisted_sender")
            and status != REJECT
            and not state.sender_rcptmap_checked
            and sender
        ):
            status, reply = self._guarded(state, lambda: self._check_rcpt_maps(state, sender, SENDER))
        state.sender_defer = state.defer_if_permit.reply
        return reply if status == REJECT else None

    def _stage(
        self, state: CheckState, list_name: str, restrictions: list[str], reply_name: str, reply_class: str
    ) -> tuple[str, str | None]:
        """SMTPD_CHECK_RESET + setjmp + generic_checks() for one restriction list."""
        state.defer_if_reject = Defer()
        state.steps.append(Step(state.phase, "restrictions", f"{list_name} = {', '.join(restrictions)}"))
        return self._guarded(
            state, lambda: self._generic(state, list_name, restrictions, reply_name, reply_class)
        )

    @staticmethod
    def _guarded(state: CheckState, run: Callable[[], tuple[str, str | None]]) -> tuple[str, str | None]:
        """setjmp(): a reject_dict_retry() or server error deep inside ends the stage."""
        try:
            return run()
        except StopCheck as stop:
            return REJECT, stop.reply

    # --- generic_checks() -------------------------------------------------------------------

    def _generic(
        self, state: CheckState, list_name: str, restrictions: list[str], reply_name: str, reply_class: str
    ) -> tuple[str, str | None]:
        status: str = DUNNO
        reply: str | None = None
        index = 0
        while index < len(restrictions):
            name = restrictions[index]
            lowered = name.lower()
            if ":" in name or lowered.startswith(_NOT_EMULATED_PREFIXES) or lowered in _NOT_EMULATED:
                raise NotEmulated(f"{list_name}: restriction {name!r} is not emulated by ldapdiag")
            status, reply = self._one(state, lowered, reply_name, reply_class)
            state.steps.append(
                Step(state.phase, "restriction", f"{list_name}: {name} -> {status}", result=reply)
            )
            if status != DUNNO:
                break
            if state.defer_if_permit.reply is not None and state.defer_if_reject.reply is not None:
                break
            index += 1
        return status, reply

    def _one(self, state: CheckState, name: str, reply_name: str, reply_class: str) -> tuple[str, str | None]:
        session, recipient, sender = state.session, state.recipient, state.session.sender
        if name == "permit":
            return OK, None
        if name == "reject":
            return self._reject(state, 554, "5.7.1", f"<{reply_name}>: {reply_class} rejected: Access denied")
        if name == "defer":
            return self._reject(
                state, 450, "4.3.2", f"<{reply_name}>: {reply_class} rejected: Try again later"
            )
        if name in ("warn_if_reject", "reject_unauth_pipelining"):
            return DUNNO, None  # the probe client never pipelines; warn_if_reject: see below
        if name == "defer_if_permit":
            self._defer_if(
                state.defer_if_permit,
                450,
                "4.7.0",
                f"<{reply_name}>: {reply_class} rejected: defer_if_permit requested",
            )
            return DUNNO, None
        if name == "defer_if_reject":
            self._defer_if(
                state.defer_if_reject,
                450,
                "4.7.0",
                f"<{reply_name}>: {reply_class} rejected: defer_if_reject requested",
            )
            return DUNNO, None
        if name == "permit_mynetworks":
            return (OK if session.in_mynetworks else DUNNO), None
        if name == "permit_sasl_authenticated":
            return (OK if self.sasl_enabled and session.sasl_username else DUNNO), None
        if name in (
            "reject_invalid_helo_hostname",
            "reject_invalid_hostname",
            "reject_non_fqdn_helo_hostname",
            "reject_non_fqdn_hostname",
        ):
            return DUNNO, None  # the probe's HELO is a valid fully-qualified name
        if name in ("reject_unknown_sender_domain", "reject_unknown_address") and reply_class == SENDER:
            return self._unknown_address(state, sender, SENDER) if sender else (DUNNO, None)
        if name == "reject_unknown_address" and recipient:
            return self._unknown_address(state, recipient, RECIPIENT)
        if name == "reject_unknown_sender_domain":
            return self._unknown_address(state, sender, SENDER) if sender else (DUNNO, None)
        if name == "reject_unknown_recipient_domain":
            return self._unknown_address(state, recipient, RECIPIENT) if recipient else (DUNNO, None)
        if name in ("reject_non_fqdn_sender", "reject_non_fqdn_recipient"):
            address = sender if name.endswith("sender") else recipient
            klass = SENDER if name.endswith("sender") else RECIPIENT
            return self._non_fqdn(state, address, klass) if address else (DUNNO, None)
        if name in (
            "reject_authenticated_sender_login_mismatch",
            "reject_known_sender_login_mismatch",
            "reject_unauthenticated_sender_login_mismatch",
            "reject_sender_login_mismatch",
        ):
            return self._login_mismatch(state, name)
        if name in ("reject_unlisted_sender",):
            if sender:
                state.sender_rcptmap_checked = True
                return self._check_rcpt_maps(state, sender, SENDER)
            return DUNNO, None
        if name in ("reject_unlisted_recipient", "check_recipient_maps"):
            if recipient:
                state.recipient_rcptmap_checked = True
                return self._check_rcpt_maps(state, recipient, RECIPIENT)
            return DUNNO, None
        if name == "permit_auth_destination":
            return (OK if recipient and self._auth_destination(state, recipient) else DUNNO), None
        if name in ("reject_unauth_destination", "defer_unauth_destination"):
            if not recipient or self._auth_destination(state, recipient):
                return DUNNO, None
            code = self.params.number("relay_domains_reject_code")
            code, dsn = (code, "5.7.1") if name.startswith("reject") else (code - 100, "4.7.1")
            return self._reject(state, code, dsn, f"<{recipient}>: Relay access denied")
        if name in ("reject_multi_recipient_bounce",):
            return DUNNO, None  # one recipient at a time, or a non-null sender
        state.steps.append(Step(state.phase, "log", f'warning: unknown smtpd restriction: "{name}"'))
        raise StopCheck(self._reject_text(state, "451 4.3.5 Server configuration error"))

    # --- replies ----------------------------------------------------------------------------
