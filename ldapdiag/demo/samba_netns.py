"""Inside the Samba DC's private network namespace: loopback up, samba started, ports relayed out.

Samba's AD LDAP server always listens on 389 and 636 (no option moves them), so the DC runs in a
network namespace of its own, where those ports are free, and this process (pid 1 of a fresh pid
namespace, standard library only) relays connections from listening sockets that the parent
created on the host's 127.0.0.1 (free ports, inherited as file descriptors) to 389 and 636 on the
namespace's 127.0.0.1. When it exits, the kernel kills samba and all its children.

Run by ldapdiag.demo.samba as:
    unshare --net --pid --fork --kill-child=SIGKILL python -m ldapdiag.demo.samba_netns \
        LOG_FILE FD:PORT[,FD:PORT...] -- samba ARGS...
It prints `ready` on stdout once every relayed port answers inside, or `failed: REASON`; a line
`stop` (or end of file) on stdin stops samba and the relay.
"""

from __future__ import annotations

import contextlib
import fcntl
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
CHUNK = 65536


def loopback_up() -> None:
    """`ip link set lo up`, without needing iproute2."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP))


def answers(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:port (inside the namespace)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until_serving(samba: subprocess.Popen[bytes], ports: list[int]) -> str | None:
    """None once every port answers; else why not (samba exited, or the time ran out)."""
    deadline = time.monotonic() + START_TIMEOUT
    while not all(answers(port) for port in ports):
        if samba.poll() is not None:
            return f"samba exited with status {samba.returncode} during start-up"
        if time.monotonic() > deadline:
            return f"samba did not serve LDAP within {START_TIMEOUT:.0f} s"
        time.sleep(0.05)
    return None


def pump(source: socket.socket, target: socket.socket) -> None:
    """Copy bytes one way until end of file, then close both sides."""
    try:
        while data := source.recv(CHUNK):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def relay(listener: socket.socket, port: int) -> None:
    """Accept on the host-side listener forever; forward each connection to 127.0.0.1:port here."""
    while True:
        try:
            outside, _ = listener.accept()
        except OSError:
            return
        try:
            inside = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            outside.close()
            continue
        inside.settimeout(None)
        for source, target in ((outside, inside), (inside, outside)):
            threading.Thread(target=pump, args=(source, target), daemon=True).start()


def stop(samba: subprocess.Popen[bytes]) -> None:
    """SIGTERM samba, SIGKILL it if it lingers."""
    if samba.poll() is None:
        samba.terminate()
        try:
            samba.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            samba.kill()
            samba.wait()


def main(argv: list[str]) -> int:
    log_file, mapping, separator, *command = argv
    if separator != "--" or not command:
        print("failed: usage: samba_netns LOG FD:PORT[,FD:PORT] -- samba ARGS", flush=True)
        return 2
    relays = [tuple(int(part) for part in item.split(":")) for item in mapping.split(",")]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    loopback_up()
    with open(log_file, "ab") as log:
        samba = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        problem = wait_until_serving(samba, [port for _fd, port in relays])
        if problem:
            print(f"failed: {problem}", flush=True)
            return 1
        for fd, port in relays:
            listener = socket.socket(fileno=fd)
            threading.Thread(target=relay, args=(listener, port), daemon=True).start()
        print("ready", flush=True)
        for line in sys.stdin:
            if line.strip() == "stop":
                break
        return 0
    finally:
        stop(samba)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
