"""Ask a real saslauthd (LDAP mechanism) whether a saslauthd.conf works, against a throwaway slapd.

saslauthd logs nothing about its configuration outside syslog, so the oracle is the answer:
`testsaslauthd` gets OK when saslauthd read the file as intended and found and bound the test
user, NO otherwise (a file lak_config_read() rejects makes every answer NO).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

SASLAUTHD = shutil.which("saslauthd") or (
    "/usr/sbin/saslauthd" if Path("/usr/sbin/saslauthd").exists() else None
)
TESTSASLAUTHD = shutil.which("testsaslauthd") or (
    "/usr/sbin/testsaslauthd" if Path("/usr/sbin/testsaslauthd").exists() else None
)
SLAPD = shutil.which("slapd") or ("/usr/sbin/slapd" if Path("/usr/sbin/slapd").exists() else None)

SUFFIX = "dc=example,dc=org"
ROOT_PW = "rootsecret"
USER = "alice"
USER_PW = "alicesecret"


@dataclass(frozen=True)
class Directory:
    """The running slapd: where it listens and its admin DN."""

    uri: str
    suffix: str
    root_dn: str
    root_pw: str


def require_programs() -> None:
    """Skip the calling test when saslauthd, testsaslauthd, slapd or python-slapd is missing."""
    for program, name in ((SASLAUTHD, "saslauthd"), (TESTSASLAUTHD, "testsaslauthd"), (SLAPD, "slapd")):
        if program is None:
            pytest.skip(f"{name} is not installed (install sasl2-bin and slapd)")
    pytest.importorskip("slapd", reason="python-slapd (PyPI slapd) is not installed")


@contextmanager
def directory() -> Iterator[Directory]:
    """A slapd with `uid=alice,dc=example,dc=org` (password alicesecret), anonymous read allowed."""
    require_programs()
    import slapd

    with tempfile.TemporaryDirectory(prefix="ldapdiag-slapd-") as tmp:

        class _Slapd(slapd.Slapd):  # type: ignore[misc]
            TMPDIR = tmp  # python-slapd otherwise puts its data under the current directory

        server = _Slapd(suffix=SUFFIX, root_pw=ROOT_PW)
        server.start()
        try:
            server.init_tree()
            server.ldapadd(
                f"dn: uid={USER},{SUFFIX}\n"
                "objectClass: person\nobjectClass: uidObject\n"
                f"uid: {USER}\ncn: Alice\nsn: A\nuserPassword: {USER_PW}\n"
            )
            yield Directory(server.ldap_uri, SUFFIX, server.root_dn, ROOT_PW)
        finally:
            server.stop()


def _stop(daemon: subprocess.Popen[bytes]) -> None:
    """SIGTERM to saslauthd; its process group (its own session) SIGKILLed if it has not ended
    within 10 s. Seen in a CI run: saslauthd stuck for good in a futex wait with SIGTERM blocked
    (inside its own handler), so the test failed in its cleanup and the daemon was left behind."""
    daemon.terminate()
    try:
        daemon.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait()


def saslauthd_answer(conf: str | bytes, user: str = USER, password: str = USER_PW) -> str:
    """Start `saslauthd -a ldap -O CONF` and return testsaslauthd's answer: "OK" or "NO"."""
    assert SASLAUTHD is not None and TESTSASLAUTHD is not None
    with tempfile.TemporaryDirectory(prefix="ldapdiag-saslauthd-") as tmp:
        conf_file = Path(tmp) / "saslauthd.conf"
        conf_file.write_bytes(conf.encode() if isinstance(conf, str) else conf)
        run = Path(tmp) / "run"
        run.mkdir()
        daemon = subprocess.Popen(
            [SASLAUTHD, "-a", "ldap", "-O", str(conf_file), "-m", str(run), "-n", "1", "-d"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # its own process group: on SIGTERM saslauthd signals its whole group (ours too).
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 20
            while not (run / "mux").exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            result = subprocess.run(
                [TESTSASLAUTHD, "-u", user, "-p", password, "-s", "smtp", "-f", str(run / "mux")],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        finally:
            _stop(daemon)
    answer = result.stdout.split()
    return answer[1] if len(answer) > 1 and answer[1] in ("OK", "NO") else result.stdout.strip()


class SaslauthdSandbox:
    """One `saslauthd -a ldap -O FILE -m DIR -n 1 -d` for many testsaslauthd probes."""

    def __init__(self, conf: str) -> None:
        self.conf = conf
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._daemon: subprocess.Popen[bytes] | None = None
        self.run = Path()

    def __enter__(self) -> SaslauthdSandbox:
        require_programs()
        assert SASLAUTHD is not None
        self._tmp = tempfile.TemporaryDirectory(prefix="ldapdiag-saslauthd-")
        root = Path(self._tmp.name)
        (root / "saslauthd.conf").write_text(self.conf)
        self.run = root / "run"
        self.run.mkdir()
        self.log = root / "saslauthd.log"
        with self.log.open("wb") as log:
            self._daemon = subprocess.Popen(
                [
                    SASLAUTHD,
                    "-a",
                    "ldap",
                    "-O",
                    str(root / "saslauthd.conf"),
                    "-m",
                    str(self.run),
                    "-n",
                    "1",
                    "-d",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # saslauthd signals its whole process group on exit
            )
        deadline = time.monotonic() + 20
        while not (self.run / "mux").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._daemon is not None:
            _stop(self._daemon)
            self._daemon = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def answer(self, user: str, realm: str | None, password: str, service: str = "smtp") -> str:
        """testsaslauthd's verdict: "OK" or "NO"."""
        assert TESTSASLAUTHD is not None
        args = [TESTSASLAUTHD, "-u", user, *(["-r", realm] if realm is not None else [])]
        args += ["-s", service, "-p", password, "-f", str(self.run / "mux")]
        result = subprocess.run(
            args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False
        )
        words = result.stdout.split()
        return words[1] if len(words) > 1 and words[1] in ("OK", "NO") else result.stdout.strip()

    def exit_code(self, wait: float = 10) -> int | None:
        """saslauthd's exit status (-N: killed by signal N), or None while it is still running."""
        if self._daemon is None:
            return None
        try:
            return self._daemon.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
