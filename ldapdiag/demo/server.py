"""Throwaway slapd servers loaded from scenario folders, for `ldapdiag demo` and the test suite."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ldapdiag.demo.certs import CertFiles, ServerCerts, generate_certs
from ldapdiag.demo.scenario import Scenario, load_scenario
from ldapdiag.errors import LdapdiagError

try:
    import slapd
except ImportError:  # pragma: no cover - depends on the installed extras
    slapd = None

HOST = "127.0.0.1"
ROOT_CN = "ldapdiag-root"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
PORT_ATTEMPTS = 3
READY_LINE = b"slapd starting"
PR_SET_PDEATHSIG = 1

_LOG_PREFIX = re.compile(r"^[0-9a-f]+\.[0-9a-f]+ 0x[0-9a-f]+ ")
_LOG_NOISE = (
    "$OpenLDAP:",
    "OpenLDAP Maintainers",
    "slapd stopped",
    "connections_destroy",
    "slapd shutdown",
    "shutdown requested",
)

log = logging.getLogger(__name__)


class DemoServerError(LdapdiagError):
    """The throwaway slapd could not be set up or started."""


class PortInUseError(DemoServerError):
    """slapd lost the race for the port it was given."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived while serving: unwinds like Ctrl-C (pytest and click stop cleanly)."""


@dataclass(frozen=True)
class RunningDirectory:
    """How to reach a running throwaway slapd."""

    ldap_url: str
    ldaps_url: str | None
    base: str
    bind_dn: str
    password_file: Path
    ca_file: Path | None
    access_log: Path | None


@contextmanager
def serve_scenario(
    folder: Path,
    *,
    tls: bool = True,
    certs: ServerCerts | None = None,
    indexes: tuple[str, ...] = (),
    size_limit: str | None = None,
) -> Iterator[RunningDirectory]:
    """Serve a scenario folder from a throwaway slapd; stop it and remove its files on exit.

    With tls (the default) the ldap:// listener offers StartTLS and an ldaps:// listener runs
    too, both with `certs` (default: a fresh CA and a certificate for localhost and 127.0.0.1).
    `indexes` are olcDbIndex values for the mdb database (e.g. "mail eq"; the benchmarks use them).
    `size_limit` is its olcSizeLimit (slapd's default: 500 entries per search, paged ones in all).
    """
    if certs is not None and not tls:
        raise ValueError("certs given with tls=False")
    scenario = load_scenario(folder)
    with _exit_on_sigterm(), _workdir() as workdir:
        cert_files = (certs or generate_certs()).write(workdir / "tls") if tls else None
        password_file = _write_secret(workdir / "bind.pw", scenario.bind_password)
        server = _start_on_free_ports(scenario, workdir, cert_files, indexes, size_limit)
        try:
            yield server.running(password_file)
        finally:
            server.stop()
            _keep_access_log(server.log_file)


def _keep_access_log(log: Path | None) -> None:
    """Copy slapd's operation log to $LDAPDIAG_KEEP_ACCESS_LOGS (the test suite audits them all)."""
    keep = os.environ.get("LDAPDIAG_KEEP_ACCESS_LOGS")
    if keep and log is not None and log.is_file():
        target = Path(keep)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, target / f"{log.parent.name}-{os.getpid()}-{time.monotonic_ns()}.log")


_SlapdBase: type = slapd.Slapd if slapd is not None else object


