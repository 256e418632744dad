"""Start the real daemons inside the sandbox (agent side) and wait until each one serves."""

from __future__ import annotations

import grp
import os
import subprocess
import time
from pathlib import Path

from tests.sandbox import layout

START_TIMEOUT = 20.0
POLL = 0.01


class DaemonError(RuntimeError):
    """A daemon did not start; the message carries the end of its log."""


def run(args: list[str], timeout: float = 60, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a program to completion, output captured."""
    return subprocess.run(
        args,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def tail(path: str, lines: int = 15) -> str:
    """The last lines of a log file ("" if missing)."""
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Daemons:
    """postfix (always), dovecot (unless SMTP_ONLY) and saslauthd (when configured)."""

    def __init__(self, dovecot: bool, saslauthd_conf: str | None, postfix_may_fail: bool = False) -> None:
        self.want_dovecot = dovecot
        self.saslauthd_conf = saslauthd_conf
        self.postfix_may_fail = postfix_may_fail  # a test of a configuration postfix refuses
        self.postfix_error: str | None = None  # `postfix start`'s output when it failed (and may)
        self.dovecot: subprocess.Popen[bytes] | None = None
        self.saslauthd: subprocess.Popen[bytes] | None = None
        self.timings: dict[str, float] = {}

    def start(self) -> None:
        """Start everything, the slow postfix start-up overlapping the others."""
        begin = time.monotonic()
        if self.want_dovecot:
            self.dovecot = self._spawn(
                ["dovecot", "-F", "-c", layout.DOVECOT_CONF], "/var/log/dovecot-stderr.log"
            )
        if self.saslauthd_conf is not None:
            self._saslauthd_rundir()
            self.saslauthd = self._spawn(
                [
                    "saslauthd",
                    "-a",
                    "ldap",
                    "-O",
                    self.saslauthd_conf,
                    "-m",
                    layout.SASLAUTHD_RUNDIR,
                    "-n",
                    "1",
                    "-d",
                ],
                layout.SASLAUTHD_LOG,
                new_session=True,  # on SIGTERM saslauthd signals its whole process group
            )
        result = run(["postfix", "start"])
        if result.returncode:
            self.postfix_error = f"{result.stderr}{tail(layout.MAIL_LOG)}"
            if not self.postfix_may_fail:
                raise DaemonError(f"postfix start failed:\n{self.postfix_error}")
        self.timings["postfix"] = time.monotonic() - begin
        if self.dovecot is not None:
            sockets = [layout.LMTP_SOCKET, "/var/run/dovecot/auth-userdb", layout.DOVECOT_SASL_SOCKET]
            self._wait(self.dovecot, sockets, "dovecot", [layout.DOVECOT_LOG, "/var/log/dovecot-stderr.log"])
            self.timings["dovecot"] = time.monotonic() - begin
        if self.saslauthd is not None:
            self._wait(
                self.saslauthd, [f"{layout.SASLAUTHD_RUNDIR}/mux"], "saslauthd", [layout.SASLAUTHD_LOG]
            )
            self.timings["saslauthd"] = time.monotonic() - begin

    @staticmethod
    def _spawn(args: list[str], log: str, new_session: bool = False) -> subprocess.Popen[bytes]:
        """Start a long-running daemon with its output appended to `log`."""
        with open(log, "ab") as handle:
            return subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=new_session,
            )

    @staticmethod
    def _saslauthd_rundir() -> None:
        """/var/run/saslauthd as Debian's package creates it: root:sasl 0710 (postfix is in sasl)."""
        os.makedirs(layout.SASLAUTHD_RUNDIR, exist_ok=True)
        os.chown(layout.SASLAUTHD_RUNDIR, 0, grp.getgrnam("sasl").gr_gid)
        os.chmod(layout.SASLAUTHD_RUNDIR, 0o710)

    @staticmethod
    def _wait(process: subprocess.Popen[bytes], paths: list[str], name: str, logs: list[str]) -> None:
        """Return once every path exists; raise DaemonError if the daemon exits or times out first."""
        deadline = time.monotonic() + START_TIMEOUT
        while not all(os.path.exists(p) for p in paths):
            if process.poll() is not None or time.monotonic() > deadline:
                state = f"exited with {process.returncode}" if process.returncode is not None else "timed out"
                details = "\n".join(tail(log) for log in logs)
                raise DaemonError(f"{name} {state} before serving {paths}:\n{details}")
            time.sleep(POLL)

    def alive(self) -> dict[str, bool]:
        """Which of the long-running daemons still run."""
        state = {}
        for name, process in (("dovecot", self.dovecot), ("saslauthd", self.saslauthd)):
            if process is not None:
                state[name] = process.poll() is None
        return state


def configuration_dumps(dovecot: bool) -> dict[str, str]:
    """`postconf -n`, `postconf -M` and `doveconf -n`: what the programs actually loaded."""
    dumps = {}
    commands = {"postconf -n": ["postconf", "-n"], "postconf -M": ["postconf", "-M"]}
    if dovecot:
        commands["doveconf -n"] = ["doveconf", "-n", "-c", layout.DOVECOT_CONF]
    for name, args in commands.items():
        result = run(args)
        dumps[name] = result.stdout + (f"\n[stderr]\n{result.stderr}" if result.stderr.strip() else "")
    return dumps
