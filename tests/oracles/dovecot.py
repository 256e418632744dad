"""Ask the installed dovecot what it makes of a dovecot.conf or a dovecot-ldap.conf.ext.

- `doveconf -c FILE ...` parses dovecot.conf exactly as the config process does (no daemon);
  `doveconf -c FILE -n` gives the dump an admin would attach to a bug report.
- `ldap_user_search()` starts a throwaway dovecot (`dovecot -F`, everything under a temp dir,
  no protocols) whose userdb is LDAP with the given file, asks `doveadm user` for one user and
  reads the "user search: base=... filter=... fields=..." debug line that dovecot logs before it
  even connects: so the LDAP file's base, user_filter and user_attrs can be checked without an
  LDAP server. A file dovecot refuses gives its "Error in configuration file" message instead.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

DOVECONF = shutil.which("doveconf")
DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
DOVEADM = shutil.which("doveadm")

_SEARCH = re.compile(
    r"user search: base=(?P<base>.*) scope=(?P<scope>\S+) filter=(?P<filter>.*) fields=(?P<fields>.*)$"
)
_CONFIG_ERROR = re.compile(r"Fatal: (?:ldap \S+: )?(?P<message>Error in configuration file .*)$")
_DOVECONF_FATAL = re.compile(r"doveconf: Fatal: (?P<message>.*)$", re.MULTILINE)


class DovecotFatal(Exception):
    """dovecot refused the configuration; the message is dovecot's."""


def require(program: str | None, name: str) -> str:
    """The program path, or skip the calling test when dovecot is not installed."""
    if program is None:
        pytest.skip(f"{name} is not installed (install dovecot-core and dovecot-ldap)")
    return program


def doveconf(config: Path, *args: str) -> str:
    """Run `doveconf -c CONFIG ARGS...`; stdout, or DovecotFatal with doveconf's message."""
    program = require(DOVECONF, "doveconf")
    result = subprocess.run(
        [program, "-c", str(config), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    match = _DOVECONF_FATAL.search(result.stderr)
    if match or result.returncode != 0:
        raise DovecotFatal(match.group("message") if match else result.stderr.strip())
    return result.stdout


def dovecot_version() -> str:
    """`dovecot --version`, e.g. "2.3.19.1 (9b53102964)": what a `doveconf -n` dump's header names."""
    program = require(DOVECOT, "dovecot")
    result = subprocess.run(
        [program, "--version"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def doveconf_value(config: Path, key: str, protocol: str | None = None) -> str:
    """`doveconf -h KEY` (optionally `-f protocol=NAME`): the value dovecot ends up with."""
    args = ["-f", f"protocol={protocol}"] if protocol else []
    return doveconf(config, *args, "-h", key).removesuffix("\n")


@dataclass(frozen=True)
class UserSearch:
    """The userdb search dovecot logged: the LDAP file's base, user_filter and user_attrs at work."""

    base: str
    scope: str
    filter: str
    fields: str


_DOVECOT_CONF = """\
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
protocols = none
ssl = no
auth_debug = yes
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
userdb {{
  driver = ldap
  args = {tmp}/dovecot-ldap.conf.ext
}}
passdb {{
  driver = static
  args = nopassword=y
}}
"""


def _wait_for(log: Path, deadline: float) -> str:
    """The first search line or configuration error in the log, waiting until `deadline`."""
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        for line in text.splitlines():
            if _SEARCH.search(line) or _CONFIG_ERROR.search(line):
                return line
        time.sleep(0.05)
    raise TimeoutError(f"dovecot logged neither a user search nor an error:\n{text}")


def _stop(process: subprocess.Popen[bytes], kill: bool = False) -> None:
    """Stop a process this module started (doveadm ignores SIGTERM for seconds: it gets SIGKILL)."""
    if process.poll() is None:
        if kill:
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def ldap_user_search(
    ldap_conf: str | bytes, user: str = "someone@example.org", extra_files: Mapping[str, str] | None = None
) -> UserSearch:
    """Run a userdb lookup through a real dovecot with this dovecot-ldap.conf.ext (no LDAP server).

    `extra_files` (name -> text) are written next to the LDAP file, for relative `!include`s.
    """
    dovecot = require(DOVECOT, "dovecot")
    doveadm = require(DOVEADM, "doveadm")
    user_name = pwd.getpwuid(os.getuid()).pw_name
    group_name = grp.getgrgid(os.getgid()).gr_name
    with tempfile.TemporaryDirectory(prefix="ldapdiag-dovecot-") as tmp:
        root = Path(tmp)
        (root / "run").mkdir()
        (root / "state").mkdir()
        data = ldap_conf.encode() if isinstance(ldap_conf, str) else ldap_conf
        (root / "dovecot-ldap.conf.ext").write_bytes(data)
        for name, text in (extra_files or {}).items():
            (root / name).write_text(text)
        config = root / "dovecot.conf"
        config.write_text(_DOVECOT_CONF.format(tmp=tmp, user=user_name, group=group_name))
        master = subprocess.Popen([dovecot, "-F", "-c", str(config)], stdin=subprocess.DEVNULL)
        lookup = None
        try:
            deadline = time.monotonic() + 30
            while not (root / "run" / "auth-userdb").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            lookup = subprocess.Popen(
                [doveadm, "-c", str(config), "user", user],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            line = _wait_for(root / "dovecot.log", deadline)
        finally:
            if lookup is not None:
                _stop(lookup, kill=True)
            _stop(master)
    error = _CONFIG_ERROR.search(line)
    if error:
        raise DovecotFatal(error.group("message"))
    match = _SEARCH.search(line)
    assert match is not None
    return UserSearch(match.group("base"), match.group("scope"), match.group("filter"), match.group("fields"))
