"""One SMTP transaction on port 25 of a DMS v15 container, as postfix answers and queues it.

MAIL FROM (250: with smtpd_delay_reject = yes the sender restrictions run at each RCPT), one
RCPT TO per address (smtpd_check.c `smtpd_check_rcpt()`, see smtpd.py), DATA when a recipient
was accepted: cleanup rewrites each accepted recipient (cleanup_addr.c
`cleanup_addr_recipient()`), expands virtual aliases (virtual_alias.py) and drops duplicates
(cleanup_out_recipient.c: `been_here()` on original recipient and final address, case-folded);
a failed expansion fails the whole message at the end of DATA (smtpd.c `data_cmd()`); then
each queued recipient goes to its delivery agent (delivery.py). When smtpd or trivial-rewrite
cannot start with this configuration (startup.py), the session gets no reply where it needs them:
every address is deferred (the client retries), with `cannot_start` saying why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ldapdiag.config.model import MailServerConfig
from ldapdiag.directory.faults import Fault, FaultLog
from ldapdiag.postfix.delivery import FinalRecipient, LmtpHook, LmtpSession, deliver
from ldapdiag.postfix.dns import DNS_OK, DnsAnswer, MailhostResolver
from ldapdiag.postfix.maps import TableFactory
from ldapdiag.postfix.params import Params, service_params
from ldapdiag.postfix.resolve import MapSet, NotEmulated, Resolver
from ldapdiag.postfix.smtpd import Session, Smtpd
from ldapdiag.postfix.startup import CannotStart, postfix_cannot_start
from ldapdiag.postfix.steps import Step
from ldapdiag.postfix.virtual_alias import DEFER, WRITE, AliasExpander, canonicalize, fold

# The default envelope sender: an address of a domain outside the container that stands for
# "any sender whose domain resolves"; ldapdiag does not ask the DNS about it (see AssumedDns).
DEFAULT_MAIL_FROM = "someone@example.net"
DATA_REPLY = {
    DEFER: "451 4.6.0 Alias expansion error",
    WRITE: "451 4.3.0 Error: queue file write error",
}
QUEUED_REPLY = "250 2.0.0 Ok: queued as QUEUEID"
_PIPELINING_ONLY = frozenset({"permit_mynetworks", "permit_sasl_authenticated", "reject_unauth_pipelining"})


@dataclass
class AssumedDns:
    """The real DNS, except for domains whose answer is assumed (the default sender's)."""

    real: MailhostResolver
    assumed: frozenset[str] = frozenset()

    def mailhost(self, name: str) -> DnsAnswer:
        """An assumed success for the assumed domains, else the real query."""
        if name.lower() in self.assumed:
            return DnsAnswer(name, DNS_OK, (f"{name}: assumed to have MX/A records (the default sender)",))
        return self.real.mailhost(name)


@dataclass
class AddressOutcome:
    """What postfix does with one RCPT TO address of the transaction."""

    address: str
    verdict: str  # deliver | reject | defer | unknown (ldapdiag cannot predict it)
    smtp_reply: str | None  # the first non-2xx reply for this recipient (RCPT or DATA)
    rcpt_reply: str | None  # the reply to RCPT TO itself
    recipients: list[FinalRecipient] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    cannot_start: CannotStart | None = None  # a daemon the session needs cannot start (see startup.py)
    faults: list[Fault] = field(default_factory=list)  # what the directory could not answer (faults.py)

    @property
    def incomplete(self) -> bool:
        """The prediction rests on a directory that did not answer: ldapdiag could not check it."""
        return bool(self.faults)


@dataclass
class Transaction:
    """The whole transaction: sender, client, replies, outcomes in argument order."""

    mail_from: str
    client: str
    mail_reply: str | None  # None: no reply (a postfix daemon the session needs cannot start)
    data_reply: str | None
    outcomes: list[AddressOutcome]


def envelope_address(text: str) -> str:
    """The address inside `<...>` (the form smtpd extracts), surrounding spaces removed."""
    text = text.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    return text


def _rcpt(smtpd: Smtpd, session: Session, address: str) -> AddressOutcome:
    try:
        reply, steps = smtpd.check_rcpt(session, address)
    except NotEmulated as error:
        step = Step("rcpt", "not_emulated", str(error))
        return AddressOutcome(address, "unknown", None, None, [], [step])
    if reply is None:
        return AddressOutcome(address, "deliver", None, "250 2.1.5 Ok", [], steps)
    verdict = "defer" if reply.startswith("4") else "reject"
    return AddressOutcome(address, verdict, reply, reply, [], steps)


def _data_restrictions(params: Params) -> None:
    """smtpd_data_restrictions: DMS's list cannot reject a client that does not pipeline."""
    restrictions = [r.lower() for r in params.items("smtpd_data_restrictions")]
    if set(restrictions) - _PIPELINING_ONLY:
        raise NotEmulated(f"smtpd_data_restrictions = {', '.join(restrictions)} is not emulated")


def run_transaction(
    config: MailServerConfig,
    addresses: Sequence[str],
    *,
    mail_from: str,
    client: str,
    factory: TableFactory,
    dns: MailhostResolver,
    lmtp_hook: LmtpHook | None = None,
) -> Transaction:
    """MAIL FROM, RCPT TO each address, DATA, cleanup and delivery, as postfix would."""
    params = service_params(config, "smtp")
    sender = envelope_address(mail_from)
    failure = postfix_cannot_start(factory, params)
    if failure is not None:
        return _cannot_start(failure, addresses, sender, client)
    maps = MapSet(config, factory, params)
    maps.check_unsupported()
    resolver = Resolver(maps)
    smtpd = Smtpd(params, resolver, dns)
    session = Session(in_mynetworks=client == "mynetworks", sender=sender)
    faults = factory.pool.trace.faults
    outcomes = []
    for address in addresses:
        mark = faults.mark()
        outcomes.append(_rcpt(smtpd, session, envelope_address(address)))
        outcomes[-1].faults += faults.since(mark)
    accepted = [o for o in outcomes if o.verdict == "deliver"]
    data_reply = None
    if accepted:
        _data_restrictions(params)
        failure = _cleanup(config, params, maps, resolver, accepted, lmtp_hook, faults)
        data_reply = failure or QUEUED_REPLY
        if failure is not None:
            for outcome in accepted:
                outcome.verdict, outcome.smtp_reply, outcome.recipients = "defer", failure, []
                outcome.steps.append(Step("data", "reply", f"end of DATA: {failure} (nothing is queued)"))
    _cached_faults(outcomes, faults)
    return Transaction(sender or "<>", client, "250 2.1.0 Ok", data_reply, outcomes)


def _cached_faults(outcomes: list[AddressOutcome], faults: FaultLog) -> None:
    """A deferral built on an answer cached from a failed lookup is incomplete too (never silent)."""
    if not faults.faults:
        return
    for outcome in outcomes:
        deferred = outcome.verdict == "defer" or any(r.status == "deferred" for r in outcome.recipients)
        if deferred and not outcome.faults:
            outcome.faults = faults.distinct()


def _cannot_start(failure: CannotStart, addresses: Sequence[str], sender: str, client: str) -> Transaction:
    """A postfix daemon the session needs dies at start: every address is deferred, with no reply."""
    phase = "connect" if failure.stage in ("connect", "greeting") else "mail"
    outcomes = [
        AddressOutcome(
            envelope_address(address),
            "defer",
            None,
            None,
            [],
            [Step(phase, "cannot_start", failure.describe())],
            failure,
        )
        for address in addresses
    ]
    return Transaction(sender or "<>", client, None, None, outcomes)


def _cleanup(
    config: MailServerConfig,
    params: Params,
    maps: MapSet,
    resolver: Resolver,
    accepted: list[AddressOutcome],
    lmtp_hook: LmtpHook | None,
    faults: FaultLog,
) -> str | None:
    """cleanup for the accepted recipients; the failing DATA reply, or None when queued."""
    errors: set[str] = set()
    seen: set[tuple[str, str]] = set()
    queued: list[tuple[AddressOutcome, str]] = []
    for outcome in accepted:
        steps = outcome.steps
        expander = AliasExpander(
            maps.maps("virtual_alias_maps"),  # type: ignore[arg-type]
            params,
            lambda d, s=steps: _is_local(params, resolver, d, s),
            maps.cache,
        )
        address = canonicalize(outcome.address, params)
        if address != outcome.address:
            steps.append(Step("cleanup", "rewrite", f"<{outcome.address}> -> <{address}> (canonical form)"))
        mark = faults.mark()
        try:
            expansion = expander.expand(address)
        except NotEmulated as error:
            outcome.verdict, outcome.rcpt_reply = "unknown", outcome.rcpt_reply
            steps.append(Step("cleanup", "not_emulated", str(error)))
            continue
        steps += expansion.steps
        outcome.faults += faults.since(mark)
        if expansion.error is not None:
            errors.add(expansion.error)
            continue
        for final in expansion.recipients:
            key = (fold(outcome.address), fold(final))
            if key in seen:
                steps.append(
                    Step("cleanup", "duplicate", f"<{final}> already queued for this recipient: dropped")
                )
                continue
            seen.add(key)
            queued.append((outcome, final))
    if errors:
        return DATA_REPLY[DEFER] if DEFER in errors else DATA_REPLY[WRITE]
    session = LmtpSession()  # one message: its dovecot recipients go in one LMTP session
    for outcome, final in queued:
        mark = faults.mark()
        recipient = deliver(config, resolver, final, outcome.address, lmtp_hook, session)
        outcome.faults += faults.since(mark)
        outcome.recipients.append(recipient)
        outcome.steps += recipient.steps
    return None


def _is_local(params: Params, resolver: Resolver, domain: str, steps: list[Step]) -> int:
    """mail_addr_find()'s local test in cleanup: $myorigin, or resolve_local()."""
    if domain.lower() == params.get("myorigin").lower():
        return 1
    return resolver.resolve_local(domain, steps, "cleanup")


class Prober:
    """smtpd and cleanup set up once for many one-recipient transactions (`ldapdiag audit`).

    Each probe is its own transaction, as run_transaction() runs it: MAIL FROM, one RCPT TO, DATA,
    cleanup and delivery; the tables, the resolver and their answers are shared between probes,
    as in one long-running smtpd/cleanup/qmgr (callers bound the caches: `maps.cache`).
    """

    def __init__(
        self,
        config: MailServerConfig,
        *,
        mail_from: str,
        client: str,
        factory: TableFactory,
        dns: MailhostResolver,
        lmtp_hook: LmtpHook | None = None,
    ) -> None:
        self.config = config
        self.params = service_params(config, "smtp")
        self.sender = envelope_address(mail_from)
        self.client = client
        self.lmtp_hook = lmtp_hook
        self.failure = postfix_cannot_start(factory, self.params)
        self.faults = factory.pool.trace.faults
        self.maps = MapSet(config, factory, self.params)
        self.maps.check_unsupported()
        self.resolver = Resolver(self.maps)
        self.smtpd = Smtpd(self.params, self.resolver, dns)

    def probe(self, address: str) -> AddressOutcome:
        """One transaction with one recipient: its outcome."""
        if self.failure is not None:
            return _cannot_start(self.failure, [address], self.sender, self.client).outcomes[0]
        session = Session(in_mynetworks=self.client == "mynetworks", sender=self.sender)
        mark = self.faults.mark()
        outcome = _rcpt(self.smtpd, session, envelope_address(address))
        outcome.faults += self.faults.since(mark)
        if outcome.verdict == "deliver":
            _data_restrictions(self.params)
            failure = _cleanup(
                self.config, self.params, self.maps, self.resolver, [outcome], self.lmtp_hook, self.faults
            )
            if failure is not None:
                outcome.verdict, outcome.smtp_reply, outcome.recipients = "defer", failure, []
                outcome.steps.append(Step("data", "reply", f"end of DATA: {failure} (nothing is queued)"))
        _cached_faults([outcome], self.faults)
        return outcome

    def trim(self, limit: int) -> None:
        """Keep memory bounded: past `limit` answers, forget them (like postfix's max_use restart)."""
        if len(self.maps.cache) > limit:
            self.maps.cache.clear()
        if len(self.resolver._cache) > limit:
            self.resolver._cache.clear()
            self.resolver._reported.clear()
