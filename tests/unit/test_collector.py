"""Every ldapdiag command runs with rarer collections, and the console script
leaves its objects out of the collection CPython runs at exit (ldapdiag/collector.py)."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from ldapdiag.cli import main
from ldapdiag.collector import FULL_COLLECTION_EVERY, NEW_OBJECTS_PER_COLLECTION
from tests.ldap_server import BASIC_SETUP


@pytest.fixture
def default_thresholds() -> Iterator[tuple[int, int, int]]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's defaults
    yield gc.get_threshold()
    gc.set_threshold(*saved)


def test_a_command_makes_collections_rarer(default_thresholds: tuple[int, int, int]) -> None:
    result = CliRunner().invoke(main, ["config", "--no-env", "--format", "json"])
    assert result.exit_code in (0, 2), result.output
    assert gc.get_threshold() == (NEW_OBJECTS_PER_COLLECTION, 10, FULL_COLLECTION_EVERY)
    assert default_thresholds[0] < NEW_OBJECTS_PER_COLLECTION
    assert default_thresholds[2] < FULL_COLLECTION_EVERY


FROZEN_AT_EXIT = (
    "import atexit, gc, sys\n"
    "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 1000, file=sys.stderr))\n"
)


def _frozen_at_exit(code: str, *args: str) -> bool:
    """Whether every object was frozen by the time atexit handlers ran (just before CPython's last
    collection), in a fresh interpreter running `code`."""
    done = subprocess.run(
        [sys.executable, "-c", FROZEN_AT_EXIT + code, *args], capture_output=True, text=True, check=False
    )
    assert done.stderr.splitlines()[-1:] in (["frozen True"], ["frozen False"]), done.stderr
    return done.stderr.splitlines()[-1] == "frozen True"


def test_the_console_script_skips_the_final_collection() -> None:
    run_config = (
        "sys.argv = ['ldapdiag', 'config', '--no-env', '--format', 'json']\n"
        "from ldapdiag.entry import main\n"
        "main()\n"
    )
    assert _frozen_at_exit(run_config)


def test_an_audit_worker_skips_the_final_collection() -> None:
    """The main waits for its workers to end: their exit is part of the audit's time."""
    serve_nothing = (
        "import multiprocessing\n"
        "from pathlib import Path\n"
        "from ldapdiag.audit.parallel import WorkerSetup, _serve, pickle_config\n"
        "from ldapdiag.config.load import load_config\n"
        "from ldapdiag.config.sources import SourceOptions\n"
        "config = load_config(SourceOptions(env_files=(Path(sys.argv[1]),), use_environment=False), {})\n"
        "mine, theirs = multiprocessing.Pipe()\n"
        "mine.send(None)\n"
        "setup = WorkerSetup(pickle_config(config), (), (), False, 'json', None, gc.get_threshold())\n"
        "_serve(theirs, setup)\n"
    )
    assert _frozen_at_exit(serve_nothing, str(BASIC_SETUP / "mailserver.env"))
    assert not _frozen_at_exit("import ldapdiag.audit.parallel\n")  # the probe can tell
