"""`ldapdiag audit --jobs N` (ldapdiag/audit/parallel.py) says exactly what `--jobs 1` says.

Worker processes build their own engines and audit chunks of addresses; the main process
enumerates, prints in enumeration order and merges the faults. Every run goes against a real
slapd: the scenarios served by slapd (chunks of two addresses so that each worker gets several;
without that a scenario's few addresses would be audited in the main process) and the generated
directory with one planted fault of each kind (bench/audit_data.py), large enough that the
default rule starts workers. Only the number of LDAP searches and the time may differ. A
directory that refuses a bind or goes away gives the same errors and exit code; Ctrl-C of a
parallel audit leaves no process behind.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.audit_data import INDEXES, write_audit_scenario
from ldapdiag.audit import parallel
from ldapdiag.audit.command import run_audit
from ldapdiag.cli import main
from ldapdiag.config.load import load_config
from ldapdiag.config.sources import SourceOptions
from ldapdiag.demo import RunningDirectory, serve_scenario
from ldapdiag.demo.run import demo_overrides
from tests.ldap_server import BASIC_SETUP, SCENARIOS_DIR, requires_slapd
from tests.relay import Relay

pytestmark = requires_slapd

MAILBOXES = 2000  # ~2,440 addresses: more than parallel.SMALL, 24 chunks of parallel.PARALLEL_CHUNK
SLAPD_SCENARIOS = sorted(
    p.name
    for p in SCENARIOS_DIR.iterdir()
    if (p / "mailserver.env").is_file() and p.name != "active-directory"
)
TIMES = ("ldap_searches", "seconds")


class Spy:
    """Counts the chunks parallel.Workers sent (a run that never started workers proves nothing)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.chunks = 0
        send = parallel.Workers._send

        def counting(workers: parallel.Workers, number: int, chunk: list) -> None:
            self.chunks += 1
            send(workers, number, chunk)

        monkeypatch.setattr(parallel.Workers, "_send", counting)


def audit(
    env_files: list[Path], sets: list[str], jobs: int, fmt: str = "json"
) -> tuple[list[str], dict, int, str]:
    """One in-process audit: the output lines but the summary, the summary, the exit code, stderr."""
    options = SourceOptions(env_files=tuple(env_files), use_environment=False, sets=tuple(sets))
    config = load_config(options, {})
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_audit(config, output_format=fmt, jobs=jobs)
    lines = out.getvalue().splitlines()
    if fmt != "json":  # the head line holds the searches and the time
        return lines[1:], {}, code, err.getvalue()
    summary = json.loads(lines[-1])
    assert summary["type"] == "summary"
    return lines[:-1], {k: v for k, v in summary.items() if k not in TIMES}, code, err.getvalue()


def assert_same(one: tuple, many: tuple) -> None:
    assert many[0] == one[0]  # the address lines, byte for byte
    assert many[1:] == one[1:]  # summary (timing aside), exit code, stderr


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, RunningDirectory]]:
    folder = write_audit_scenario(tmp_path_factory.mktemp("parallel") / "generated", MAILBOXES)
    with serve_scenario(folder, indexes=INDEXES, size_limit="unlimited") as directory:
        yield folder, directory


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> Spy:
    """Workers even for a scenario's few addresses, two addresses per chunk."""
    monkeypatch.setattr(parallel, "SMALL", 0)
    monkeypatch.setattr(parallel, "PARALLEL_CHUNK", 2)
    return Spy(monkeypatch)


@pytest.fixture(scope="module")
def healthy(generated: tuple[Path, RunningDirectory]) -> tuple[list[str], dict, int, str]:
    """The generated directory's audit in one process."""
    folder, directory = generated
    return audit([folder / "mailserver.env"], [f"LDAP_SERVER_HOST={directory.ldap_url}"], 1)


