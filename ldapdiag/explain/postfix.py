"""The postfix side of `--explain`: table lookups and their LDAP searches, from the engines' steps.

Which daemon asks: trivial-rewrite resolves address classes (mydestination, virtual_alias_domains,
virtual_mailbox_domains, relay_domains; global/resolve_local.c, trivial-rewrite/resolve.c), for
smtpd at RCPT time and for qmgr at delivery; smtpd looks up recipients and sender logins
(smtpd_check.c); cleanup expands virtual aliases (cleanup_map1n.c).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ldapdiag.config.model import MailServerConfig
from ldapdiag.explain import commands
from ldapdiag.explain.dovecot import lmtp_lookups
from ldapdiag.explain.model import Lookup, Query
from ldapdiag.explain.secrets import bind_password_file
from ldapdiag.postfix.steps import Step
from ldapdiag.postfix.tables import LookupResult, QueryStep

RESOLVER_PARAMETERS = frozenset(
    {"mydestination", "virtual_alias_domains", "virtual_mailbox_domains", "relay_domains"}
)
NOTE_ACTIONS = frozenset({"skip", "suppressed", "not-found", "note", "quirk", "log"})
BOUNDARIES = frozenset({"match", "class", "resolve", "expand", "restriction", "restrictions", "status"})


def _component(step: Step, smtpd: str) -> str:
    if step.parameter in RESOLVER_PARAMETERS:
        return "postfix/trivial-rewrite"
    if step.phase == "cleanup":
        return "postfix/cleanup"
    if step.phase == "delivery":
        return "postfix/qmgr"
    return smtpd


class _Builder:
    """Folds query steps into lookups, in the order they happened."""

    def __init__(self, config: MailServerConfig) -> None:
        self.config = config
        self.lookups: list[Lookup] = []

    def start(self, lookup: Lookup) -> Lookup:
        self.lookups.append(lookup)
        return lookup

    def add(self, step: QueryStep, lookup: Lookup) -> None:
        """One table step (search, values, skip, warning) into `lookup`."""
        table_units = commands.postmap(lookup.key, step.table)
        if step.table.startswith("ldap:") and table_units not in lookup.reproduce:
            lookup.reproduce.append(table_units)
        if step.action == "search":
            wire = step.wire
            lookup.queries.append(
                Query(
                    base=step.base or "",
                    scope=step.scope or "sub",
                    filter=step.filter,
                    attributes=step.attributes,
                    wire=wire,
                    table=step.table,
                    entries=wire.event.entry_dns if wire is not None else (),
                    password_file=bind_password_file(self.config, wire.policy) if wire else None,
                )
            )
        elif step.action == "values":
            query = self._query_of(lookup, step.dns[0] if step.dns else None)
            attribute = step.detail.rsplit(": ", 1)[-1]
            dn = step.dns[0] if step.dns else "?"
            taken = [f"{dn}: {attribute} = {value}" for value in step.values] or [
                f"{dn}: {attribute}: nothing taken (result_format left no value)"
            ]
            (query.values if query is not None else lookup.notes).extend(taken)
        elif step.action in NOTE_ACTIONS:
            query = lookup.queries[-1] if lookup.queries else None
            (query.notes if query is not None else lookup.notes).append(step.detail)

    @staticmethod
    def _query_of(lookup: Lookup, dn: str | None) -> Query | None:
        for query in reversed(lookup.queries):
            if dn is None or dn in query.entries:
                return query
        return lookup.queries[-1] if lookup.queries else None


def _is_ldap(step: QueryStep) -> bool:
    return step.table.startswith("ldap:")


def from_steps(config: MailServerConfig, steps: Iterable[Step], smtpd: str = "postfix/smtpd") -> list[Lookup]:
    """The lookups behind one address's steps (resolve, send-as): table lookups and their searches."""
    builder = _Builder(config)
    pending: Lookup | None = None  # a maps_find() key whose table steps follow
    current: Lookup | None = None
    for step in steps:
        if step.action == "lookup" and step.parameter is not None and step.key is not None:
            answer = step.detail.split(" -> ", 1)[-1]
            pending = Lookup(_component(step, smtpd), step.parameter, step.key, answer=answer)
            current = None
            if answer.endswith(" (asked before)"):
                pending.answer = answer.removesuffix(" (asked before)")
                pending.notes.append("asked before in this process: postfix answers from its cache, no query")
                builder.start(pending)
                pending = None
            continue
        if step.action == "lmtp" and step.source is not None:
            lookups = lmtp_lookups(config, step.source)
            builder.lookups += lookups
            current = pending = None
            continue
        query = step.query
        if query is None or not _is_ldap(query):
            if step.action in BOUNDARIES:
                current = None
            continue
        source = step.parameter or "(table)"
        if pending is not None and step.key == pending.key and step.parameter == pending.source:
            current = builder.start(pending)
            pending = None
        elif current is None or current.key != step.key or current.source != source:
            current = builder.start(Lookup(_component(step, smtpd), source, step.key or ""))
        builder.add(query, current)
    for lookup in builder.lookups:
        if not lookup.answer:
            lookup.answer = _answer(lookup)
    return builder.lookups


def _answer(lookup: Lookup) -> str:
    """A lookup without a maps_find() step (a domain list): what its tables answered."""
    values = [v.split(" = ", 1)[1] for query in lookup.queries for v in query.values if " = " in v]
    notes = [*lookup.notes, *(note for query in lookup.queries for note in query.notes)]
    if any(note.startswith("warning:") for note in notes):
        return "lookup error (postfix: temporary failure)"
    return ",".join(values) if values else "not found"


def from_lookup_results(
    config: MailServerConfig, map_name: str, results: Sequence[LookupResult]
) -> list[list[Lookup]]:
    """`ldapdiag lookup MAP KEY...`: one list per key (postmap -q asks the map's tables in order)."""
    out: list[list[Lookup]] = []
    for result in results:
        if result.error is not None:
            answer = f"lookup error: {result.error}"
        elif result.found:
            answer = repr(result.value)
        else:
            answer = "not found"
        lookup = Lookup("postfix (postmap -q)", map_name, result.key, answer=answer)
        builder = _Builder(config)
        for step in result.steps:
            if _is_ldap(step) or step.action in NOTE_ACTIONS:
                builder.add(step, lookup)
        if result.error is not None:  # said in the answer already
            lookup.notes = [note for note in lookup.notes if note != f"warning: {result.error}"]
        if not lookup.reproduce:
            lookup.reproduce.append(commands.postmap(result.key, result.table))
        out.append([lookup])
    return out
