"""smtpd's per-command check state, replies and the base of the restriction engine.

Mirrors smtpd/smtpd_check.c: SMTPD_STATE's check fields (recipient, defer_if_permit /
defer_if_reject as SMTPD_DEFER, the rcptmap_checked flags), `smtpd_check_reject()` (a 5xx
overruled by defer_if_reject, soft_bounce, the DSN class forced to the reply's), `defer_if()`
and `reject_dict_retry()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ldapdiag.postfix.dns import MailhostResolver
from ldapdiag.postfix.params import Params
from ldapdiag.postfix.resolve import Resolver
from ldapdiag.postfix.steps import Step

OK = "OK"
DUNNO = "DUNNO"
REJECT = "REJECT"

CLIENT = "Client host"
HELO = "Helo command"
SENDER = "Sender address"
RECIPIENT = "Recipient address"


@dataclass
class Session:
    """What smtpd knows about the client: where it connects from, its HELO, its SASL login."""

    in_mynetworks: bool = False
    helo: str = "client.example.net"  # a valid FQDN HELO, as any well-behaved client sends
    sasl_username: str | None = None
    sender: str = ""  # MAIL FROM, internal form ("" for <>)


class StopCheck(Exception):
    """longjmp(smtpd_check_buf, ...): the current stage ends with this reply."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


@dataclass
class Defer:
    """SMTPD_DEFER: the first reason kept, the reply sent when a later decision is overruled."""

    reply: str | None = None


@dataclass
class CheckState:
    """The per-command state smtpd_check keeps: recipient, flags, the steps taken."""

    session: Session
    recipient: str | None = None
    phase: str = "rcpt"
    steps: list[Step] = field(default_factory=list)
    defer_if_permit: Defer = field(default_factory=Defer)
    defer_if_reject: Defer = field(default_factory=Defer)
    recipient_rcptmap_checked: bool = False
    sender_rcptmap_checked: bool = False
    client_defer: str | None = None  # defer_if_permit_client
    helo_defer: str | None = None  # defer_if_permit_helo
    sender_defer: str | None = None  # defer_if_permit_sender
    owners: str | None = None  # the last sender login map answer


class SmtpdBase:
    """One smtpd service's settings, and the reply helpers every restriction uses."""

    def __init__(self, params: Params, resolver: Resolver, dns: MailhostResolver) -> None:
        self.params = params
        self.resolver = resolver
        self.maps = resolver.maps
        self.dns = dns
        self.sasl_enabled = params.flag("smtpd_sasl_auth_enable")
        self.last_owners: str | None = None  # the owners the last sender login check found

    def _reject_text(self, state: CheckState, text: str, forced: bool = False) -> str:
        """smtpd_check_reject()'s final text: defer_if_reject overrules a 5xx, codes agree."""
        if not forced and state.defer_if_reject.reply is not None and text.startswith("5"):
            earlier = state.defer_if_reject.reply
            state.defer_if_reject = Defer()
            return self._reject_text(state, earlier)
        if self.params.flag("soft_bounce") and text.startswith("5"):
            text = "4" + text[1:]
        return text[:4] + text[0] + text[5:510]

    def _reject(self, state: CheckState, code: int, dsn: str, text: str) -> tuple[str, str]:
        return REJECT, self._reject_text(state, f"{code} {dsn} {text}")

    @staticmethod
    def _defer_if(defer: Defer, code: int, dsn: str, text: str) -> None:
        """defer_if(): keep the first reason."""
        if defer.reply is None:
            defer.reply = f"{code} {dsn} {text}"

    def _dict_retry(self, state: CheckState, reply_name: str) -> StopCheck:
        """reject_dict_retry(): 451 4.3.0 <name>: Temporary lookup failure."""
        return StopCheck(self._reject_text(state, f"451 4.3.0 <{reply_name}>: Temporary lookup failure"))

    # --- address checks ---------------------------------------------------------------------
