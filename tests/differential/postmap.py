"""Run the real `postmap -q` (Debian postfix-ldap) in a sandbox config directory, key by key.

postmap dies at the first key whose lookup fails (`fatal: table ...: query error`), loses the
output of the keys before it, and sleeps 1 s first. So keys are sent in batches through
`postmap -q -`; a key expected to fail is sent alone (`postmap -q KEY`), and a batch that dies
anyway is redone key by key. Runs go in parallel threads. The answers are postmap's own.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.oracles.postfix import POSTMAP, require

_LOG = re.compile(r"^(?:\S*/)?postmap: (?P<level>warning|error|fatal): (?P<text>.*)$")
POOL = ThreadPoolExecutor(max_workers=24)


@dataclass(frozen=True)
class Answer:
    """What postmap said for one key."""

    key: str
    status: str  # found | notfound | error
    value: bytes | None = None
    error: str | None = None  # the last warning/error line before the fatal, without its level
    logs: tuple[str, ...] = ()  # every line logged by this key's own run (single-key runs)


@dataclass(frozen=True)
class Run:
    """One postmap process."""

    stdout: bytes
    returncode: int
    logs: tuple[str, ...]  # "warning: ...", "error: ..." (fatal lines excluded)
    fatal: str | None


def to_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def run(config_dir: Path, maps: Sequence[str], key: str | None, keys: Sequence[str] = ()) -> Run:
    """`postmap -c DIR -q KEY MAPS...`, or `-q -` with `keys` on stdin when key is None."""
    program = require(POSTMAP, "postmap")
    query = "-" if key is None else key
    data = b"".join(to_bytes(k) + b"\n" for k in keys) if key is None else None
    args = [program, "-c", str(config_dir), "-q", os.fsencode(query), *maps]
    proc = subprocess.run(
        args,
        input=data,
        capture_output=True,
        timeout=120,
        check=False,
        stdin=None if data is not None else subprocess.DEVNULL,
    )
    logs: list[str] = []
    fatal = None
    for line in proc.stderr.decode("utf-8", "surrogateescape").splitlines():
        match = _LOG.match(line)
        if not match:
            continue
        if match.group("level") == "fatal":
            fatal = match.group("text")
        else:
            logs.append(f"{match.group('level')}: {match.group('text')}")
    return Run(proc.stdout, proc.returncode, tuple(logs), fatal)


def single_answer(key: str, result: Run) -> Answer:
    """The answer of a `postmap -q KEY` run."""
    if result.fatal is not None:
        last = result.logs[-1].split(": ", 1)[1] if result.logs else result.fatal
        return Answer(key, "error", error=last, logs=result.logs)
    if result.returncode == 0:
        return Answer(key, "found", value=result.stdout.removesuffix(b"\n"))
    return Answer(key, "notfound")


def batch_answers(keys: Sequence[str], result: Run) -> list[Answer]:
    """The answers of a `postmap -q -` run that did not die: `key<TAB>value` lines in key order."""
    lines = result.stdout.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    answers: list[Answer] = []
    position = 0
    for key in keys:
        prefix = to_bytes(key) + b"\t"
        if position < len(lines) and lines[position].startswith(prefix):
            answers.append(Answer(key, "found", value=lines[position][len(prefix) :]))
            position += 1
        else:
            answers.append(Answer(key, "notfound"))
    assert position == len(lines), f"unparsed postmap output: {lines[position:]!r}"
    return answers


@dataclass
class Oracle:
    """postmap's answers for keys on one table (or table list), plus every run made."""

    answers: list[Answer]
    runs: list[tuple[list[str], Run]]  # (keys, run) for batches; ([key], run) for single keys

    @property
    def logs(self) -> set[str]:
        return {line for _keys, result in self.runs for line in result.logs}


def ask(
    config_dir: Path, maps: Sequence[str], keys: Sequence[str], expect_error: Callable[[str], bool]
) -> Oracle:
    """postmap's answer for every key: batches of keys not expected to fail, the others alone."""
    segments: list[tuple[bool, list[str]]] = []
    for key in keys:
        alone = expect_error(key) or key == "-"
        if alone or not segments or segments[-1][0]:
            segments.append((alone, [key]))
        else:
            segments[-1][1].append(key)
    futures = [
        (alone, group, POOL.submit(run, config_dir, maps, group[0] if alone else None, group))
        for alone, group in segments
    ]
    answers: list[Answer] = []
    runs: list[tuple[list[str], Run]] = []
    for alone, group, future in futures:
        result = future.result()
        runs.append((group, result))
        if alone:
            answers.append(single_answer(group[0], result))
        elif result.fatal is None:
            answers += batch_answers(group, result)
        else:
            singles = [(key, POOL.submit(run, config_dir, maps, key)) for key in group]
            for key, single in singles:
                single_run = single.result()
                runs.append(([key], single_run))
                answers.append(single_answer(key, single_run))
    return Oracle(answers, runs)


def printable(text: str, utf8: bool) -> str:
    """postfix's printable(text, '?') on log lines: non-printable (and, outside UTF-8 mode,
    non-ASCII) bytes become `?`."""
    out: list[str] = []
    for char in text:
        if " " <= char <= "~" or (utf8 and ord(char) > 127 and not 0xDC80 <= ord(char) <= 0xDCFF):
            out.append(char)
        else:
            out.append("?" * len(char.encode("utf-8", "surrogateescape")))
    return "".join(out)
