"""`ldapdiag lookup` output: postmap -q's text, or JSON.

Text: one key given prints its value; several keys (or `-`) print `key<TAB>value` for each key
found, in order. Standard error gets the lines postfix would log (`warning: ...`), then one line
per failed key. JSON: a list, one object per key: `key`, `found`, `value`, `error` (postfix's
warning text of a temporary failure, else null), `table` (the table that answered), `warnings`
(the lines postfix logs), `steps` (what each table did: searches with base, scope, filter...).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from ldapdiag.directory.faults import Fault, summary
from ldapdiag.postfix.tables import LookupResult, QueryStep

if TYPE_CHECKING:  # --explain only: imported when asked for
    from ldapdiag.explain.model import Lookup


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def log_lines(result: LookupResult) -> list[str]:
    """The lines postfix logs for this lookup (`warning: ...`, `error: ...`)."""
    return [step.detail for step in result.steps if step.action == "log"]


def render_text(results: Sequence[LookupResult], single: bool) -> tuple[bytes, list[str]]:
    """(stdout bytes, stderr lines) exactly as postmap -q prints found keys."""
    out = bytearray()
    err: list[str] = []
    for result in results:
        err += [f"ldapdiag: {line}" for line in log_lines(result)]
        if result.error is not None:
            err.append(
                f"ldapdiag: lookup error: table {result.table}: query error for key "
                f"{result.key!r} (postfix: temporary failure)"
            )
        elif result.found and result.value is not None:
            out += _bytes(result.value + "\n") if single else _bytes(f"{result.key}\t{result.value}\n")
    return bytes(out), err


def _step(step: QueryStep) -> dict[str, object]:
    data: dict[str, object] = {"table": step.table, "action": step.action, "detail": step.detail}
    optional = {
        "base": step.base,
        "scope": step.scope,
        "filter": step.filter,
        "attributes": list(step.attributes) if step.attributes else None,
        "dns": list(step.dns) if step.action == "search" or step.dns else None,
        "values": list(step.values) if step.values else None,
    }
    data.update({key: value for key, value in optional.items() if value is not None})
    return data


def as_json(result: LookupResult, faults: Sequence[Fault] = ()) -> dict[str, object]:
    """One key's answer as JSON (`incomplete`: the directory did not answer, `fault` says why)."""
    return {
        "key": result.key,
        "found": result.found,
        "value": result.value if result.found else None,
        "error": result.error,
        "incomplete": bool(faults),
        "fault": summary(list(faults)),
        "table": result.table,
        "warnings": log_lines(result),
        "steps": [_step(step) for step in result.steps if step.action != "log"],
    }


def render_json(results: Sequence[LookupResult], faults: Sequence[Sequence[Fault]] = ()) -> str:
    """The answers as a JSON list."""
    per_key = list(faults) + [()] * (len(results) - len(faults))
    return json.dumps([as_json(r, f) for r, f in zip(results, per_key, strict=True)], indent=2) + "\n"


def print_lookup(
    results: Sequence[LookupResult],
    output_format: str,
    single: bool,
    faults: Sequence[Sequence[Fault]] = (),
    explain: Sequence[Sequence[Lookup]] | None = None,
) -> None:
    """Print the answers (stdout) and postfix's log lines (stderr); --explain: the queries after them."""
    if explain is not None:
        from ldapdiag.report.explain_report import explain_section, with_explain
    if output_format == "json":
        text = render_json(results, faults)
        click.echo(text if explain is None else with_explain(text, explain), nl=False)
        return
    out, err = render_text(results, single)
    if out:
        click.echo(out, nl=False)
    for line in err:
        click.echo(_bytes(line), err=True)
    if explain is not None:
        titles = [f"key {result.key!r}" for result in results]
        click.echo(explain_section(list(zip(titles, explain, strict=True))), nl=False)
