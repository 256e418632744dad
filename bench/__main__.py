"""`python -m bench [--strict] [--repeat N] [TARGET...]`: run the benchmark targets, print PASS/MISS.

Exit 0 regardless of the verdicts, unless --strict (then 1 when a target is missed).
"""

from __future__ import annotations

import argparse
import compileall
import shutil
import sys
import tempfile
from pathlib import Path

from bench.context import Context
from bench.targets import discover


def main(argv: list[str] | None = None) -> int:
    targets = discover()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="TARGET", help=f"targets to run: {', '.join(targets)}")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per measurement (median; >= 3)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in targets]
    if unknown:
        parser.error(f"unknown target {unknown[0]!r} (known: {', '.join(targets)})")
    # byte-compiled as a wheel install leaves it (the editable install is not; with
    # PYTHONDONTWRITEBYTECODE set every run would compile ldapdiag's modules again)
    compileall.compile_dir(Path(__file__).resolve().parents[1] / "ldapdiag", quiet=1)
    workdir = Path(tempfile.mkdtemp(prefix="ldapdiag-bench-"))
    ctx = Context(workdir, repeat=max(3, args.repeat))
    try:
        for name in args.names or list(targets):
            print(f"== {name}", flush=True)
            targets[name](ctx)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    missed = [result for result in ctx.results if not result.passed]
    print(f"{len(ctx.results)} figures: {len(ctx.results) - len(missed)} PASS, {len(missed)} MISS")
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
