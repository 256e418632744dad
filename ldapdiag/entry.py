"""The `ldapdiag` console script: `--version` alone is answered before click is imported.

Importing click and the command tree costs about as much as the whole `--version` budget (150 ms,
issue 9); every other command line goes to cli.main unchanged.
"""

from __future__ import annotations

import sys

from ldapdiag import __version__

VERSION_LINE = f"ldapdiag, version {__version__}\n"  # click.version_option's "%(prog)s, version %(version)s"


def main() -> None:
    """Run ldapdiag: `ldapdiag --version` prints what click's version option prints, without click."""
    if sys.argv[1:] == ["--version"]:
        sys.stdout.write(VERSION_LINE)
        sys.stdout.flush()
        return
    from ldapdiag.cli import main as cli_main

    cli_main()
