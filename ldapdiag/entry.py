"""The `ldapdiag` console script: `--version` and `--help` are answered before click is imported.

Importing click and the command tree costs about as much as the whole 150 ms budget of these two
(issue 9). `--help` prints help_text.MAIN_HELP, click's own rendering kept in a file, where click
would render it the same: 78 columns wide (a terminal of 80 columns or more, or no terminal) under
the program name `ldapdiag`. Every other command line goes to cli.main unchanged.
"""

from __future__ import annotations

import os
import sys

from ldapdiag import __version__

VERSION_LINE = f"ldapdiag, version {__version__}\n"  # click.version_option's "%(prog)s, version %(version)s"
HELP_COLUMNS = 80  # click's HelpFormatter: width = min(terminal columns, 80) - 2


def main() -> None:
    """Run ldapdiag: `--version` and `--help` print what click prints for them, without click."""
    args = sys.argv[1:]
    if args == ["--version"]:
        _print(VERSION_LINE)
        return
    if args in (["--help"], ["-h"]) and _help_is_the_kept_one():
        from ldapdiag.help_text import MAIN_HELP

        _print(MAIN_HELP)
        return
    from ldapdiag.cli import main as cli_main
    from ldapdiag.collector import skip_final_collection

    try:
        cli_main()
    finally:
        skip_final_collection()


def _help_is_the_kept_one() -> bool:
    """Whether click would render the main help as kept: program name `ldapdiag`, 78 columns."""
    import shutil

    return os.path.basename(sys.argv[0]) == "ldapdiag" and shutil.get_terminal_size().columns >= HELP_COLUMNS


def _print(text: str) -> None:
    """click.echo() and click's main(): nothing without a stdout; exit 1, quietly, on a closed pipe."""
    out = sys.stdout
    if out is None:
        return
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())  # the exit's own flush stays quiet
        sys.exit(1)
