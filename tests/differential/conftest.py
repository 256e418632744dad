"""Fixtures for the postmap differential tests: directories, sandbox config dirs, all answers.

Every case's answers are computed once per session: ldapdiag's (in process, `lookup --format
json`), then postmap's for all cases in parallel threads (postmap sleeps 1 s before each fatal
exit; in parallel those sleeps overlap).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from string import Template

import pytest
from click.testing import CliRunner

from ldapdiag.cli import main
from ldapdiag.demo import RunningDirectory, serve_scenario
from tests.differential import postmap
from tests.differential.cases import BASIC_CASES, FATAL_CASES, MAPS_CASES, Case
from tests.ldap_server import missing_ldap_tools
from tests.oracles.postfix import POSTMAP

MAPS_SCENARIO = Path(__file__).resolve().parents[1] / "data" / "postfix_maps" / "groups"
DEAD_URL = "ldap://127.0.0.1:1"
MAIN_CF = {
    "dms": "smtputf8_enable = no\ncompatibility_level = 3.6\nmyhostname = mail.example.org\n",
    "utf8": "smtputf8_enable = yes\ncompatibility_level = 3.6\nmyhostname = mail.example.org\n",
}
DOMAINS_TXT = "# domains of the domain-file case\nexample.org other.test\n!blocked.test, third.test\n"


@pytest.fixture(scope="session")
def maps_directory() -> Iterator[RunningDirectory]:
    """A slapd serving tests/data/postfix_maps/groups."""
    missing = missing_ldap_tools()
    if missing:
        pytest.skip(f"{missing} is not installed (Debian: slapd, ldap-utils)")
    with serve_scenario(MAPS_SCENARIO) as directory:
        yield directory


def write_cool(file: Path, text: str) -> None:
    """Write a file an hour old: postfix re-reads files modified in the last second."""
    file.write_bytes(text.encode("utf-8", "surrogateescape"))
    past = time.time() - 3600
    os.utime(file, (past, past))


def placeholders(directory: RunningDirectory, folder: Path) -> dict[str, str]:
    """The values of the `$name` placeholders in cases.py for one server."""
    return {
        "url": directory.ldap_url,
        "port": directory.ldap_url.rsplit(":", 1)[1],
        "ldaps_url": directory.ldaps_url or "",
        "ca": str(directory.ca_file),
        "base": directory.base,
        "bind_dn": directory.bind_dn,
        "bind_pw": directory.password_file.read_text().strip(),
        "dead": DEAD_URL,
        "dir": str(folder),
    }


@dataclass(frozen=True)
class Prepared:
    """One case written into its sandbox: the paths and ldapdiag's answers."""

    case: Case
    root: Path  # --from-files ROOT
    config_dir: Path  # ROOT/etc/postfix: postmap -c
    table: Path
    answers: list[dict[str, object]]  # ldapdiag lookup --format json
    exit_code: int


@dataclass(frozen=True)
class Compared:
    """A case with both programs' answers."""

    prepared: Prepared
    oracle: postmap.Oracle


def ldapdiag(root: Path, args: list[str], stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    """Run `ldapdiag lookup --from-files ROOT ARGS` in process: (exit code, stdout, stderr)."""
    result = CliRunner().invoke(main, ["lookup", "--from-files", str(root), *args], input=stdin)
    return result.exit_code, result.stdout_bytes, result.stderr_bytes


def prepare(case: Case, tmp: Path, directory: RunningDirectory) -> Prepared:
    """Write the case's table into its sandbox and ask ldapdiag about every key."""
    root = tmp / f"{case.server}-{case.main}"
    config_dir = root / "etc" / "postfix"
    if not config_dir.is_dir():
        config_dir.mkdir(parents=True)
        write_cool(config_dir / "main.cf", MAIN_CF[case.main])
        write_cool(config_dir / "master.cf", "")
        write_cool(config_dir / "domains.txt", DOMAINS_TXT)
    table = config_dir / f"{case.name}.cf"
    write_cool(table, Template(case.text).substitute(placeholders(directory, config_dir)))
    stdin = b"".join(postmap.to_bytes(key) + b"\n" for key in case.keys)
    code, out, _err = ldapdiag(root, [f"ldap:{table}", "-", "--format", "json"], stdin)
    answers = json.loads(out) if code in (0, 1, 2) and out else []
    return Prepared(case, root, config_dir, table, answers, code)


@pytest.fixture(scope="session")
def compared(
    basic_setup_directory: RunningDirectory,
    maps_directory: RunningDirectory,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Compared]:
    """Every case of cases.py: ldapdiag's answers and postmap's."""
    if POSTMAP is None:
        pytest.skip("postmap is not installed (Debian: postfix, postfix-ldap)")
    tmp = tmp_path_factory.mktemp("postmap-differential")
    servers = {"basic": basic_setup_directory, "maps": maps_directory}
    prepared = [
        prepare(case, tmp, servers[case.server]) for case in (*BASIC_CASES, *MAPS_CASES, *FATAL_CASES)
    ]
    with ThreadPoolExecutor(max_workers=12) as outer:
        futures = {
            item.case.name: (
                item,
                outer.submit(
                    postmap.ask,
                    item.config_dir,
                    [f"ldap:{item.table}"],
                    list(item.case.keys),
                    _expects_error(item),
                ),
            )
            for item in prepared
        }
        return {name: Compared(item, future.result()) for name, (item, future) in futures.items()}


def _expects_error(item: Prepared) -> Callable[[str], bool]:
    errors = {str(answer["key"]) for answer in item.answers if answer.get("error")}
    return lambda key: key in errors
