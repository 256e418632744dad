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
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
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


# ------------------------------------------------------------------------------------------------
# A long-running sandbox dovecot with an LDAP passdb/userdb: doveadm and LMTP as oracles

_SANDBOX_CONF = """\
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
protocols = lmtp
ssl = no
auth_debug = yes
auth_verbose = yes
auth_failure_delay = 0
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
stats_writer_socket_path =
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
}}
{settings}
passdb {{
  driver = ldap
  args = {tmp}/dovecot-ldap.conf.ext
}}
userdb {{
  driver = ldap
  args = {tmp}/dovecot-ldap.conf.ext
}}
"""

_PASSDB_RESULTS = (
    (
        re.compile(
            r"LDAP search returned multiple entries|ldap_search\(|ldap_bind\(\) failed|Failed to expand"
        ),
        "internal_failure",
    ),
    (
        re.compile(r"unknown user|Username character disallowed|Empty username|password having illegal"),
        "unknown",
    ),
    (
        re.compile(
            r"Password mismatch|Password data is not valid|Invalid password in passdb|Unknown scheme"
            r"|No password returned|Login attempt with empty password"
        ),
        "mismatch",
    ),
)


@dataclass(frozen=True)
class DoveadmAnswer:
    """What doveadm printed, parsed, and the dovecot log lines the probe caused."""

    exit_code: int
    stdout: str
    fields: dict[str, str]
    log: tuple[str, ...]


class DovecotSandbox:
    """`dovecot -F -c FILE` with protocols = lmtp and the given LDAP file; doveadm and LMTP probes.

    Everything lives in a temp dir (base_dir, state_dir, log). No auth failure delay and no anvil
    auth penalty (its socket is unusable), so failed logins cost nothing.
    """

    def __init__(self, ldap_conf: str, settings: str = "", wrapper: Sequence[str] = ()) -> None:
        self.ldap_conf = ldap_conf
        self.settings = settings
        self.wrapper = tuple(wrapper)  # a command prefix for dovecot, e.g. a private mount namespace
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._master: subprocess.Popen[bytes] | None = None
        self.root = Path()

    def __enter__(self) -> DovecotSandbox:
        dovecot = require(DOVECOT, "dovecot")
        require(DOVEADM, "doveadm")
        self._tmp = tempfile.TemporaryDirectory(prefix="ldapdiag-dovecot-")
        self.root = Path(self._tmp.name)
        (self.root / "run").mkdir()
        (self.root / "state").mkdir()
        (self.root / "dovecot-ldap.conf.ext").write_text(self.ldap_conf)
        self.config = self.root / "dovecot.conf"
        self.config.write_text(
            _SANDBOX_CONF.format(
                tmp=self.root,
                user=pwd.getpwuid(os.getuid()).pw_name,
                group=grp.getgrgid(os.getgid()).gr_name,
                settings=self.settings,
            )
        )
        self._master = subprocess.Popen(
            [*self.wrapper, dovecot, "-F", "-c", str(self.config)], stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while not (self.root / "run" / "lmtp").exists():
            if time.monotonic() > deadline or self._master.poll() is not None:
                self.__exit__()
                raise DovecotFatal(self.log_text() or "dovecot did not start")
            time.sleep(0.05)
        return self

    def signal_stop(self) -> None:
        """SIGTERM to dovecot now, without waiting: __exit__ later finds it gone (dovecot takes
        about a second to stop; many sandboxes stop side by side)."""
        if self._master is not None and self._master.poll() is None:
            self._master.terminate()

    def __exit__(self, *exc: object) -> None:
        if self._master is not None:
            _stop(self._master)
            self._master = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def log_text(self) -> str:
        log = self.root / "dovecot.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def _doveadm(self, *args: str) -> tuple[subprocess.CompletedProcess[str], tuple[str, ...]]:
        start = len(self.log_text())
        result = subprocess.run(
            [require(DOVEADM, "doveadm"), "-c", str(self.config), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        time.sleep(0.02)  # the auth process logs asynchronously
        return result, tuple(self.log_text()[start:].splitlines())

    def user(self, name: str, service: str = "lmtp") -> DoveadmAnswer:
        """`doveadm user -u -x service=SERVICE NAME`: fields printed as `  key : value`."""
        result, log = self._doveadm("user", "-u", "-x", f"service={service}", name)
        fields: dict[str, str] = {}
        for line in result.stdout.splitlines()[1:]:
            if line.startswith("  "):
                key, colon, value = line.strip().partition(":")
                fields[key.strip()] = value.strip() if colon else ""
        return DoveadmAnswer(result.returncode, result.stdout, fields, log)

    def auth(self, kind: str, name: str, password: str, service: str = "imap") -> DoveadmAnswer:
        """`doveadm auth test|login -x service=SERVICE NAME PASSWORD`: extra fields as key=value."""
        result, log = self._doveadm("auth", kind, "-x", f"service={service}", name, password)
        fields: dict[str, str] = {}
        section = ""
        for line in result.stdout.splitlines():
            if not line.startswith(" "):
                section = line.strip()
                continue
            key, _, value = line.strip().partition("=")
            prefix = "userdb:" if section.startswith("userdb") else ""
            fields[prefix + key] = value
        return DoveadmAnswer(result.returncode, result.stdout, fields, log)

    def lmtp_rcpt(self, address: str) -> str:
        """The reply dovecot's LMTP gives to RCPT TO:<address> (one line, "CODE X.Y.Z text")."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(60)
            sock.connect(str(self.root / "run" / "lmtp"))
            stream = sock.makefile("rwb")

            def reply() -> str:
                lines = []
                while True:
                    line = stream.readline().decode("utf-8", "replace").rstrip("\r\n")
                    lines.append(line)
                    if len(line) < 4 or line[3] != "-":
                        return lines[-1]

            def send(command: str) -> str:
                stream.write(command.encode() + b"\r\n")
                stream.flush()
                return reply()

            reply()
            send("LHLO ldapdiag.test")
            send("MAIL FROM:<>")
            answer = send(f"RCPT TO:<{address}>")
            send("QUIT")
            return answer


# `doveadm user` exit codes as userdb results (EX_NOUSER, EX_TEMPFAIL)
EXIT_RESULTS = {0: "ok", 67: "unknown", 75: "internal_failure"}


def passdb_result(log: tuple[str, ...]) -> str | None:
    """The passdb verdict dovecot logged (auth_verbose): ok, unknown, mismatch, internal_failure."""
    text = "\n".join(log)
    for pattern, result in _PASSDB_RESULTS:
        if pattern.search(text):
            return result
    return None


# top-level dovecot.conf settings the sandbox decides itself
_SANDBOX_KEYS = frozenset(
    {"protocols", "listen", "ssl", "log_path", "base_dir", "state_dir", "auth_debug", "auth_verbose"}
)


def sandbox_settings(dovecot_main: object) -> str:
    """The top-level settings of a parsed dovecot.conf (a DovecotConf), for DovecotSandbox."""
    settings = getattr(dovecot_main, "settings", None)
    if settings is None:
        return ""
    lines = []
    for key, entry in settings.effective().items():
        if key not in _SANDBOX_KEYS:
            value = entry.value
            quoted = (
                value
                if value == value.strip() and "#" not in value
                else '"' + value.replace('"', '\\"') + '"'
            )
            lines.append(f"{key} = {quoted}")
    return "\n".join(lines)
