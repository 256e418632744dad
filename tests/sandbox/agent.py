"""The sandbox's pid 1: sets up the namespaces, starts the daemons, answers the harness's requests.

Run by the harness as `unshare --net --mount --pid --uts --fork --mount-proc --kill-child
python -m tests.sandbox.agent CONTROL_FD WORKDIR`. When it exits, the kernel kills every process
of its pid namespace and the mount namespace (with every mount) goes away.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from tests.sandbox import auth_probes, daemons, layout, namespace, protocol, smtp_probes
from tests.sandbox.dnsstub import DnsStub


def reap_orphans() -> None:
    """Collect exited orphans (pid 1 inherits them: postfix-script, master's first process...)."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def set_up(control: socket.socket, workdir: Path, setup: dict[str, Any]) -> dict[str, Any]:
    """Namespaces, relay listeners (handed to the harness), DNS stub, daemons; the ready message."""
    begin = time.monotonic()
    namespace.network_up(setup["hostname"])
    namespace.mount_all(workdir)
    listeners = namespace.relay_listeners(setup["relay_ports"])
    protocol.send(control, {"event": "listeners"}, [s.fileno() for s in listeners])
    for listener in listeners:
        listener.close()  # the harness holds its own copies now
    DnsStub(
        setup["dns_domains"], layout.SERVER_IP, layout.UNROUTABLE_IP, layout.DNS_PORT, setup.get("dns_hosts")
    ).start()
    mounted = time.monotonic()
    running = daemons.Daemons(setup["dovecot"], setup["saslauthd_conf"], setup.get("postfix_may_fail", False))
    running.start()
    dumps = daemons.configuration_dumps(setup["dovecot"])
    reap_orphans()
    timings = {"namespace": mounted - begin, **running.timings, "total": time.monotonic() - begin}
    ready = {"event": "ready", "timings": timings, "dumps": dumps, "daemons": running}
    return ready | {"postfix_error": running.postfix_error}


def handle(request: dict[str, Any], running: daemons.Daemons) -> Any:
    """Run one probe."""
    op, args = request["op"], request.get("args", {})
    if op == "rcpt":
        return smtp_probes.rcpt_probe(args["mail_from"], args["recipients"])
    if op == "session":
        return smtp_probes.session_probe(**args)
    if op == "submission":
        return smtp_probes.submission_probe(args["login"], args["password"], args["mail_from"], args["rcpt"])
    if op == "doveadm":
        return auth_probes.doveadm(args["kind"], args["user"], args.get("password"))
    if op == "testsaslauthd":
        return auth_probes.testsaslauthd(args["user"], args["password"], args.get("realm"), args["service"])
    if op == "command":
        return auth_probes.command(args["args"], args.get("stdin"))
    if op == "alive":
        return running.alive()
    raise ValueError(f"unknown request {op!r}")


def serve(control: socket.socket, running: daemons.Daemons) -> None:
    """Answer requests until the harness says shutdown or goes away."""
    while True:
        try:
            request, _ = protocol.receive(control)
        except protocol.ChannelClosed:
            return
        if request.get("op") == "shutdown":
            protocol.send(control, {"ok": True, "result": None})
            return
        try:
            response = {"ok": True, "result": handle(request, running)}
        except Exception:
            response = {"ok": False, "error": traceback.format_exc()}
        reap_orphans()
        protocol.send(control, response)


def main(argv: list[str]) -> int:
    """Entry point: CONTROL_FD WORKDIR."""
    control = socket.socket(fileno=int(argv[1]))
    workdir = Path(argv[2])
    os.chdir("/")  # the daemons inherit it: no ./ldaprc from the project folder
    if os.getpid() != 1:
        protocol.send(control, {"event": "error", "error": "the agent must be pid 1 of a new pid namespace"})
        return 1
    setup = json.loads((workdir / layout.SETUP_FILE).read_text())
    try:
        ready = set_up(control, workdir, setup)
    except Exception:
        protocol.send(control, {"event": "error", "error": traceback.format_exc()})
        return 1
    running = ready.pop("daemons")
    protocol.send(control, ready)
    serve(control, running)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