def test_planted_faults_same_with_workers(
    generated: tuple[Path, RunningDirectory], healthy: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--jobs 2 and --jobs 3 (8 chunks per worker) print what --jobs 1 prints, with the default rules."""
    folder, directory = generated
    spy = Spy(monkeypatch)
    one = healthy
    assert one[1]["addresses"] > parallel.SMALL and one[1]["broken"] > 0
    assert one[2] == 1 and one[1]["errors"] == []
    for jobs in (2, 3):
        spy.chunks = 0
        assert_same(one, audit([folder / "mailserver.env"], [f"LDAP_SERVER_HOST={directory.ldap_url}"], jobs))
        assert spy.chunks * parallel.PARALLEL_CHUNK >= one[1]["addresses"] - parallel.SMALL


@pytest.mark.parametrize("name", SLAPD_SCENARIOS)
def test_scenario_same_with_workers(name: str, small_chunks: Spy) -> None:
    folder = SCENARIOS_DIR / name
    with serve_scenario(folder) as directory:
        sets = list(demo_overrides(folder / "mailserver.env", directory.ldap_url))
        one = audit([folder / "mailserver.env"], sets, 1)
        assert small_chunks.chunks == 0
        assert_same(one, audit([folder / "mailserver.env"], sets, 2))
        if one[1]["addresses"] > 5:  # really-simple-quoted enumerates nothing: no worker to start
            assert small_chunks.chunks >= 2
        if name == "dms-defaults":  # the text format: the broken addresses listed at the end
            text = audit([folder / "mailserver.env"], sets, 1, "text")
            assert "broken addresses:" in "\n".join(text[0])
            assert_same(text, audit([folder / "mailserver.env"], sets, 2, "text"))


# --- a directory that refuses a bind or goes away ---------------------------------------------------


def test_bind_refused_same_errors_with_workers(
    tmp_path: Path,
    basic_setup_directory: RunningDirectory,
    closed_port: int,
    small_chunks: Spy,
) -> None:
    """dovecot's bind refused in every worker (postfix's works: the enumeration goes on): the same
    lines, one fault line (not one per worker), exit 2; postfix's bind refused or the server down
    from the start: the same, before any worker starts."""
    env = BASIC_SETUP / "mailserver.env"
    wrong = tmp_path / "wrong.env"
    url, host = basic_setup_directory.ldap_url, "OVERRIDE_HOSTNAME=mail.example.org"
    for variable in ("DOVECOT_DNPASS", "LDAP_BIND_PW"):
        wrong.write_text(f"{variable}=not-the-password\n")
        small_chunks.chunks = 0
        one = audit([env, wrong], [f"LDAP_SERVER_HOST={url}", host], 1)
        assert one[2] == 2 and "invalid credentials" in one[1]["errors"][0]
        assert_same(one, audit([env, wrong], [f"LDAP_SERVER_HOST={url}", host], 2))
        assert (small_chunks.chunks > 0) is (variable == "DOVECOT_DNPASS")
        assert len(one[1]["errors"]) == len(set(one[1]["errors"])) == 1, one[1]["errors"]
    down = [f"LDAP_SERVER_HOST=ldap://127.0.0.1:{closed_port}", host]
    one = audit([env], down, 1)
    assert one[2] == 2 and "connection refused" in one[1]["errors"][0]
    assert_same(one, audit([env], down, 2))


def test_directory_gone_mid_way_same_errors_with_workers(
    generated: tuple[Path, RunningDirectory], healthy: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The directory dies in the middle (a relay that cuts every connection after three quarters
    of the requests a healthy run in one process sends):
    with and without workers, exit 2, could-not-check lines naming the server that went away
    (each once), every address printed: as in the healthy run, or incomplete with the fault.
    (Which requests the cut meets depends on the order they were sent in: the lines may differ.)"""
    folder, directory = generated
    spy = Spy(monkeypatch)
    before = {json.loads(line)["address"]: line for line in healthy[0]}
    counter = Relay(directory.ldap_url)
    try:
        assert audit([folder / "mailserver.env"], [f"LDAP_SERVER_HOST={counter.url}"], 1)[2] == 1
    finally:
        counter.kill()
    for jobs in (1, 2):
        relay = Relay(directory.ldap_url, allow=counter.requests * 3 // 4)  # three quarters in
        try:
            lines, summary, code, err = audit(
                [folder / "mailserver.env"], [f"LDAP_SERVER_HOST={relay.url}"], jobs
            )
        finally:
            relay.kill()
        assert code == summary["exit_code"] == 2 and summary["incomplete"] and "Traceback" not in err
        server = relay.url.removeprefix("ldap://")
        assert summary["errors"] and len(set(summary["errors"])) == len(summary["errors"])
        for error in summary["errors"]:
            assert f"{server}: the server closed the connection" in error or "connection refused" in error, (
                error
            )
        assert len(lines) > 1000
        for line in lines:
            audited = json.loads(line)
            assert audited["incomplete"] or line == before[audited["address"]], line
    assert spy.chunks > 0


# --- the option and Ctrl-C ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_jobs_must_be_a_whole_number_of_at_least_one(value: str) -> None:
    result = CliRunner().invoke(main, ["audit", "--jobs", value, "--no-env"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"ldapdiag: error: --jobs: expected a whole number of worker processes, at least 1, not {value!r}"
    ]


def _session(sid: int) -> set[int]:
    """The processes of session `sid` that are still there (zombies included)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid:
                found.add(int(entry))
    return found


def test_ctrl_c_stops_main_and_workers(generated: tuple[Path, RunningDirectory]) -> None:
    """SIGINT to the whole process group, as a terminal's Ctrl-C: "interrupted", exit 130, no
    traceback, and no process of the run left (workers, multiprocessing's helpers)."""
    folder, directory = generated
    args = ["--format", "json", "--no-env", "--env-file", str(folder / "mailserver.env")]
    args += ["--set", f"LDAP_SERVER_HOST={directory.ldap_url}", "--jobs", "2"]
    audit_process = subprocess.Popen(
        [sys.executable, "-m", "ldapdiag", "audit", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the terminal's Ctrl-C goes to all of it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # see test_demo_server
    )
    try:
        assert audit_process.stdout is not None
        for _ in range(3):  # the first address (the main's), then the workers' first chunk
            assert audit_process.stdout.readline()
        workers = _session(audit_process.pid) - {audit_process.pid}
        assert len(workers) >= 2, workers  # two workers (and multiprocessing's resource tracker)
        os.killpg(audit_process.pid, signal.SIGINT)
        _out, err = audit_process.communicate(timeout=20)
    finally:
        if audit_process.poll() is None:
            os.killpg(audit_process.pid, signal.SIGKILL)
            audit_process.wait()
    assert audit_process.returncode == 130, err
    assert b"Traceback" not in err and b"ldapdiag: interrupted" in err, err
    deadline = time.monotonic() + 10
    while _session(audit_process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _session(audit_process.pid)
