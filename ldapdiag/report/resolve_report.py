"""Rendering of `ldapdiag resolve` and `ldapdiag send-as`: a readable table, or issue 12's JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click
from tabulate import tabulate

from ldapdiag.directory.faults import Fault, summary
from ldapdiag.explain.model import Lookup
from ldapdiag.postfix.sender_login import SendAsOutcome
from ldapdiag.postfix.startup import CannotStart
from ldapdiag.postfix.transaction import AddressOutcome, Transaction
from ldapdiag.report.explain_report import explain_json, explain_section


def outcome_json(outcome: AddressOutcome) -> dict[str, object]:
    """One address: address, verdict, smtp_reply, recipients, steps (issue 12) and rcpt_reply."""
    return {
        "address": outcome.address,
        "verdict": outcome.verdict,
        "smtp_reply": outcome.smtp_reply,
        "rcpt_reply": outcome.rcpt_reply,
        "recipients": [recipient.as_dict() for recipient in outcome.recipients],
        "cannot_start": outcome.cannot_start.as_dict() if outcome.cannot_start else None,
        "incomplete": outcome.incomplete,
        "fault": summary(outcome.faults),
        "steps": [step.as_dict() for step in outcome.steps],
    }


def resolve_json(transaction: Transaction) -> str:
    """The JSON list, one object per address in argument order."""
    return json.dumps([outcome_json(o) for o in transaction.outcomes], indent=2) + "\n"


def _recipients_text(outcome: AddressOutcome) -> str:
    lines = []
    for recipient in outcome.recipients:
        status = recipient.status or f"via {recipient.agent} (outcome open)"
        dsn = f" {recipient.dsn}" if recipient.dsn else ""
        lines.append(f"{recipient.address}  {status}{dsn}")
    return "\n".join(lines) or "-"


def resolve_table(transaction: Transaction, verbose: bool = False) -> str:
    """A table: address, verdict, the reply, the final recipients; then the transaction's frame."""
    rows = [
        [o.address, o.verdict, o.smtp_reply or o.rcpt_reply or _no_reply(o), _recipients_text(o)]
        for o in transaction.outcomes
    ]
    head = f"MAIL FROM:<{transaction.mail_from if transaction.mail_from != '<>' else ''}> from a"
    head += " mynetworks client" if transaction.client == "mynetworks" else "n external client (port 25)"
    table = tabulate(rows, headers=["address", "verdict", "SMTP reply", "recipients"], tablefmt="simple")
    text = f"{head}\n\n{table}\n" + _cannot_start_text([o.cannot_start for o in transaction.outcomes])
    text += _incomplete_text([(o.address, o.faults) for o in transaction.outcomes])
    if verbose:
        for outcome in transaction.outcomes:
            text += f"\n{outcome.address}:\n" + "".join(f"  [{s.phase}] {s.detail}\n" for s in outcome.steps)
    return text


def _incomplete_text(items: Sequence[tuple[str, list[Fault]]]) -> str:
    """One line per prediction made while the directory did not answer (exit 2)."""
    lines = [f"INCOMPLETE {name or '<>'}: {summary(faults)}\n" for name, faults in items if faults]
    if not lines:
        return ""
    head = "\nnot checked (the directory did not answer; this is what the program does meanwhile):\n"
    return head + "".join(lines)


def _no_reply(outcome: AddressOutcome) -> str:
    """The reply cell without a reply: where the session stops, when a daemon cannot start."""
    failure = outcome.cannot_start
    return f"(no reply at {failure.stage})" if failure is not None else "-"


def _cannot_start_text(failures: Sequence[CannotStart | None]) -> str:
    """One paragraph per program that cannot start: its own error, what the client meets."""
    text = ""
    for failure in dict.fromkeys(f for f in failures if f is not None):
        text += (
            f"\n{failure.component} cannot start with this configuration:\n  {failure.error}\n"
            f"  a client meets it at {failure.stage}: {failure.client_sees}\n"
        )
    return text


def print_resolve(
    transaction: Transaction, output_format: str, explain: Sequence[Sequence[Lookup]] | None = None
) -> None:
    """Print the transaction as JSON or as a table (with --explain: each address's LDAP queries)."""
    if output_format == "json":
        if explain is None:
            click.echo(resolve_json(transaction), nl=False)
            return
        objects = [outcome_json(o) for o in transaction.outcomes]
        for item, lookups in zip(objects, explain, strict=True):
            item["explain"] = explain_json(lookups)
        click.echo(json.dumps(objects, indent=2) + "\n", nl=False)
        return
    text = resolve_table(transaction)
    if explain is not None:
        titles = [o.address for o in transaction.outcomes]
        text += explain_section(list(zip(titles, explain, strict=True)))
    click.echo(text, nl=False)


def send_as_json(outcomes: Sequence[SendAsOutcome]) -> str:
    """The JSON list, one object per sender."""
    return json.dumps([o.as_dict() for o in outcomes], indent=2) + "\n"


def send_as_table(outcomes: Sequence[SendAsOutcome]) -> str:
    """A table: sender, allowed, owners, the reply; the SASL name above it."""
    if not outcomes:
        return ""
    first = outcomes[0]
    rows = [
        [
            o.sender or "<>",
            "yes" if o.allowed else "no",
            ", ".join(o.owners) if o.owners else "-",
            o.smtp_reply or (f"(no reply at {o.cannot_start.stage})" if o.cannot_start else "-"),
        ]
        for o in outcomes
    ]
    head = f"AUTH as {first.login!r}: postfix compares sasl_username={first.sasl_username!r}"
    notes = [s.detail for s in first.steps if s.phase == "auth" and s.action != "cannot_start"]
    table = tabulate(rows, headers=["sender", "allowed", "owners", "SMTP reply"], tablefmt="simple")
    text = head + "\n" + "".join(f"  {n}\n" for n in notes) + "\n" + table + "\n"
    text += _cannot_start_text([o.cannot_start for o in outcomes])
    return text + _incomplete_text([(o.sender, o.faults) for o in outcomes])


def print_send_as(
    outcomes: Sequence[SendAsOutcome],
    output_format: str,
    explain: Sequence[Sequence[Lookup]] | None = None,
) -> None:
    """Print the send-as answers as JSON or as a table (with --explain: each sender's LDAP queries)."""
    if output_format == "json":
        if explain is None:
            click.echo(send_as_json(outcomes), nl=False)
            return
        objects = [o.as_dict() for o in outcomes]
        for item, lookups in zip(objects, explain, strict=True):
            item["explain"] = explain_json(lookups)
        click.echo(json.dumps(objects, indent=2) + "\n", nl=False)
        return
    text = send_as_table(outcomes)
    if explain is not None:
        titles = [f"sender {o.sender or '<>'}" for o in outcomes]
        text += explain_section(list(zip(titles, explain, strict=True)))
    click.echo(text, nl=False)