class ScenarioSlapd(_SlapdBase):
    """python-slapd's Slapd, serving one scenario with its own schema, data, TLS and ldaps."""

    def __init__(
        self,
        scenario: Scenario,
        workdir: Path,
        cert_files: CertFiles | None,
        indexes: tuple[str, ...] = (),
        size_limit: str | None = None,
    ) -> None:
        if slapd is None:
            raise DemoServerError("python-slapd is not installed (pip install 'ldapdiag[demo]')")
        self.TMPDIR = str(workdir)  # python-slapd would use $TMP or the current directory
        self.scenario = scenario
        self.cert_files = cert_files
        self.indexes = indexes
        self.size_limit = size_limit
        try:
            with _restoring_handlers(logging.getLogger("python-ldap-test")):
                super().__init__(
                    host=HOST,
                    suffix=scenario.base,
                    root_cn=ROOT_CN,
                    root_pw=secrets.token_urlsafe(24),
                    datadir_prefix="slapd",
                )
        except ValueError as err:  # a missing slapd, slapadd or ldap-utils command
            raise DemoServerError(str(err)) from None
        self.logger = log
        self.ldaps_port = self._other_port()
        self.log_file = workdir / f"slapd-{self.port}.log"

    def running(self, password_file: Path) -> RunningDirectory:
        """The RunningDirectory of this (started) server."""
        tls = self.cert_files is not None
        return RunningDirectory(
            ldap_url=f"ldap://{HOST}:{self.port}",
            ldaps_url=f"ldaps://{HOST}:{self.ldaps_port}" if tls else None,
            base=self.scenario.base,
            bind_dn=self.scenario.bind_dn,
            password_file=password_file,
            ca_file=self.cert_files.ca_file if self.cert_files else None,
            access_log=self.log_file,
        )

    def stop(self) -> None:
        """Stop slapd (SIGTERM, then SIGKILL after STOP_TIMEOUT) and remove its run directory."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _terminate(proc)
        self._cleanup_rundir()
        atexit.unregister(self.stop)

    def _other_port(self) -> int:
        """A free port different from the ldap:// one."""
        port = self._avail_tcpport()
        while port == self.port:
            port = self._avail_tcpport()
        return port

    def _write_config(self) -> None:
        """Build slapd.d (global settings, schemas, databases) and load the directory LDIF."""
        self._slapadd(["-n0"], self._global_config(), "the global configuration")
        for schema in self.scenario.schema_files:
            self._slapadd(["-n0", "-l", str(schema)], None, str(schema))
        self._slapadd(["-n0"], self._database_config(), "the database configuration")
        ldif = self.scenario.directory_ldif
        # -q: quick mode, one sync at the end instead of one per entry (fresh databases only)
        self._slapadd(["-q", "-b", self.suffix, "-l", str(ldif)], None, str(ldif))

    def _test_config(self) -> None:
        """Skip python-slapd's `slapd -Ttest` run: starting slapd checks the same, faster."""

    def _start_slapd(self) -> None:
        """Run slapd in the foreground, its stats log in log_file, and wait until it serves."""
        args = [self.PATH_SLAPD, "-F", self._slapd_conf, "-h", " ".join(self._urls())]
        with self.log_file.open("wb") as log_handle:
            self._proc = subprocess.Popen(
                [*args, "-d", "stats"],
                stdin=subprocess.DEVNULL,
                stdout=log_handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us, and we stop slapd in order
                preexec_fn=_die_with_parent(),
            )
        self._wait_until_serving()

    def _urls(self) -> list[str]:
        """slapd's -h listeners: ldap, ldaps when TLS is on, and python-slapd's ldapi socket."""
        urls = [f"ldap://{HOST}:{self.port}/"]
        if self.cert_files:
            urls.append(f"ldaps://{HOST}:{self.ldaps_port}/")
        return [*urls, self.ldapi_uri] if self.ldapi_uri else urls

    def _wait_until_serving(self) -> None:
        """Return once slapd logs that it is serving; raise DemoServerError if it exits first."""
        deadline = time.monotonic() + START_TIMEOUT
        while READY_LINE not in self.log_file.read_bytes():
            if self._proc.poll() is not None:
                self._proc = None
                raise _start_failure(self.log_file.read_text(errors="replace"))
            if time.monotonic() > deadline:
                raise DemoServerError(f"slapd did not start within {START_TIMEOUT:.0f} s")
            time.sleep(0.005)

    def _slapadd(self, args: list[str], ldif: str | None, what: str) -> None:
        """Run slapadd on this server's slapd.d; raise DemoServerError naming `what` on failure."""
        proc = subprocess.run(
            [self.PATH_SLAPADD, "-F", self._slapd_conf, *args],
            input=ldif.encode() if ldif is not None else None,
            capture_output=True,
            check=False,
        )
        if proc.returncode:
            reason = _last_useful_lines(proc.stderr.decode(errors="replace"))
            raise DemoServerError(f"slapadd rejected {what}: {reason}")

    def _global_config(self) -> str:
        """cn=config with TLS files, the back_mdb module and the schema root, as LDIF."""
        peer = f"gidNumber={os.getgid()}\\+uidNumber={os.getuid()},cn=peercred,cn=external,cn=auth"
        lines = [
            "dn: cn=config",
            "objectClass: olcGlobal",
            "cn: config",
            "olcLogLevel: 0",  # no syslog; stats go to stderr through -d stats
            f'olcAuthzRegexp: {{0}}"{peer}" "{self.root_dn}"',
            *self._tls_config(),
            "",
            "dn: cn=module,cn=config",
            "objectClass: olcModuleList",
            "cn: module",
            "olcModuleLoad: back_mdb",
            "",
            "dn: cn=schema,cn=config",
            "objectClass: olcSchemaConfig",
            "cn: schema",
        ]
        return "\n".join(lines) + "\n"

    def _tls_config(self) -> list[str]:
        """The olcTLS* settings (none without TLS)."""
        if not self.cert_files:
            return []
        return [
            f"olcTLSCACertificateFile: {self.cert_files.ca_file}",
            f"olcTLSCertificateFile: {self.cert_files.cert_file}",
            f"olcTLSCertificateKeyFile: {self.cert_files.key_file}",
        ]

    def _database_config(self) -> str:
        """The config database (rootdn via ldapi only) and the scenario's mdb database."""
        bind = f'dn.exact="{self.scenario.bind_dn}"'
        lines = [
            "dn: olcDatabase={0}config,cn=config",
            "objectClass: olcDatabaseConfig",
            "olcDatabase: {0}config",
            f"olcRootDN: {self.root_dn}",
            "",
            "dn: olcDatabase={1}mdb,cn=config",
            "objectClass: olcDatabaseConfig",
            "objectClass: olcMdbConfig",
            "olcDatabase: {1}mdb",
            f"olcSuffix: {self.suffix}",
            f"olcRootDN: {self.root_dn}",
            f"olcDbDirectory: {self._db_directory}",
            "olcDbMaxSize: 4000000000",  # a limit, not an allocation: 100,000 indexed entries need ~150 MB
            *(f"olcDbIndex: {index}" for index in self.indexes),
            *([f"olcSizeLimit: {self.size_limit}"] if self.size_limit else []),
            f"olcAccess: {{0}}to attrs=userPassword by {bind} read by self read by anonymous auth by * none",
            f"olcAccess: {{1}}to * by {bind} read by self read by * none",
        ]
        return "\n".join(lines) + "\n"


