"""Rendering of `ldapdiag audit`: JSON Lines as each address is known, or a summary at the end;
a progress bar on stderr when (and only when) stderr is a terminal."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from typing import TextIO

import click
from tabulate import tabulate

from ldapdiag.audit.model import KIND_TITLES, KINDS, AddressAudit, AuditSummary, Finding
from ldapdiag.directory.faults import summary as fault_summary

MAX_LISTED = 1000  # broken addresses listed in the text output (all of them are in the JSON)


def address_json(audit: AddressAudit) -> dict[str, object]:
    """One JSON line: the address, where it was found, postfix's verdict, recipients, findings."""
    outcome = audit.outcome
    return {
        "type": "address",
        "address": audit.address,
        "found_in": audit.candidate.found_in,
        "dn": audit.candidate.dn,
        "verdict": outcome.verdict,
        "smtp_reply": outcome.smtp_reply,
        "recipients": [
            {"address": r.address, "status": r.status, "dsn": r.dsn, "lmtp_reply": r.lmtp_reply}
            for r in outcome.recipients
        ],
        "checked": audit.checked,
        "findings": [finding.as_dict() for finding in audit.findings],
        "incomplete": bool(outcome.faults),
        "fault": fault_summary(outcome.faults),
    }


def summary_json(summary: AuditSummary, exit_code: int) -> dict[str, object]:
    """The last JSON line: totals, findings per kind, errors, notes, the exit code."""
    return {
        "type": "summary",
        "addresses": summary.addresses,
        "broken": summary.broken,
        "unchecked": summary.unchecked,
        "entries": summary.entries,
        "findings": {kind: summary.findings.get(kind, 0) for kind in KINDS},
        "errors": summary.errors,
        "notes": summary.notes,
        "ldap_searches": summary.ldap_searches,
        "seconds": round(summary.seconds, 2),
        "exit_code": exit_code,
        "incomplete": summary.incomplete,
    }


@dataclass(frozen=True)
class RenderedAddress:
    """One audited address as printed and counted (picklable: parallel.py's workers send it)."""

    text: str | None  # the JSON line, or the text lines listing it (None: not listed)
    broken: bool
    checked: bool
    findings: tuple[Finding, ...]


class AuditPrinter:
    """Prints an audit as it goes: a JSON line per address, or the broken ones kept for the end."""

    def __init__(self, output_format: str) -> None:
        self.json = output_format == "json"
        self.listed: list[str] = []
        self.unlisted = 0

    def render(self, audit: AddressAudit) -> RenderedAddress:
        """What this format prints for the address (a worker process renders, the main prints)."""
        tally = (audit.broken, audit.checked, tuple(audit.findings))
        if self.json:
            return RenderedAddress(json.dumps(address_json(audit), ensure_ascii=False), *tally)
        if not audit.broken and audit.checked:
            return RenderedAddress(None, *tally)
        where = f"  ({audit.candidate.found_in}: {audit.candidate.dn})"
        lines = [f"{audit.address}{where}"]
        lines += [f"    {finding.kind:<12} {finding.detail}" for finding in audit.findings]
        if not audit.checked:
            lines.append(f"    {'unchecked':<12} {_unchecked(audit)}")
        return RenderedAddress("\n".join(lines), *tally)

    def emit(self, rendered: RenderedAddress) -> None:
        """Print a JSON line at once, or keep a broken address's lines for the end."""
        if rendered.text is None:
            return
        if self.json:
            click.echo(rendered.text)
            sys.stdout.flush()
            return
        if len(self.listed) >= MAX_LISTED:
            self.unlisted += 1
            return
        self.listed.append(rendered.text)

    def summary(self, summary: AuditSummary, exit_code: int) -> None:
        if self.json:
            click.echo(json.dumps(summary_json(summary, exit_code), ensure_ascii=False))
            _errors_to_stderr(summary)
            return
        click.echo(summary_text(summary), nl=False)
        if self.listed:
            click.echo("\nbroken addresses:")
            click.echo("\n".join(self.listed))
            if self.unlisted:
                click.echo(f"... and {self.unlisted} more (--format json lists every address)")
        for note in summary.notes:
            click.echo(f"note: {note}")
        _errors_to_stderr(summary)


def _errors_to_stderr(summary: AuditSummary) -> None:
    """One `ldapdiag: could not check: ...` line per error, in both formats (README: faults)."""
    for error in summary.errors:
        click.echo(f"ldapdiag: could not check: {error}", err=True)


def summary_text(summary: AuditSummary) -> str:
    """The head line and the table of findings by kind."""
    head = (
        f"audited {summary.addresses} addresses ({summary.entries} entries read, "
        f"{summary.ldap_searches} LDAP searches, {summary.seconds:.1f} s): "
        f"{summary.broken} broken, {summary.unchecked} not checked\n"
    )
    rows = [[kind, summary.findings.get(kind, 0), KIND_TITLES[kind]] for kind in KINDS]
    return head + "\n" + tabulate(rows, headers=["kind", "addresses", "what"], tablefmt="simple") + "\n"


def _unchecked(audit: AddressAudit) -> str:
    if audit.outcome.faults:
        return "the directory did not answer: " + "; ".join(f.line() for f in audit.outcome.faults[:2])
    detail = next((s.detail for s in audit.outcome.steps if s.action == "not_emulated"), "not emulated")
    return f"ldapdiag cannot predict it: {detail}"


class ProgressBar:
    """`[#####.....]  45%  4500/10000 entries  5230 addresses  12 broken` on a terminal's stderr.

    Silent when the stream is not a terminal (piped, redirected, a CI log)."""

    WIDTH = 30

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.total = max(total, 1)
        self._last = 0.0

    def update(self, entries: int, addresses: int, broken: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        share = min(entries / self.total, 1.0)
        filled = int(share * self.WIDTH)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(
            f"\r[{bar}] {share:4.0%}  {entries}/{self.total} entries  {addresses} addresses  {broken} broken"
        )
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * (self.WIDTH + 70) + "\r")
            self.stream.flush()
