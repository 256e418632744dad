"""`ldapdiag lookup MAP -` against `postmap -q - ldap:FILE`: 10,000 keys, half of them found.

One indexed throwaway slapd (python-slapd, via ldapdiag.demo.serve_scenario) serves 10,000
generated accounts (bench/data.py); both programs read the same ldap_table file and the same keys
on stdin, one after the other, `--repeat` times. Target: ldapdiag's median wall time <= 0.5x
postmap's, and its output byte-identical to postmap's.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path

from bench.context import LDAPDIAG, Context, Result, medians, wall
from bench.data import INDEXES, write_scenario

KEYS = 10_000
LIMIT = 0.5
FILTER = "(&(objectClass=PostfixBookMailAccount)(mail=%s))"


def _cool(path: Path, text: str) -> None:
    """Write a postfix file an hour old (postfix re-reads files modified in the last second)."""
    path.write_text(text, encoding="utf-8")
    past = time.time() - 3600
    os.utime(path, (past, past))


def run(ctx: Context) -> None:
    from ldapdiag.demo import serve_scenario

    postmap = shutil.which("postmap") or "/usr/sbin/postmap"
    if not Path(postmap).exists():
        ctx.report(Result("lookup MAP - vs postmap -q -", "postmap is not installed", f"<= {LIMIT}x", False))
        return
    work = ctx.scratch("lookup")
    generated = write_scenario(work / "scenario", KEYS, planted=False)
    users = [key for key in generated.present if key.startswith("user")]
    rng = random.Random(9)
    keys = rng.sample(users, KEYS // 2) + list(generated.absent[: KEYS - KEYS // 2])
    rng.shuffle(keys)
    stdin = "".join(f"{key}\n" for key in keys).encode()
    with serve_scenario(generated.folder, tls=False, indexes=INDEXES) as directory:
        root = work / "root"
        config_dir = root / "etc" / "postfix"
        config_dir.mkdir(parents=True, exist_ok=True)
        _cool(config_dir / "main.cf", "smtputf8_enable = no\ncompatibility_level = 3.6\n")
        _cool(config_dir / "master.cf", "")
        table = config_dir / "ldap-users.cf"
        password = directory.password_file.read_text(encoding="utf-8")
        _cool(
            table,
            f"server_host = {directory.ldap_url}\nsearch_base = {directory.base}\nbind = yes\n"
            f"bind_dn = {directory.bind_dn}\nbind_pw = {password}\nversion = 3\n"
            f"query_filter = {FILTER}\nresult_attribute = mail\n",
        )
        theirs = [postmap, "-c", str(config_dir), "-q", "-", f"ldap:{table}"]
        ours = [LDAPDIAG, "lookup", "--no-env", "--from-files", str(root), f"ldap:{table}", "-"]
        outputs: dict[str, bytes] = {}

        def timed(name: str, command: list[str]) -> float:
            seconds, proc = wall(command, stdin)
            outputs[name] = proc.stdout
            return seconds

        figures = medians(
            {"postmap": lambda: timed("postmap", theirs), "ldapdiag": lambda: timed("ldapdiag", ours)},
            ctx.repeat,
        )
    ratio = figures["ldapdiag"] / figures["postmap"]
    same = outputs["postmap"] == outputs["ldapdiag"]
    found = outputs["postmap"].count(b"\n")
    ctx.report(
        Result(
            f"lookup MAP - over {KEYS:,} keys ({found:,} found)",
            f"{ratio:.2f}x (ldapdiag {figures['ldapdiag']:.2f} s / postmap {figures['postmap']:.2f} s, "
            f"medians of {ctx.repeat})",
            f"<= {LIMIT}x",
            ratio <= LIMIT and same,
        )
    )
    ctx.report(
        Result(
            "lookup MAP - output equals postmap -q - byte for byte",
            f"{'identical' if same else 'DIFFERENT'} ({len(outputs['postmap']):,} bytes)",
            "identical",
            same,
        )
    )
