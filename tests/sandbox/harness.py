"""Run the real postfix, dovecot and saslauthd of a DMS v15 container on a MailServerConfig, and probe them.

`start_sandbox(config, directory)` prepares the files, starts the agent as pid 1 of fresh
namespaces (see agent.py), relays the test directory's ports into them (relay.py) and returns a
Sandbox whose methods run one probe each inside. Leaving the `with` block tears everything down:
the agent exits, the kernel kills what is left in its pid namespace, its mounts vanish with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ldapdiag.config.model import MailServerConfig
from ldapdiag.demo import RunningDirectory, generate_certs
from tests.sandbox import dovecot_files, layout, ldapguard, postfix_files, protocol, workdir
from tests.sandbox.relay import LdapRelay
from tests.sandbox.results import (
    CommandResult,
    DoveadmResult,
    RcptProbe,
    SaslResult,
    SessionProbe,
    SubmissionProbe,
)

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
PROBE_TIMEOUT = 120.0
STOP_TIMEOUT = 10.0
REDACTED = "<redacted>"
PR_SET_PDEATHSIG = 1
PROGRAMS = (
    "unshare",
    "ip",
    "postfix",
    "postconf",
    "postsuper",
    "postqueue",
    "dovecot",
    "doveadm",
    "doveconf",
)
SASL_PROGRAMS = ("saslauthd", "testsaslauthd")
PACKAGES = "postfix postfix-ldap dovecot-core dovecot-ldap dovecot-lmtpd sasl2-bin iproute2 util-linux"
SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class SandboxError(RuntimeError):
    """The sandbox failed to start, a probe failed to run, or something wrote to LDAP."""


def missing_requirements() -> str | None:
    """Why the sandbox cannot run here (not root, a program missing), or None."""
    if not sys.platform.startswith("linux"):
        return "the sandbox needs Linux namespaces"
    if os.geteuid() != 0:
        return "the sandbox needs root (unshare --net --mount --pid)"
    for program in (*PROGRAMS, *SASL_PROGRAMS):
        if shutil.which(program, path=SBIN_PATH) is None:
            return f"{program} is not installed (Debian: {PACKAGES})"
    return None


@functools.lru_cache(maxsize=8)
def _tls_pair(hostname: str) -> tuple[str, str]:
    """A throwaway (key, chain) for the sandbox's smtpd, as PEM text."""
    certs = generate_certs((hostname, layout.SERVER_IP))
    return certs.key_pem.decode(), certs.chain_pem.decode()


def relay_ports(directory: RunningDirectory) -> list[int]:
    """The ports of the directory's ldap:// and ldaps:// URLs."""
    ports = []
    for url in (directory.ldap_url, directory.ldaps_url):
        if url:
            parts = urlsplit(url)
            ports.append(parts.port or (636 if parts.scheme == "ldaps" else 389))
    return ports


def secrets_of(config: MailServerConfig, directory: RunningDirectory) -> set[str]:
    """Every password the configuration and the directory hold: never printed by the harness."""
    found = {directory.password_file.read_text()} if directory.password_file.exists() else set()
    for conf in config.files():
        found |= {e.value for e in conf.entries if conf.is_secret(e.key) and e.value}
    return found


