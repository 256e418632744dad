"""The four output formats of `ldapdiag lint` (after yamllint's standard, parsable and github).

- standard: problems grouped under their file (or variable), one line each with its fix hint,
  then a summary line.
- parsable: one line per problem, `where: [level] message (code)`, for grep and editors.
- github: GitHub Actions workflow commands (`::error file=F,line=N,title=CODE::message`),
  grouped per file; info becomes `notice`.
- json: {"command", "exit_code", "counts", "server_checked", "not_checked", "problems": [...]}.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.runner import LintResult

FORMATS = ("standard", "parsable", "github", "json")


def render(result: LintResult, output_format: str, exit_code: int) -> str:
    """The report text (ending with a newline unless empty)."""
    renderers: dict[str, Callable[[LintResult, int], str]] = {
        "standard": render_standard,
        "parsable": render_parsable,
        "github": render_github,
        "json": render_json,
    }
    return renderers[output_format](result, exit_code)


def _groups(problems: list[LintProblem]) -> dict[str, list[LintProblem]]:
    groups: dict[str, list[LintProblem]] = {}
    for problem in problems:
        groups.setdefault(problem.file or problem.where, []).append(problem)
    return groups


def _summary(result: LintResult) -> str:
    counts = result.counts()
    parts = [
        f"{count} {level}{'s' if count != 1 and level != 'info' else ''}" for level, count in counts.items()
    ]
    text = ", ".join(parts)
    if not result.server_checked:
        text += " (configuration only; --server also checks the directory's schema and data)"
    return text


def render_standard(result: LintResult, exit_code: int) -> str:
    lines: list[str] = []
    for group, problems in _groups(result.problems).items():
        lines.append(group)
        for problem in problems:
            position = str(problem.line) if problem.line is not None else ""
            lines.append(f"  {position:<5} {problem.level:<8} {problem.message}  ({problem.code})")
            if problem.setting:
                lines.append(f"  {'':<5} {'':<8} in {problem.setting} [{problem.component}]")
            if problem.hint:
                lines.append(f"  {'':<5} {'':<8} fix: {problem.hint}")
        lines.append("")
    for reason in result.not_checked:
        lines.append(f"not checked: {reason}")
    lines.append(f"{_summary(result)} (exit {exit_code})")
    return "\n".join(lines) + "\n"


def render_parsable(result: LintResult, exit_code: int) -> str:
    lines = [f"{p.where}: [{p.level}] {p.message} ({p.code})" for p in result.problems]
    lines += [f"ldapdiag: [error] not checked: {reason} (not-checked)" for reason in result.not_checked]
    return "".join(line + "\n" for line in lines)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(result: LintResult, exit_code: int) -> str:
    commands = {"error": "error", "warning": "warning", "info": "notice"}
    lines: list[str] = []
    for group, problems in _groups(result.problems).items():
        lines.append(f"::group::{_escape_data(group)}")
        for p in problems:
            properties = [f"title={_escape_property(f'{p.code} ({p.component})')}"]
            message = p.message
            if p.file is not None and p.line is not None:
                properties[:0] = [f"file={_escape_property(p.file)}", f"line={p.line}"]
            else:
                message = f"{p.where}: {message}"
            if p.hint:
                message += f" (fix: {p.hint})"
            lines.append(f"::{commands[p.level]} {','.join(properties)}::{_escape_data(message)}")
        lines.append("::endgroup::")
    for reason in result.not_checked:
        lines.append(f"::error title=not-checked::{_escape_data(reason)}")
    return "".join(line + "\n" for line in lines)


def render_json(result: LintResult, exit_code: int) -> str:
    data = {
        "command": "lint",
        "exit_code": exit_code,
        "counts": result.counts(),
        "server_checked": result.server_checked,
        "not_checked": list(result.not_checked),
        "problems": [problem.as_dict() for problem in result.problems],
    }
    return json.dumps(data, indent=2) + "\n"