def _start_on_free_ports(
    scenario: Scenario,
    workdir: Path,
    cert_files: CertFiles | None,
    indexes: tuple[str, ...] = (),
    size_limit: str | None = None,
) -> ScenarioSlapd:
    """Start a server, picking new ports when another process took ours meanwhile."""
    for _attempt in range(PORT_ATTEMPTS):
        server = ScenarioSlapd(scenario, workdir, cert_files, indexes, size_limit)
        try:
            server.start()
        except PortInUseError:
            server.stop()
            continue
        except BaseException:
            server.stop()
            raise
        return server
    raise DemoServerError(f"slapd found no free port in {PORT_ATTEMPTS} attempts")


def _start_failure(log_text: str) -> DemoServerError:
    """The one-line error for a slapd that exited during startup."""
    reason = _last_useful_lines(log_text)
    error = PortInUseError if "Address already in use" in reason else DemoServerError
    return error(f"slapd did not start: {reason}")


def _last_useful_lines(text: str, count: int = 2) -> str:
    """The last lines of slapd/slapadd output that are not banner or shutdown chatter, as one line."""
    lines = (_LOG_PREFIX.sub("", line).strip() for line in text.splitlines())
    useful = [line for line in lines if line and not any(n in line for n in _LOG_NOISE)]
    return "; ".join(useful[-count:]) if useful else "no output"


def _terminate(proc: subprocess.Popen) -> None:
    """SIGTERM `proc` and reap it; SIGKILL it if it lingers or we are interrupted."""
    try:
        proc.terminate()
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGTERM slapd if this process dies without cleaning up."""
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None  # the signal follows the creating thread, not the process
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@contextmanager
def _exit_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into Terminated while serving, so the cleanup runs (main thread only)."""
    install = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    )
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if install else None
    try:
        yield
    finally:
        if install:
            signal.signal(signal.SIGTERM, previous)


def _raise_terminated(_signum: int, _frame: object) -> None:
    """Signal handler: unwind through the context managers instead of dying on the spot."""
    raise Terminated("SIGTERM")


@contextmanager
def _workdir() -> Iterator[Path]:
    """A private temporary directory, removed on exit."""
    path = Path(tempfile.mkdtemp(prefix="ldapdiag-slapd-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def _restoring_handlers(logger: logging.Logger) -> Iterator[None]:
    """Undo the stderr/syslog handlers python-slapd adds to its logger on every instance."""
    before = list(logger.handlers)
    try:
        yield
    finally:
        for handler in [h for h in logger.handlers if h not in before]:
            logger.removeHandler(handler)
            with contextlib.suppress(Exception):
                handler.close()


def _write_secret(path: Path, secret: str) -> Path:
    """Write `secret` without a newline (ldapsearch -y reads it verbatim), mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret)
    return path
