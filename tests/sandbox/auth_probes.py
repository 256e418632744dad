"""doveadm, testsaslauthd and postmap probes run inside the sandbox (agent side)."""

from __future__ import annotations

import re
import time
from typing import Any

from tests.sandbox import layout
from tests.sandbox.daemons import run
from tests.sandbox.smtp_probes import LogReader

LOG_GRACE = 0.05  # dovecot/saslauthd log asynchronously: wait this long for the probe's lines
_SECTION = re.compile(r"^(?P<name>[\w ]*fields):$")


def _after(reader: LogReader) -> list[str]:
    time.sleep(LOG_GRACE)
    return reader.lines()


def doveadm(kind: str, user: str, password: str | None) -> dict[str, Any]:
    """`doveadm user -u U`, `doveadm auth test U P` or `doveadm auth login U P`, parsed."""
    commands = {"user": ["doveadm", "user", "-u", user], "test": ["doveadm", "auth", "test", user]}
    commands["login"] = ["doveadm", "auth", "login", user]
    args = commands[kind] + ([password] if kind != "user" and password is not None else [])
    log = LogReader(layout.DOVECOT_LOG)
    result = run(args, timeout=60)
    lines = _after(log)
    fields, passdb_fields = _parse(result.stdout, kind)
    success = result.returncode == 0
    reason = "" if success else (result.stderr.strip() or _status_line(result.stdout))
    shown = ["doveadm", *args[1:-1], "<password>"] if kind != "user" else args
    return {
        "args": shown,
        "exit_code": result.returncode,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "success": success,
        "fields": fields,
        "passdb_fields": passdb_fields,
        "reason": reason,
        "log": lines,
    }


def _status_line(stdout: str) -> str:
    """The first line doveadm printed (e.g. "passdb: alice auth failed")."""
    return stdout.strip().splitlines()[0] if stdout.strip() else ""


def _parse(stdout: str, kind: str) -> tuple[dict[str, str], dict[str, str]]:
    """(userdb fields, passdb extra fields) from doveadm's output.

    `doveadm user -u`: "userdb: U" then indented "key : value" lines. `doveadm auth test/login`:
    "passdb: U auth succeeded", "extra fields:" with indented "key=value" lines, and for login
    "userdb extra fields:" with the user name first.
    """
    userdb: dict[str, str] = {}
    passdb: dict[str, str] = {}
    section = "userdb" if kind == "user" else None
    for raw in stdout.splitlines():
        text = raw.strip()
        header = _SECTION.match(text)
        if header:
            section = "userdb" if header.group("name").startswith("userdb") else "passdb"
            continue
        if section is None or not text or not raw.startswith(" "):
            continue
        target = userdb if section == "userdb" else passdb
        if kind == "user":
            key, _, value = text.partition(":")
            target[key.strip()] = value.strip()
        elif "=" in text:
            key, _, value = text.partition("=")
            target[key] = value
        else:
            target.setdefault("user", text)  # `userdb extra fields:` starts with the user name
    return userdb, passdb


def testsaslauthd(user: str, password: str, realm: str | None, service: str) -> dict[str, Any]:
    """`testsaslauthd -u U [-r REALM] -s SERVICE -p P -f RUNDIR/mux`."""
    args = ["testsaslauthd", "-u", user, *(["-r", realm] if realm is not None else [])]
    args += ["-s", service, "-p", password, "-f", f"{layout.SASLAUTHD_RUNDIR}/mux"]
    log = LogReader(layout.SASLAUTHD_LOG)
    result = run(args, timeout=60)
    answer = result.stdout.strip()
    return {
        "ok": answer.startswith("0: OK"),
        "answer": answer or result.stderr.strip(),
        "exit_code": result.returncode,
        "log": _after(log),
    }


def command(args: list[str], stdin: str | None = None) -> dict[str, Any]:
    """Any program (postmap -q, postconf...) run inside the sandbox."""
    result = run(args, timeout=60, stdin=stdin)
    return {"args": args, "exit_code": result.returncode, "stdout": result.stdout, "stderr": result.stderr}
