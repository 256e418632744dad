"""`ldapdiag audit` on generated directories (bench/audit_data.py), against postmap's users map.

10,000 entries: `ldapdiag audit --format json` (every address through postfix and dovecot, in a
subprocess, with its default `--jobs`: the usable CPUs; one run with `--jobs 1` for comparison)
and `postmap -q - ldap:ldap-users.cf` over the addresses the audit found (the users map alone,
the C baseline), interleaved, `--repeat` times; target: audit's median wall time <= 1.0x
postmap's. 100,000 entries (slapadd -q, equality indexes): one audit run; target: its peak RSS
(the largest process's ru_maxrss, via a wrapper) <= 1.5x the peak at 10,000 (the audit streams,
never holds the directory). Both runs must report exactly the planted faults (audit_data.EXPECTED).
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from bench.audit_bench import _audit, _postmap
from bench.audit_data import EXPECTED, INDEXES, write_audit_scenario
from bench.context import Context, Result

SMALL, LARGE = 10_000, 100_000
TIME_LIMIT, RSS_LIMIT = 1.0, 1.5


def _found(lines: list[dict]) -> set[tuple[str, str]]:
    return {
        (line["address"], f["kind"]) for line in lines if line["type"] == "address" for f in line["findings"]
    }


def _serve(work: Path, size: int):  # type: ignore[no-untyped-def]
    from ldapdiag.demo import serve_scenario

    folder = write_audit_scenario(work / f"generated-{size}", size)
    return folder, serve_scenario(folder, tls=False, indexes=INDEXES, size_limit="unlimited")


def run(ctx: Context) -> None:
    work = ctx.scratch("audit")
    folder, server = _serve(work, SMALL)
    with server as directory:
        env_file = folder / "mailserver.env"
        audits: list[tuple[float, int, list[dict], float]] = []
        postmaps: list[float] = []
        for _ in range(ctx.repeat):
            audits.append(_audit(env_file, directory.ldap_url))
            keys = [line["address"] for line in audits[-1][2] if line["type"] == "address"]
            postmaps.append(_postmap(env_file, directory.ldap_url, keys, work))
        one_process_s = _audit(env_file, directory.ldap_url, jobs=1)[0]  # for comparison, once
    audit_s, postmap_s = statistics.median(a[0] for a in audits), statistics.median(postmaps)
    small_rss = statistics.median(a[1] for a in audits) / 1024
    exact_small = all(_found(a[2]) == EXPECTED for a in audits)
    summary = audits[-1][2][-1]
    ratio = audit_s / postmap_s
    # the audit is CPU-bound: at 1.0x its processes could use at most every core for postmap's time
    cpu_s, cores = statistics.median(a[3] for a in audits), len(os.sched_getaffinity(0))
    ctx.report(
        Result(
            f"audit of {SMALL:,} entries ({len(keys):,} addresses) vs postmap -q - users map",
            f"{ratio:.2f}x (audit {audit_s:.2f} s / postmap {postmap_s:.2f} s, medians of {ctx.repeat}; "
            f"{summary['ldap_searches']:,} LDAP searches; --jobs 1, one run: {one_process_s:.1f} s; "
            f"CPU of the audit's processes {cpu_s:.1f} s, {cores} cores x postmap's time "
            f"{cores * postmap_s:.1f} s)",
            f"<= {TIME_LIMIT}x",
            ratio <= TIME_LIMIT and exact_small,
            notes="" if exact_small else "the planted faults were NOT found exactly",
        )
    )
    started = time.monotonic()
    folder, server = _serve(work, LARGE)
    with server as directory:
        loaded = time.monotonic() - started
        large_s, large_rss_kib, lines, _cpu = _audit(folder / "mailserver.env", directory.ldap_url)
    large_rss = large_rss_kib / 1024
    exact_large = _found(lines) == EXPECTED
    growth = large_rss / small_rss
    ctx.report(
        Result(
            f"audit peak RSS at {LARGE:,} entries / at {SMALL:,}",
            f"{growth:.2f}x ({large_rss:.1f} MiB / {small_rss:.1f} MiB; {LARGE:,}: "
            f"{lines[-1]['addresses']:,} addresses in {large_s:.1f} s, directory served in {loaded:.1f} s)",
            f"<= {RSS_LIMIT}x",
            growth <= RSS_LIMIT and exact_large,
            notes="" if exact_large else "the planted faults were NOT found exactly",
        )
    )
