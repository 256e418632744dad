"""Rendering of `ldapdiag resolve` and `ldapdiag send-as`: a readable table, or issue 12's JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click
from tabulate import tabulate

from ldapdiag.postfix.sender_login import SendAsOutcome
from ldapdiag.postfix.transaction import AddressOutcome, Transaction


def outcome_json(outcome: AddressOutcome) -> dict[str, object]:
    """One address: address, verdict, smtp_reply, recipients, steps (issue 12) and rcpt_reply."""
    return {
        "address": outcome.address,
        "verdict": outcome.verdict,
        "smtp_reply": outcome.smtp_reply,
        "rcpt_reply": outcome.rcpt_reply,
        "recipients": [recipient.as_dict() for recipient in outcome.recipients],
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
        [o.address, o.verdict, o.smtp_reply or o.rcpt_reply or "-", _recipients_text(o)]
        for o in transaction.outcomes
    ]
    head = f"MAIL FROM:<{transaction.mail_from if transaction.mail_from != '<>' else ''}> from a"
    head += " mynetworks client" if transaction.client == "mynetworks" else "n external client (port 25)"
    table = tabulate(rows, headers=["address", "verdict", "SMTP reply", "recipients"], tablefmt="simple")
    text = f"{head}\n\n{table}\n"
    if verbose:
        for outcome in transaction.outcomes:
            text += f"\n{outcome.address}:\n" + "".join(f"  [{s.phase}] {s.detail}\n" for s in outcome.steps)
    return text


def print_resolve(transaction: Transaction, output_format: str) -> None:
    """Print the transaction as JSON or as a table."""
    if output_format == "json":
        click.echo(resolve_json(transaction), nl=False)
    else:
        click.echo(resolve_table(transaction), nl=False)


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
            o.smtp_reply or "-",
        ]
        for o in outcomes
    ]
    head = f"AUTH as {first.login!r}: postfix compares sasl_username={first.sasl_username!r}"
    notes = [s.detail for s in first.steps if s.phase == "auth"]
    table = tabulate(rows, headers=["sender", "allowed", "owners", "SMTP reply"], tablefmt="simple")
    return head + "\n" + "".join(f"  {n}\n" for n in notes) + "\n" + table + "\n"


def print_send_as(outcomes: Sequence[SendAsOutcome], output_format: str) -> None:
    """Print the send-as answers as JSON or as a table."""
    if output_format == "json":
        click.echo(send_as_json(outcomes), nl=False)
    else:
        click.echo(send_as_table(outcomes), nl=False)
