"""`ldapdiag audit --jobs N`: the chunks of addresses audited by N worker processes.

The main process loads the configuration, enumerates (its own connection, as in one process),
audits the first address itself (it opens postfix's and dovecot's connections: a refused bind
or a server that is down is met there first, as in one process) and prints. Each worker builds
its own AuditEngine (own connections, own caches) and audits whole chunks (batch.py's prefetch,
then every address), sending back what the printer and the summary need: the rendered lines,
the findings, the searches it sent and the faults it met. The main prints them in enumeration
order and merges the faults as one process lists them (in chunk order; FaultLog.distinct() drops
the repeats several workers met). Postfix and dovecot keep no state across lookups that changes
an answer (cache.py), so the lines are those of one process; only the searches count and the
time differ.

- Start method: spawn. The main has connections and threads by then (and a test's slapd relays
  run threads in the same process): fork would copy them half-way. A spawned worker is a fresh
  interpreter; it ignores SIGINT from its start (the disposition is inherited across exec), so
  Ctrl-C reaches the main alone, which stops the workers (SIGTERM) and says "interrupted".
- Bounded: at most IN_FLIGHT chunk per worker sent and not yet answered, AHEAD per worker not
  yet printed (a chunk of groups takes longer than one of mailboxes: the other workers go on
  meanwhile); the enumeration is read only as chunks are sent, never further ahead.
- Small directories: when the enumeration ends within SMALL addresses after the first, the main
  audits them itself, in the chunks `--jobs 1` makes (no start-up cost for a few seconds' work).
"""

from __future__ import annotations

import contextlib
import copyreg
import gc
import io
import os
import pickle
import signal
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ldapdiag.audit.batch import CHUNK
from ldapdiag.audit.engine import AuditEngine
from ldapdiag.audit.enumerate import EnumerationFailed
from ldapdiag.audit.model import Candidate
from ldapdiag.collector import skip_final_collection
from ldapdiag.config.model import MailServerConfig
from ldapdiag.directory.faults import ANSWERED, MAX_WAIT, Fault
from ldapdiag.directory.problems import DirectoryProblem
from ldapdiag.report.audit_report import RenderedAddress

MAX_JOBS = 8
# chunks per worker sent and not yet answered: one, the next is sent as soon as it answers (with
# two queued, the last chunks, groups, could wait behind each other at one worker while the
# others had finished: 2 workers on 10,000 entries used 9.0 and 13.6 s of CPU, with one 9.0 and 9.2)
IN_FLIGHT = 1
# chunks per worker answered or sent and not yet printed: the answers wait for an earlier, slower
# chunk (groups) while the other workers go on; ~60 KB of rendered lines each
AHEAD = 8
# addresses after the first that the main audits itself rather than start workers: each worker
# costs ~1 s of CPU more than one process (imports, its connections, the server's schema for
# batch.py, caches filled again). Measured on this project's 2 cores (bench/audit_data.py): 1,220
# addresses 2.2-2.7 s in one process, 2.4-2.8 s with 2 workers; 2,440 addresses 4.4-6.1 s, 4.5-5.2 s
SMALL = 1500
# addresses per chunk sent to a worker: a chunk of groups (each member resolved) costs many times
# one of mailboxes; smaller than batch.CHUNK, it does not keep one worker busy while the others
# have finished; batches of 100 keys still answer most searches. 10,000 entries, 2 workers:
# 13.5-15.6 s at 100 (1,400 searches), 15.9-17.3 s at 250 (1,190), 12.7-16.1 s at 50 (2,460)
PARALLEL_CHUNK = 100
STOP_WAIT = 5.0  # seconds a worker gets to unbind and exit before it is terminated


def default_jobs() -> int:
    """The usable CPUs of this process (its affinity mask), at most MAX_JOBS."""
    return max(1, min(len(os.sched_getaffinity(0)), MAX_JOBS))


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs to build the main's engine again (the configuration pickled)."""

    config: bytes
    ca_files: tuple[Path, ...]
    ca_dirs: tuple[Path, ...]
    known_ad: bool | None
    output_format: str
    max_wait: float | None
    gc_threshold: tuple[int, int, int]  # the main's (ldapdiag/collector.py)


@dataclass(frozen=True)
class ChunkResult:
    """One audited chunk: its addresses as printed, searches sent, faults met, servers that answered."""

    addresses: list[RenderedAddress]
    searches: int
    faults: list[Fault]
    answered: frozenset[str]


