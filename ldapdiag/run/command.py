"""`ldapdiag run EXPECT.yaml...`: check expectation files against the configuration and directory.

Every file is read first; one that cannot be read (bad YAML, an unknown key...) stops the run
before anything is checked, each problem printed as `FILE:LINE: message`. Then every expectation
is checked in file order, one line each (as it completes). Exit status: 0 every expectation holds,
1 one does not, 2 something could not be checked (a file, a password, an unreachable server, an
outcome ldapdiag cannot predict) - 2 wins over 1.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import click

from ldapdiag.config.model import MailServerConfig
from ldapdiag.errors import EXIT_CANNOT_CHECK, EXIT_FINDING, EXIT_OK
from ldapdiag.report.run_report import RunOutcome, render_json, render_junit, result_lines, summary_line
from ldapdiag.run.answers import Oracle
from ldapdiag.run.evaluate import Evaluator
from ldapdiag.run.model import ExpectFile
from ldapdiag.run.parse import parse_file


def read_files(paths: Sequence[Path], outcome: RunOutcome) -> None:
    """Parse every file into `outcome` (files, or problems)."""
    for path in paths:
        parsed, problems = parse_file(path, str(path))
        outcome.problems += problems
        if parsed is not None:
            outcome.files.append(parsed)


def exit_code(outcome: RunOutcome) -> int:
    counts = outcome.counts()
    if outcome.problems or counts["error"]:
        return EXIT_CANNOT_CHECK
    return EXIT_FINDING if counts["fail"] else EXIT_OK


def run_expectations(
    config: MailServerConfig,
    paths: Sequence[Path],
    *,
    output_format: str = "text",
    junit: Path | None = None,
    ca_file: Path | None = None,
    ca_dir: Path | None = None,
    oracle: Oracle | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Check the files, print the results in `output_format`, write `junit`; the exit status."""
    outcome = check_files(
        config,
        paths,
        ca_file=ca_file,
        ca_dir=ca_dir,
        oracle=oracle,
        environ=environ,
        stream=output_format == "text",
    )
    if output_format == "json":
        click.echo(render_json(outcome), nl=False)
    if junit is not None:
        try:
            junit.write_text(render_junit(outcome), encoding="utf-8")
        except OSError as error:
            click.echo(f"ldapdiag: error: {junit}: cannot write the JUnit report: {error.strerror}", err=True)
            return EXIT_CANNOT_CHECK
    return outcome.exit_code


def check_files(
    config: MailServerConfig,
    paths: Sequence[Path],
    *,
    ca_file: Path | None = None,
    ca_dir: Path | None = None,
    oracle: Oracle | None = None,
    environ: Mapping[str, str] | None = None,
    stream: bool = False,
) -> RunOutcome:
    """Read and check the files; with `stream`, print each result line as it is known."""
    outcome = RunOutcome()
    read_files(paths, outcome)
    if outcome.problems:
        for problem in outcome.problems:
            click.echo(f"ldapdiag: error: {problem}", err=True)
        outcome.files = []
        outcome.exit_code = EXIT_CANNOT_CHECK
        return outcome
    blocked: dict[str, str] = {}
    if oracle is None:
        from ldapdiag.run.engine_oracle import EngineOracle
        from ldapdiag.run.preflight import unreachable_components

        oracle = EngineOracle(config, ca_file, ca_dir)
        blocked = unreachable_components(config)
    evaluator = Evaluator(oracle, os.environ if environ is None else environ, blocked)
    for expect_file in outcome.files:
        if stream:
            _echo_header(expect_file)
        for result in evaluator.run(expect_file):
            outcome.results.append((expect_file, result))
            if stream:
                for line in result_lines(result):
                    click.echo(line)
    outcome.exit_code = exit_code(outcome)
    if stream:
        click.echo(summary_line(outcome))
    _print_faults(oracle, blocked)
    return outcome


def _print_faults(oracle: Oracle, blocked: Mapping[str, str]) -> None:
    """What could not be checked because the directory did not answer, one line each on stderr."""
    from ldapdiag.report.faults_report import print_faults

    for reason in blocked.values():
        click.echo(f"ldapdiag: could not check: {reason}", err=True)
    fault_log = getattr(oracle, "fault_log", None)
    if fault_log is not None:
        print_faults(fault_log())


def _echo_header(expect_file: ExpectFile) -> None:
    count = len(expect_file.expectations)
    named = f" ({expect_file.name})" if expect_file.name != Path(expect_file.path).name else ""
    click.echo(f"== {expect_file.path}{named}: {count} expectation{'s' * (count != 1)}")
