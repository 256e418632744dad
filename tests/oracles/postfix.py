"""Ask the installed postfix (postconf, postmap) what it makes of a main.cf or an ldap_table file.

Each helper writes the text into a fresh config directory and runs the real program there; no
daemon and no LDAP server are needed. Tests skip with a clear reason when a program is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

POSTCONF = shutil.which("postconf") or ("/usr/sbin/postconf" if Path("/usr/sbin/postconf").exists() else None)
POSTMAP = shutil.which("postmap") or ("/usr/sbin/postmap" if Path("/usr/sbin/postmap").exists() else None)

# postfix logs as "PROGRAM: ...", PROGRAM being argv[0] (a full path when run by path).
_CFG_GET = re.compile(r"^(?:\S*/)?postmap: cfg_get_str: (?P<path>.+?): (?P<name>\w+) = (?P<value>.*)$")
_UNION = re.compile(r"^(?:\S*/)?postmap: dict_union_open: (?P<table>.*)$")
_FATAL = re.compile(r"^(?:\S*/)?(?:postmap|postconf): fatal: (?P<message>.*)$", re.MULTILINE)


NON_UTF8_KEY = os.fsdecode(b"probe-\xff")


class PostfixFatal(Exception):
    """The program died with `fatal: ...`; the message is the exception text."""


def require(program: str | None, name: str) -> str:
    """The program path, or skip the calling test when postfix is not installed."""
    if program is None:
        pytest.skip(f"{name} is not installed (install postfix and postfix-ldap)")
    return program


def _write_cool(file: Path, data: str | bytes) -> None:
    """Write a file with an mtime an hour ago: dict_load_file_xt() re-reads a file modified in the
    last second, pausing 300 ms each time, until it has "cooled down" (about 2 s per command)."""
    file.write_bytes(data.encode() if isinstance(data, str) else data)
    past = time.time() - 3600
    os.utime(file, (past, past))


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False
    )


def _fatal(stderr: str) -> None:
    match = _FATAL.search(stderr)
    if match:
        raise PostfixFatal(match.group("message"))


def postconf(main_cf: str | bytes, *args: str) -> str:
    """Run `postconf -c DIR ARGS...` on a main.cf; stdout, or PostfixFatal."""
    program = require(POSTCONF, "postconf")
    with tempfile.TemporaryDirectory(prefix="ldapdiag-postconf-") as tmp:
        _write_cool(Path(tmp) / "main.cf", main_cf)
        _write_cool(Path(tmp) / "master.cf", "")
        result = _run([program, "-c", tmp, *args])
    _fatal(result.stderr)
    return result.stdout


def postconf_value(main_cf: str, name: str, expand: bool = False) -> str:
    """`postconf -h [-x] NAME`: the value postfix uses (whitespace squeezed by postconf's printer)."""
    flags = "-xh" if expand else "-h"
    return postconf(main_cf, flags, name).removesuffix("\n")


def postconf_n(main_cf: str | bytes) -> dict[str, str]:
    """`postconf -n`: the explicitly set known parameters, as name -> value."""
    result: dict[str, str] = {}
    for line in postconf(main_cf, "-n").splitlines():
        name, _, value = line.partition(" = ")
        result[name] = value
    result.pop("config_directory", None)
    return result


def postmap_ldap_parameters(table_cf: str | bytes) -> dict[str, str]:
    """The string parameters dict_ldap reads from an ldap table, from `postmap -v -q` (cfg_get_str logs).

    postfix's logger shows non-printable characters (a tab) as `?`. No LDAP server is needed:
    the probe key is skipped before any connection.
    """
    program = require(POSTMAP, "postmap")
    with tempfile.TemporaryDirectory(prefix="ldapdiag-postmap-") as tmp:
        _write_cool(Path(tmp) / "main.cf", "")
        table = Path(tmp) / "table.cf"
        _write_cool(table, table_cf)
        # A non-UTF-8 key: dict_ldap_lookup() skips it before connecting (no lookup, no fatal
        # "query error" with its 1 s pause), after dict_ldap_open() has logged every parameter.
        result = _run([program, "-c", tmp, "-v", "-q", NON_UTF8_KEY, f"ldap:{table}"])
    values: dict[str, str] = {}
    for line in result.stderr.splitlines():
        match = _CFG_GET.match(line)
        if match and match.group("path") == str(table):
            values.setdefault(match.group("name"), match.group("value"))
    if not values:
        _fatal(result.stderr)
    return values


def postmap_union_members(table_list: str) -> list[str]:
    """How postfix splits a table list, from `postmap -v` on `unionmap:{LIST}` (argv_splitq())."""
    program = require(POSTMAP, "postmap")
    with tempfile.TemporaryDirectory(prefix="ldapdiag-postmap-") as tmp:
        _write_cool(Path(tmp) / "main.cf", "")
        result = _run([program, "-c", tmp, "-v", "-q", "k", f"unionmap:{{{table_list}}}"])
    matches = (_UNION.match(line) for line in result.stderr.splitlines())
    return [match.group("table") for match in matches if match]