def _proxy(items: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(items)


def _reduce_proxy(proxy: MappingProxyType[Any, Any]) -> tuple[Any, ...]:
    return (_proxy, (dict(proxy),))


def pickle_config(config: MailServerConfig) -> bytes:
    """The configuration as bytes (its read-only mappings as plain dicts wrapped again on loading)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = copyreg.dispatch_table.copy()
    pickler.dispatch_table[MappingProxyType] = _reduce_proxy
    pickler.dump(config)
    return buffer.getvalue()


# --- the main process -------------------------------------------------------------------------------


def audit_in_workers(
    engine: AuditEngine,
    chunks: Iterator[list[Candidate]],
    here: Callable[[list[Candidate]], None],
    show: Callable[[RenderedAddress], None],
    jobs: int,
    output_format: str,
) -> None:
    """The first chunk (one address) and a small directory audited here, the rest by `jobs` workers."""
    first = next(chunks, None)
    if first is None:
        return
    here(first)
    ahead: list[list[Candidate]] = []
    try:
        for chunk in chunks:
            ahead.append(chunk)
            if sum(map(len, ahead)) > SMALL:
                break
    except (EnumerationFailed, DirectoryProblem):
        _here_as_one_process(ahead, here)  # enumerated before the directory failed: audited
        raise
    if sum(map(len, ahead)) <= SMALL:
        _here_as_one_process(ahead, here)
        return
    with Workers(engine, jobs, output_format) as workers:
        workers.run(_chain(ahead, chunks), show)


def _here_as_one_process(ahead: list[list[Candidate]], here: Callable[[list[Candidate]], None]) -> None:
    """The addresses after the first audited here, in chunks of batch.CHUNK as `--jobs 1` does."""
    candidates = [candidate for chunk in ahead for candidate in chunk]
    for start in range(0, len(candidates), CHUNK):
        here(candidates[start : start + CHUNK])


def _chain(ahead: list[list[Candidate]], rest: Iterator[list[Candidate]]) -> Iterator[list[Candidate]]:
    while ahead:
        yield ahead.pop(0)
    yield from rest


class Workers:
    """N spawned worker processes, each with its own pipe; chunks go to the least busy one."""

    def __init__(self, engine: AuditEngine, jobs: int, output_format: str) -> None:
        self.engine = engine
        setup = WorkerSetup(
            pickle_config(engine.config),
            engine.ca_files,
            engine.ca_dirs,
            engine.known_ad,
            output_format,
            MAX_WAIT.get(),
            gc.get_threshold(),
        )
        context = get_context("spawn")
        self.processes: list[BaseProcess] = []
        self.pipes: list[Connection] = []
        self.busy: list[int] = []  # chunks sent to each worker and not yet received
        self.numbered = 0  # chunks sent so far
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main else None
        try:  # the workers inherit SIGINT ignored: Ctrl-C at any moment of their start-up is the main's
            for _ in range(jobs):
                mine, theirs = context.Pipe(duplex=True)
                process = context.Process(target=_serve, args=(theirs, setup), daemon=True)
                process.start()
                theirs.close()
                self.processes.append(process)
                self.pipes.append(mine)
                self.busy.append(0)
        except BaseException:
            self.terminate()
            raise
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, kind: object, error: object, tb: object) -> None:
        if kind is None:
            self.stop()
        else:
            self.terminate()

    def run(self, chunks: Iterable[list[Candidate]], show: Callable[[RenderedAddress], None]) -> None:
        """Send chunks as workers free up, print the results in the chunks' order."""
        source = iter(chunks)
        sent: deque[int] = deque()  # chunk numbers sent, not yet printed, in order
        results: dict[int, ChunkResult] = {}
        failure: BaseException | None = None
        exhausted = False

        def fill() -> None:
            nonlocal exhausted, failure
            limit = AHEAD * len(self.processes)
            while not exhausted and failure is None and min(self.busy) < IN_FLIGHT and len(sent) < limit:
                try:
                    chunk = next(source)
                except StopIteration:
                    exhausted = True
                    return
                except (EnumerationFailed, DirectoryProblem) as error:
                    failure = error  # what was enumerated is audited first, as in one process
                    return
                self._send(self.numbered, chunk)
                sent.append(self.numbered)
                self.numbered += 1

        fill()
        while sent:
            results.update(self._receive())
            fill()  # the worker that answered gets its next chunk before the lines are printed
            while sent and sent[0] in results:
                self._merge(results.pop(sent.popleft()), show)
            fill()
        if failure is not None:
            raise failure

    def _send(self, number: int, chunk: list[Candidate]) -> None:
        worker = min(range(len(self.busy)), key=self.busy.__getitem__)
        log = self.engine.trace.faults
        answered = frozenset(ANSWERED.get() or ())
        self.pipes[worker].send((number, chunk, answered, dict(log.unanswered)))
        self.busy[worker] += 1

    def _receive(self) -> dict[int, ChunkResult]:
        """The results of the workers that have one ready (waits for at least one)."""
        received: dict[int, ChunkResult] = {}
        assert any(self.busy), "nothing to wait for"
        for pipe in wait([p for p, n in zip(self.pipes, self.busy, strict=True) if n]):
            assert isinstance(pipe, Connection)
            worker = self.pipes.index(pipe)
            try:
                number, answer = pipe.recv()
            except (EOFError, OSError):
                raise RuntimeError(f"audit worker {worker + 1} exited unexpectedly") from None
            self.busy[worker] -= 1
            if isinstance(answer, BaseException):
                raise answer
            received[number] = answer
        return received

    def _merge(self, result: ChunkResult, show: Callable[[RenderedAddress], None]) -> None:
        """The chunk's searches, faults and answered servers into the main's trace; its lines printed."""
        trace = self.engine.trace
        trace.searches += result.searches
        for fault in result.faults:
            trace.faults.add(fault.component, fault.problem)
        answered = ANSWERED.get()
        if answered is not None:
            answered.update(result.answered)
        for rendered in result.addresses:
            show(rendered)

    def stop(self) -> None:
        """Ask every worker to unbind and exit; terminate the ones that do not within STOP_WAIT."""
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for process in self.processes:
            process.join(STOP_WAIT)
        self.terminate()

    def terminate(self) -> None:
        """Stop the workers now (SIGTERM, then SIGKILL) and reap them: none is left behind."""
        for process in self.processes:
            if process.is_alive():
                process.terminate()
        for process in self.processes:
            process.join(STOP_WAIT)
            if process.is_alive():
                process.kill()
                process.join()
        for pipe in self.pipes:
            pipe.close()
        self.processes, self.pipes = [], []


# --- a worker process ---------------------------------------------------------------------------------


def _serve(pipe: Connection, setup: WorkerSetup) -> None:
    """A worker process: _audit_chunks(), then its objects left out of the collection at its exit
    (the main waits for it to end)."""
    try:
        _audit_chunks(pipe, setup)
    finally:
        skip_final_collection()


def _audit_chunks(pipe: Connection, setup: WorkerSetup) -> None:
    """Audit each chunk received, send back its result; until None or the main is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main's to handle
    gc.set_threshold(*setup.gc_threshold)
    from ldapdiag.audit.batch import ChunkPrefetch
    from ldapdiag.audit.command import audit_chunk
    from ldapdiag.report.audit_report import AuditPrinter

    config = pickle.loads(setup.config)
    MAX_WAIT.set(setup.max_wait)
    answered: set[str] = set()
    ANSWERED.set(answered)
    printer = AuditPrinter(setup.output_format)
    engine = AuditEngine(config, setup.ca_files, setup.ca_dirs, known_ad=setup.known_ad)
    with engine:
        prefetch = ChunkPrefetch(engine)
        first = True
        while True:
            try:
                task = pipe.recv()
            except (EOFError, OSError):
                return  # the main is gone
            if task is None:
                return
            number, chunk, known, unanswered = task
            answered.update(known)
            log = engine.trace.faults
            for server, problem in unanswered.items():
                log.unanswered.setdefault(server, problem)
            try:
                searches, mark = engine.trace.searches, log.mark()
                # the worker's first address alone, as the main's: its lookups open the connections
                # that batch.py's searches need (a first chunk sent whole would not be batched)
                parts = [chunk[:1], chunk[1:]] if first else [chunk]
                first = False
                lines = [
                    printer.render(audit) for part in parts for audit in audit_chunk(engine, prefetch, part)
                ]
                answer: ChunkResult | BaseException = ChunkResult(
                    lines,
                    engine.trace.searches - searches,
                    log.distinct(log.since(mark)),
                    frozenset(answered),
                )
            except Exception as error:  # the main reports it as one process would
                answer = _sendable(error)
            try:
                pipe.send((number, answer))
            except (OSError, ValueError):
                return


def _sendable(error: Exception) -> BaseException:
    """The error itself when it pickles (the traceback as a note), else a RuntimeError naming it."""
    error.add_note("in an audit worker:\n" + "".join(traceback.format_exception(error)))
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__} in an audit worker")
    return error
