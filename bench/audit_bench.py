"""Issue 9's audit targets: `ldapdiag audit` on generated directories, against postmap.

    .venv/bin/python -m bench.audit_bench [--sizes 10000,100000] [--runs 3]

For each size: a generated directory (bench/audit_data.py: planted faults included) on a throwaway
slapd with equality indexes; `postmap -q - ldap:ldap-users.cf` over the same addresses the audit
finds (one users-map lookup per address, the C baseline, measured in the same run); then `ldapdiag
audit --format json` in a subprocess (wall time, its own peak RSS, ru_maxrss via a wrapper, and the
CPU time of all its processes). Prints medians and the ratios the issue sets: audit time / postmap
time at 10,000 (target <= 1.0) and peak RSS at 100,000 / peak RSS at 10,000 (target <= 1.5).
`main()` returns 0 when both targets hold, else 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.audit_data import EXPECTED, INDEXES, write_audit_scenario
from ldapdiag.config.load import load_config
from ldapdiag.config.sources import SourceOptions
from ldapdiag.demo import serve_scenario

ROOT = Path(__file__).resolve().parents[1]


# ru_maxrss of a child started by this process counts this process's own peak RSS too: Python
# starts children with vfork() and Linux keeps the replaced mm's high-water mark across exec
# (exec_mmap(): setmax_mm_hiwater_rss(&tsk->signal->maxrss, old_mm)). serve_scenario() alone took
# the bench to 193 MiB for 100,000 entries (first_dn() reads the whole LDIF), and that showed as
# the audit's peak. A small Python process starts the audit instead and reports its ru_maxrss (KiB).
_MAXRSS = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[2:])\n"
    "_pid, status, usage = os.wait4(p.pid, 0)\n"
    "os.write(int(sys.argv[1]), f'{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}'.encode())\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def _audit(env_file: Path, url: str, jobs: int | None = None) -> tuple[float, int, list[dict], float]:
    """One audit run: wall seconds, the audit's own peak RSS (KiB, its largest process), the JSON
    lines, and the CPU seconds of all its processes (wait4(): the main and the workers it reaped)."""
    read_fd, write_fd = os.pipe()
    args = [sys.executable, "-c", _MAXRSS, str(write_fd), sys.executable, "-m", "ldapdiag", "audit",
            "--format", "json", "--no-env", "--env-file", str(env_file),
            "--set", f"LDAP_SERVER_HOST={url}"]  # fmt: skip
    if jobs is not None:  # else the audit's default (the usable CPUs)
        args += ["--jobs", str(jobs)]
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT, pass_fds=(write_fd,)
        )
    finally:
        os.close(write_fd)
    out = proc.stdout.read() if proc.stdout else b""
    proc.wait()
    seconds = time.monotonic() - start
    with os.fdopen(read_fd, "rb") as report:
        maxrss, cpu = (report.read() or b"0 0").split()
    return seconds, int(maxrss), [json.loads(line) for line in out.splitlines()], float(cpu)


def _postmap(env_file: Path, url: str, keys: Sequence[str], workdir: Path) -> float:
    """`postmap -q -` over the keys with the users table DMS writes (the C baseline)."""
    config = load_config(
        SourceOptions(env_files=(env_file,), use_environment=False, sets=(f"LDAP_SERVER_HOST={url}",)), {}
    )
    table = config.postfix_tables["/etc/postfix/ldap-users.cf"]
    cf = workdir / "ldap-users.cf"
    cf.write_text("".join(f"{e.key} = {e.value}\n" for e in table.entries), encoding="utf-8")
    (workdir / "main.cf").write_text("compatibility_level = 3.6\n", encoding="utf-8")
    postmap = shutil.which("postmap", path="/usr/sbin:/usr/bin") or "postmap"
    start = time.monotonic()
    subprocess.run(
        [postmap, "-c", str(workdir), "-q", "-", f"ldap:{cf}"],
        input="\n".join(k.lower() for k in keys).encode(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return time.monotonic() - start


def measure(size: int, runs: int, out=print, jobs: int | None = None) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Medians for one directory size."""
    with tempfile.TemporaryDirectory(prefix="ldapdiag-audit-bench-") as tmp:
        folder = write_audit_scenario(Path(tmp) / "generated", size)
        with serve_scenario(folder, indexes=INDEXES, size_limit="unlimited") as directory:
            env_file = folder / "mailserver.env"
            audits = [_audit(env_file, directory.ldap_url, jobs) for _ in range(runs)]
            lines = audits[-1][2][:-1]
            found = {(line["address"], f["kind"]) for line in lines for f in line["findings"]}
            keys = [line["address"] for line in lines]
            postmaps = [_postmap(env_file, directory.ldap_url, keys, Path(tmp)) for _ in range(runs)]
    result = {
        "size": size,
        "addresses": len(keys),
        "audit_s": statistics.median(a[0] for a in audits),
        "audit_cpu_s": statistics.median(a[3] for a in audits),
        "peak_rss_mib": statistics.median(a[1] for a in audits) / 1024,
        "postmap_users_s": statistics.median(postmaps),
        "planted_found": float(found == EXPECTED),
    }
    result["ratio_vs_postmap"] = result["audit_s"] / result["postmap_users_s"]
    out(
        f"{size:>7} entries  {len(keys):>7} addresses  audit {result['audit_s']:8.1f} s "
        f"(CPU {result['audit_cpu_s']:.1f} s)  "
        f"postmap users map {result['postmap_users_s']:6.2f} s  ratio {result['ratio_vs_postmap']:6.1f}x  "
        f"peak RSS {result['peak_rss_mib']:6.1f} MiB  planted faults found exactly: {found == EXPECTED}"
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=None, help="ldapdiag audit --jobs (default: its own)")
    options = parser.parse_args(argv)
    sizes = options.sizes.split(",")
    results = {r["size"]: r for r in (measure(int(s), options.runs, jobs=options.jobs) for s in sizes)}
    ok = True
    if 10000 in results:
        ratio = results[10000]["ratio_vs_postmap"]
        print(f"audit / postmap at 10,000: {ratio:.2f}x (target <= 1.0)")
        ok = ok and ratio <= 1.0
    if 10000 in results and 100000 in results:
        growth = results[100000]["peak_rss_mib"] / results[10000]["peak_rss_mib"]
        print(f"peak RSS 100,000 / 10,000: {growth:.2f}x (target <= 1.5)")
        ok = ok and growth <= 1.5
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
