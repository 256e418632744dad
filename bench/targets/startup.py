"""`ldapdiag --version` and `ldapdiag --help`: wall time of the whole process, <= 150 ms each.

entry.py answers `--version` before click is imported, and cli.py imports engines only inside the
commands; the figure also lists how many ldapdiag modules `python -X importtime` sees imported for
`--version` (the fewer, the faster).
"""

from __future__ import annotations

import subprocess
import sys

from bench.context import LDAPDIAG, Context, Result, medians, wall

LIMIT = 0.150


def _ldapdiag_modules() -> int:
    """How many ldapdiag modules `ldapdiag --version` imports (python -X importtime)."""
    code = "import sys; sys.argv = ['ldapdiag', '--version']; from ldapdiag.entry import main; main()"
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True)
    return sum(
        1
        for line in proc.stderr.splitlines()
        if "| ldapdiag" in line
        or "|   ldapdiag" in line
        or line.rstrip().split("|")[-1].strip().startswith("ldapdiag")
    )


def run(ctx: Context) -> None:
    for option in ("--version", "--help"):
        figures = medians({option: lambda option=option: wall([LDAPDIAG, option])[0]}, max(ctx.repeat, 5))
        seconds = figures[option]
        ctx.report(
            Result(
                f"ldapdiag {option}",
                f"{seconds * 1000:.0f} ms (median of {max(ctx.repeat, 5)})",
                f"<= {LIMIT * 1000:.0f} ms",
                seconds <= LIMIT,
                f"ldapdiag modules imported: {_ldapdiag_modules()}" if option == "--version" else "",
            )
        )
