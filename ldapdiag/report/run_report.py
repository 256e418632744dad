"""Rendering of `ldapdiag run`: one line per expectation (text), a JSON document, or JUnit XML.

Text: `PASS  FILE:LINE  KIND SUBJECT: ACTUAL`; a failure adds `- expected:` and `+ actual:` lines
and the differences found; `ERROR` marks an expectation that could not be checked. Nothing here
sees a password: results hold descriptions only.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field

from ldapdiag.run.model import ExpectFile, Result
from ldapdiag.run.yamlnodes import YamlProblem

LABELS = {"pass": "PASS", "fail": "FAIL", "error": "ERROR"}
INDENT = "       "


@dataclass
class RunOutcome:
    """Everything one `ldapdiag run` produced."""

    files: list[ExpectFile] = field(default_factory=list)
    results: list[tuple[ExpectFile, Result]] = field(default_factory=list)
    problems: list[YamlProblem] = field(default_factory=list)  # the files could not be read
    exit_code: int = 0

    def counts(self) -> dict[str, int]:
        statuses = [result.status for _, result in self.results]
        return {status: statuses.count(status) for status in ("pass", "fail", "error")}


# --- text -------------------------------------------------------------------------------------


def result_lines(result: Result) -> list[str]:
    """The line of one result, and for a failure the expected/actual lines and the differences."""
    label = LABELS[result.status].ljust(5)
    if result.status == "pass":
        return [f"{label}  {result.where}  {result.title}: {result.actual}"]
    if result.status == "error":
        return [f"{label}  {result.where}  {result.title}: {result.actual}"]
    lines = [f"{label}  {result.where}  {result.title}"]
    lines.append(f"{INDENT}- expected: {result.expected}")
    lines.append(f"{INDENT}+ actual:   {result.actual}")
    lines += [f"{INDENT}  {detail}" for detail in result.details]
    return lines


def summary_line(outcome: RunOutcome) -> str:
    counts = outcome.counts()
    total = sum(counts.values())
    parts = [f"{counts['pass']} passed", f"{counts['fail']} failed"]
    if counts["error"]:
        parts.append(f"{counts['error']} could not be checked")
    files = len(outcome.files)
    return f"{total} expectation{'s' * (total != 1)} in {files} file{'s' * (files != 1)}: {', '.join(parts)}"


# --- JSON -------------------------------------------------------------------------------------


def render_json(outcome: RunOutcome) -> str:
    """{exit_code, summary, files, results, errors}: results in file order."""
    counts = outcome.counts()
    document = {
        "exit_code": outcome.exit_code,
        "summary": {"passed": counts["pass"], "failed": counts["fail"], "not_checked": counts["error"]},
        "files": [
            {"path": f.path, "name": f.name, "expectations": len(f.expectations)} for f in outcome.files
        ],
        "results": [result.as_dict() for _, result in outcome.results],
        "errors": [{"where": p.where, "message": p.message} for p in outcome.problems],
    }
    return json.dumps(document, indent=2) + "\n"


# --- JUnit ------------------------------------------------------------------------------------


def render_junit(outcome: RunOutcome) -> str:
    """JUnit XML (one testsuite per expectation file) for CI systems."""
    counts = outcome.counts()
    root = ET.Element(
        "testsuites",
        name="ldapdiag run",
        tests=str(sum(counts.values()) + len(outcome.problems)),
        failures=str(counts["fail"]),
        errors=str(counts["error"] + len(outcome.problems)),
    )
    if outcome.problems:
        suite = _suite(root, "expectation files", "", len(outcome.problems), 0, len(outcome.problems))
        for problem in outcome.problems:
            case = ET.SubElement(suite, "testcase", classname="ldapdiag.run", name=f"read {problem.where}")
            ET.SubElement(case, "error", message=str(problem), type="input").text = str(problem)
    for expect_file in outcome.files:
        results = [r for f, r in outcome.results if f is expect_file]
        fails = sum(r.status == "fail" for r in results)
        errors = sum(r.status == "error" for r in results)
        suite = _suite(root, expect_file.name, expect_file.path, len(results), fails, errors)
        for result in results:
            _case(suite, expect_file, result)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(root: ET.Element, name: str, path: str, tests: int, failures: int, errors: int) -> ET.Element:
    attributes = {"name": name, "tests": str(tests), "failures": str(failures), "errors": str(errors)}
    attributes["skipped"] = "0"
    if path:
        attributes["file"] = path
    return ET.SubElement(root, "testsuite", attributes)


def _case(suite: ET.Element, expect_file: ExpectFile, result: Result) -> None:
    line = result.where.rpartition(":")[2]
    case = ET.SubElement(
        suite, "testcase", classname=expect_file.name, name=result.title, file=expect_file.path, line=line
    )
    if result.status == "pass":
        return
    body = "\n".join(result_lines(result))
    if result.status == "fail":
        message = f"expected {result.expected}; actual {result.actual}"
        ET.SubElement(case, "failure", message=message, type="expectation").text = body
    else:
        ET.SubElement(case, "error", message=result.actual, type="not-checked").text = body


def failures_text(results: Sequence[Result]) -> str:
    """All failures and errors as text (used by tests to show a readable diff)."""
    return "\n".join(line for r in results if r.status != "pass" for line in result_lines(r))
