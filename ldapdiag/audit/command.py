"""`ldapdiag audit`: enumerate, resolve and check every address; stream; the exit status.

Exit status: 0 every address checked and nothing broken, 1 a finding, 2 something could not be
checked (the directory did not answer, an enumeration search failed, an address ldapdiag cannot
predict); 2 wins.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from ldapdiag.audit.batch import CHUNK, ChunkPrefetch
from ldapdiag.audit.checks import run_checks
from ldapdiag.audit.checks.context import CheckContext
from ldapdiag.audit.engine import AuditEngine
from ldapdiag.audit.enumerate import EnumerationFailed, Enumerator
from ldapdiag.audit.model import AddressAudit, AuditSummary, Candidate
from ldapdiag.config.model import MailServerConfig
from ldapdiag.directory.problems import DirectoryProblem
from ldapdiag.errors import EXIT_CANNOT_CHECK, EXIT_FINDING, EXIT_OK
from ldapdiag.report.audit_report import AuditPrinter, ProgressBar, RenderedAddress


def audit_address(engine: AuditEngine, candidate: Candidate) -> AddressAudit:
    """One address through postfix and dovecot, and the checks of every fault kind.

    A fault met by a check (the IMAP login's lookups) makes the address incomplete too."""
    outcome = engine.probe(candidate.address)
    audit = AddressAudit(candidate, outcome)
    if audit.checked:
        faults = engine.trace.faults
        mark = faults.mark()
        audit.findings = run_checks(CheckContext(candidate, outcome, engine))
        outcome.faults += faults.since(mark)
    return audit


def audit_chunk(
    engine: AuditEngine, prefetch: ChunkPrefetch, chunk: list[Candidate]
) -> Iterator[AddressAudit]:
    """A chunk's addresses in order: batched searches ahead of each part (batch.py), then each address."""
    while chunk:
        ready = prefetch.prefetch([c.address for c in chunk]) if engine.fast else len(chunk)
        for candidate in chunk[:ready]:
            yield audit_address(engine, candidate)
        chunk = chunk[ready:]


def _chunks(candidates: Iterator[Candidate], size: int) -> Iterator[list[Candidate]]:
    """The first address alone (it opens postfix's and dovecot's connections), then `size` at a time."""
    chunk: list[Candidate] = []
    limit = 1
    try:
        for candidate in candidates:
            chunk.append(candidate)
            if len(chunk) >= limit:
                yield chunk
                chunk, limit = [], size
    except (EnumerationFailed, DirectoryProblem):
        if chunk:  # enumerated before the directory failed: audited (incomplete), never dropped
            yield chunk
        raise
    if chunk:
        yield chunk


def exit_code(summary: AuditSummary) -> int:
    if summary.errors or summary.unchecked:
        return EXIT_CANNOT_CHECK
    return EXIT_FINDING if summary.broken else EXIT_OK


def run_audit(
    config: MailServerConfig,
    *,
    output_format: str,
    ca_file: Path | None = None,
    ca_dir: Path | None = None,
    fast: bool = True,
    jobs: int = 1,
) -> int:
    """The `audit` command (`fast=False`: no batched searches, every search sent on its own, in
    this process; `jobs` > 1: chunks audited by that many worker processes, parallel.py)."""
    started = time.monotonic()
    printer = AuditPrinter(output_format)
    summary = AuditSummary()
    engine = AuditEngine(config, (ca_file,) if ca_file else (), (ca_dir,) if ca_dir else (), fast=fast)
    with engine:
        try:
            audit_all(engine, summary, printer, jobs)
        except DirectoryProblem as error:  # the enumeration's connection failed: a fault
            engine.trace.faults.add("postfix", error.problem)
        except EnumerationFailed as error:
            summary.errors.append(str(error))
        faults = engine.trace.faults.distinct()
        summary.errors += [fault.line() for fault in faults]
        summary.incomplete = bool(faults)
        summary.ldap_searches = engine.trace.searches
    summary.seconds = time.monotonic() - started
    code = exit_code(summary)
    printer.summary(summary, code)
    return code


def audit_all(engine: AuditEngine, summary: AuditSummary, printer: AuditPrinter, jobs: int = 1) -> None:
    """Enumerate and audit, address by address, as the pages arrive."""
    plan = engine.plan()
    summary.notes += plan.notes
    if not plan.searches:
        summary.errors.append(
            "no table of virtual_mailbox_maps or virtual_alias_maps can be enumerated: nothing to audit"
        )
        return
    enumerator = Enumerator(plan, engine.enumeration_directory)
    prefetch = ChunkPrefetch(engine)
    bar = ProgressBar(0)
    if bar.enabled:
        bar = ProgressBar(enumerator.count())

    def show(rendered: RenderedAddress) -> None:
        summary.add(rendered)
        summary.entries = enumerator.entries
        printer.emit(rendered)
        bar.update(enumerator.entries, summary.addresses, summary.broken)

    def here(chunk: list[Candidate]) -> None:
        for audit in audit_chunk(engine, prefetch, chunk):
            show(printer.render(audit))

    try:
        if jobs > 1 and engine.fast:
            from ldapdiag.audit.parallel import PARALLEL_CHUNK, audit_in_workers

            chunks = _chunks(enumerator.candidates(), PARALLEL_CHUNK)
            audit_in_workers(engine, chunks, here, show, jobs, "json" if printer.json else "text")
        else:
            for chunk in _chunks(enumerator.candidates(), CHUNK if engine.fast else 1):
                here(chunk)
    finally:
        summary.entries = enumerator.entries
        bar.finish()