class Sandbox:
    """A running sandbox: one configuration, many probes. Create with start_sandbox()."""

    def __init__(
        self,
        config: MailServerConfig,
        directory: RunningDirectory,
        dns_domains: Iterable[str],
        postscreen: bool = False,
        dns_hosts: Mapping[str, str] | None = None,
        *,
        postfix_may_fail: bool = False,
    ) -> None:
        self.config = config
        self.directory = directory
        self.postscreen = postscreen
        self.postfix_may_fail = postfix_may_fail
        self.postfix_error: str | None = None  # `postfix start`'s output, when it failed (and may)
        self.dns_hosts = dict(dns_hosts or {})
        self.dns_domains = sorted(
            {
                *config.vhost,
                config.identity.domainname,
                config.identity.hostname,
                layout.EXTERNAL_DOMAIN,
                *dns_domains,
            }
            - {""}
        )
        self.secrets = secrets_of(config, directory)
        self.workdir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.control: socket.socket | None = None
        self.relay: LdapRelay | None = None
        self.pid_namespace: int | None = None
        self.agent_pid: int | None = None  # host pid of the agent: `nsenter -t PID -a` to look inside
        self.timings: dict[str, float] = {}
        self.dumps: dict[str, str] = {}
        self.startup_seconds = 0.0
        self._log_offset = _size(directory.access_log)

    # --- life cycle -------------------------------------------------------------------------

    def start(self, ldap_conf: str | None = None) -> None:
        """Prepare the workdir, start the agent, relay the directory, wait until the daemons serve."""
        begin = time.monotonic()
        self.workdir = workdir.create()
        self._write_files(ldap_conf)
        parent, child = socket.socketpair()
        self.control = parent
        with open(self.workdir / layout.AGENT_LOG, "wb") as log:
            self.process = subprocess.Popen(
                [
                    "unshare",
                    "--net",
                    "--mount",
                    "--pid",
                    "--uts",
                    "--fork",
                    "--mount-proc",
                    "--kill-child=SIGKILL",
                    sys.executable,
                    "-m",
                    "tests.sandbox.agent",
                    str(child.fileno()),
                    str(self.workdir),
                ],
                pass_fds=(child.fileno(),),
                cwd=ROOT,
                env=self._agent_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        child.close()
        parent.settimeout(START_TIMEOUT)
        message, fds = self._receive_event("listeners")
        self.relay = LdapRelay([socket.socket(fileno=fd) for fd in fds]).start()
        self.pid_namespace = self._find_pid_namespace()
        message, _ = self._receive_event("ready")
        self.timings = message["timings"]
        self.dumps = message["dumps"]
        self.postfix_error = message.get("postfix_error")
        self.startup_seconds = time.monotonic() - begin

    def _write_files(self, ldap_conf: str | None) -> None:
        """Every configuration file, the TLS pair, the CA, saslauthd.conf and the agent's setup."""
        assert self.workdir is not None
        key, chain = _tls_pair(self.config.identity.hostname)
        files = dict(postfix_files.postfix_files(self.config, key, chain, self.postscreen))
        files.update(dovecot_files.dovecot_files(self.config))
        files["/etc/ldap/ldap.conf"] = ldap_conf if ldap_conf is not None else workdir.DEBIAN_LDAP_CONF
        if self.directory.ca_file is not None and self.directory.ca_file.exists():
            files[layout.LDAP_CA_FILE] = self.directory.ca_file.read_text()
        workdir.write_files(self.workdir, files, private=frozenset({postfix_files.TLS_KEY}))
        saslauthd_conf = None
        if self.config.saslauthd is not None:
            saslauthd_conf = str(self.workdir / "saslauthd.conf")
            workdir.write_private(Path(saslauthd_conf), self.config.saslauthd.text)
        setup = {
            "hostname": self.config.identity.hostname,
            "dns_domains": self.dns_domains,
            "dns_hosts": self.dns_hosts,
            "relay_ports": relay_ports(self.directory),
            "dovecot": layout.DOVECOT_CONF in files,
            "saslauthd_conf": saslauthd_conf,
            "postfix_may_fail": self.postfix_may_fail,
        }
        workdir.write_private(self.workdir / layout.SETUP_FILE, json.dumps(setup))

    def _agent_env(self) -> dict[str, str]:
        """A clean environment: no LDAP* variables, no ~/.ldaprc, sbin on PATH."""
        assert self.workdir is not None
        return {
            "PATH": SBIN_PATH,
            "LANG": "C.UTF-8",
            "HOME": str(self.workdir / "home"),
            "PYTHONPATH": str(ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    def _receive_event(self, expected: str) -> tuple[dict[str, Any], list[int]]:
        """The agent's next start-up event; SandboxError with its log if it failed or died."""
        assert self.control is not None
        try:
            message, fds = protocol.receive(self.control)
        except (OSError, protocol.ChannelClosed) as err:
            raise SandboxError(
                f"the sandbox agent died during start-up ({err})\n{self._agent_log()}"
            ) from None
        if message.get("event") != expected:
            raise SandboxError(self.redact(f"sandbox start-up failed:\n{message.get('error', message)}"))
        return message, fds

    def _find_pid_namespace(self) -> int | None:
        """The inode of the agent's pid namespace (to check that nothing of it survives)."""
        assert self.process is not None
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
            self.agent_pid = int(children[0])
            return os.stat(f"/proc/{self.agent_pid}/ns/pid").st_ino
        except (OSError, IndexError, ValueError):
            return None

    def close(self) -> None:
        """Stop the agent (and with it everything inside), the relay; check the read-only guard."""
        if self.control is not None:
            with contextlib.suppress(OSError, protocol.ChannelClosed):
                self.control.settimeout(STOP_TIMEOUT)
                protocol.send(self.control, {"op": "shutdown"})
                protocol.receive(self.control)
            self.control.close()
            self.control = None
        if self.process is not None:
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()  # unshare passes SIGKILL on to the agent (--kill-child)
                self.process.wait()
        violations: list[str] = []
        if self.relay is not None:
            self.relay.close()
            violations = list(self.relay.violations)
            if self.directory.access_log is not None and self.directory.access_log.exists():
                violations += ldapguard.writes_in_access_log(
                    self.directory.access_log, self._log_offset, self.relay.local_ports
                )
        if self.workdir is not None and not os.environ.get("LDAPDIAG_SANDBOX_KEEP"):
            workdir.remove(self.workdir)
        if violations:
            raise SandboxError("the sandbox wrote to LDAP (read-only guard): " + "; ".join(violations))

    def processes(self) -> list[int]:
        """Host pids of processes still in the sandbox's pid namespace (empty once closed)."""
        if self.pid_namespace is None:
            return []
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if os.stat(entry / "ns" / "pid").st_ino == self.pid_namespace:
                        pids.append(int(entry.name))
        return pids

    # --- probes -----------------------------------------------------------------------------

    def _call(self, op: str, secrets: Sequence[str] = (), **args: Any) -> Any:
        """One request to the agent; SandboxError (passwords redacted) if the probe itself failed."""
        if self.control is None:
            raise SandboxError("the sandbox is not running")
        self.secrets.update(s for s in secrets if s)
        self.control.settimeout(PROBE_TIMEOUT)
        try:
            protocol.send(self.control, {"op": op, "args": args})
            response, _ = protocol.receive(self.control)
        except (OSError, protocol.ChannelClosed) as err:
            raise SandboxError(f"the sandbox agent stopped answering ({err})\n{self.report()}") from None
        if not response["ok"]:
            raise SandboxError(self.redact(f"sandbox probe {op} failed:\n{response['error']}"))
        return response["result"]

    def rcpt(self, mail_from: str, recipients: Sequence[str]) -> RcptProbe:
        """An SMTP transaction on port 25 from outside mynetworks, then the deliveries of its message."""
        return RcptProbe.from_dict(self._call("rcpt", mail_from=mail_from, recipients=list(recipients)))

    def smtp_session(
        self,
        port: int,
        *,
        mail_from: str,
        recipients: Sequence[str] = (),
        login: str | None = None,
        password: str | None = None,
        wait: float = 3.0,
    ) -> SessionProbe:
        """One SMTP session step by step, each step waiting at most `wait` seconds for its reply:
        what a client meets when a daemon is down (no greeting, no reply, a closed connection).
        Port 587: STARTTLS, then AUTH PLAIN when a login is given. No DATA; nothing is queued."""
        result = self._call(
            "session",
            [password] if password else [],
            port=port,
            mail_from=mail_from,
            recipients=list(recipients),
            login=login,
            password=password,
            wait=wait,
        )
        return SessionProbe.from_dict(result)

    def submission(self, login: str, password: str, mail_from: str, rcpt: str) -> SubmissionProbe:
        """STARTTLS + AUTH PLAIN on port 587, then MAIL FROM and one RCPT TO."""
        result = self._call(
            "submission", [password], login=login, password=password, mail_from=mail_from, rcpt=rcpt
        )
        return SubmissionProbe.from_dict(result)

    def doveadm_user(self, user: str) -> DoveadmResult:
        """`doveadm user -u USER`: the userdb lookup LMTP makes."""
        return DoveadmResult.from_dict(self._call("doveadm", kind="user", user=user))

    def doveadm_auth_test(self, user: str, password: str) -> DoveadmResult:
        """`doveadm auth test USER PASSWORD`: the passdb."""
        return DoveadmResult.from_dict(
            self._call("doveadm", [password], kind="test", user=user, password=password)
        )

    def doveadm_auth_login(self, user: str, password: str) -> DoveadmResult:
        """`doveadm auth login USER PASSWORD`: passdb, then userdb with the (renamed) user."""
        result = self._call("doveadm", [password], kind="login", user=user, password=password)
        return DoveadmResult.from_dict(result)

    def testsaslauthd(
        self, user: str, password: str, realm: str | None = None, service: str = "smtp"
    ) -> SaslResult:
        """`testsaslauthd -u USER [-r REALM] -s SERVICE -p PASSWORD` against the sandbox's saslauthd."""
        if self.config.saslauthd is None:
            raise SandboxError("this configuration does not enable saslauthd")
        result = self._call(
            "testsaslauthd", [password], user=user, password=password, realm=realm, service=service
        )
        return SaslResult.from_dict(result)

    def run(self, *args: str, stdin: str | None = None) -> CommandResult:
        """Any program inside the sandbox, e.g. `postmap -q KEY ldap:/etc/postfix/ldap-users.cf`."""
        return CommandResult.from_dict(self._call("command", args=list(args), stdin=stdin))

    def alive(self) -> dict[str, bool]:
        """Which long-running daemons (dovecot, saslauthd) still run."""
        return dict(self._call("alive"))

    # --- diagnostics ------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        """`text` with every known password replaced."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text

    def log(self, name: str) -> str:
        """A log file of the sandbox (mail.log, dovecot.log, saslauthd.log, ...) as it is now."""
        if self.workdir is None:
            return ""
        path = self.workdir / "log" / name
        return path.read_text(errors="replace") if path.exists() else ""

    def _agent_log(self) -> str:
        if self.workdir is None:
            return ""
        path = self.workdir / layout.AGENT_LOG
        return self.redact(path.read_text(errors="replace")) if path.exists() else ""

    def report(self, tail: int = 60, dumps: bool = True) -> str:
        """Timings, postconf -n/-M, doveconf -n and the logs' last lines, passwords redacted."""
        parts = [f"sandbox start-up: {self.startup_seconds:.2f} s {self.timings}"]
        if dumps:
            parts += [f"--- {name}\n{text}" for name, text in self.dumps.items()]
        for name in ("mail.log", "dovecot.log", "saslauthd.log", "dovecot-stderr.log"):
            lines = self.log(name).splitlines()[-tail:]
            if lines:
                parts.append(f"--- {name} (last {len(lines)} lines)\n" + "\n".join(lines))
        agent = self._agent_log().strip()
        if agent:
            parts.append(f"--- agent\n{agent}")
        return self.redact("\n".join(parts))


@contextmanager
def start_sandbox(
    config: MailServerConfig,
    directory: RunningDirectory,
    *,
    dns_domains: Iterable[str] = (),
    ldap_conf: str | None = None,
    postscreen: bool = False,
    dns_hosts: Mapping[str, str] | None = None,
    postfix_may_fail: bool = False,
) -> Iterator[Sandbox]:
    """A running sandbox for `config`, reaching `directory` through the relay; torn down on exit.

    dns_domains: more names the DNS stub answers (the config's domains and example.net always).
    ldap_conf: the sandbox's /etc/ldap/ldap.conf (default: Debian's, trusting the system CAs only;
    the directory's CA is at layout.LDAP_CA_FILE for configurations that name it).
    postscreen: port 25 as DMS has it (postscreen + smtpd pass service) instead of plain smtpd.
    dns_hosts: names the DNS stub answers with their own address, e.g. a DC's name -> 127.0.0.1.
    postfix_may_fail: a configuration `postfix start` refuses: the sandbox runs without postfix
    (dovecot and saslauthd still start) and `sandbox.postfix_error` holds what postfix said.
    """
    problem = missing_requirements()
    if problem:
        raise SandboxError(problem)
    sandbox = Sandbox(
        config, directory, dns_domains, postscreen, dns_hosts, postfix_may_fail=postfix_may_fail
    )
    try:
        sandbox.start(ldap_conf)
        yield sandbox
    finally:
        sandbox.close()


def _size(path: Path | None) -> int:
    try:
        return path.stat().st_size if path is not None else 0
    except OSError:
        return 0


def _die_with_parent() -> None:
    """preexec_fn: SIGKILL unshare if the test process dies (unshare then kills the agent)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
