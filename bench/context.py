"""What every benchmark target gets: a scratch directory, timing helpers, and where results go."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LDAPDIAG = str(Path(sys.executable).with_name("ldapdiag"))


@dataclass(frozen=True)
class Result:
    """One target's verdict: the figure measured, the limit, and PASS/MISS."""

    target: str
    measured: str  # e.g. "0.41x (ldapdiag 0.50 s / postmap 1.22 s)"
    limit: str  # e.g. "<= 0.5x"
    passed: bool
    notes: str = ""


@dataclass
class Context:
    """Shared by the targets of one `python -m bench` run."""

    workdir: Path
    repeat: int = 3
    results: list[Result] = field(default_factory=list)

    def scratch(self, name: str) -> Path:
        """A fresh folder for one target."""
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def report(self, result: Result) -> None:
        """Record and print one target's verdict."""
        self.results.append(result)
        verdict = "PASS" if result.passed else "MISS"
        print(f"{verdict}  {result.target}: {result.measured} (target {result.limit})", flush=True)
        if result.notes:
            print(f"      {result.notes}", flush=True)


def wall(
    command: Sequence[str], stdin: bytes | None = None, env: dict[str, str] | None = None
) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    """Run a command once: (wall seconds, the finished process)."""
    start = time.perf_counter()
    proc = subprocess.run(
        list(command), input=stdin, capture_output=True, check=False, env=env or dict(os.environ)
    )
    return time.perf_counter() - start, proc


def medians(runs: dict[str, Callable[[], float]], repeat: int) -> dict[str, float]:
    """The median of `repeat` timings of each run, the runs interleaved (same load for each)."""
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            samples[name].append(run())
    return {name: statistics.median(values) for name, values in samples.items()}
