"""Inside the fresh namespaces (agent side): mounts over DMS's paths, loopback up, relay listeners.

`unshare --mount` made every mount private, so nothing here reaches the host's mount table, and
all of it vanishes with the namespace when the agent (pid 1) exits.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
from pathlib import Path

from tests.sandbox import layout

MS_NOSUID = 2
MS_NODEV = 4
MS_BIND = 4096
MS_REC = 16384

_libc = ctypes.CDLL(None, use_errno=True)


class NamespaceError(RuntimeError):
    """The sandbox could not be set up."""


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    """mount(2); raise NamespaceError naming the target on failure."""
    result = _libc.mount(
        source.encode(),
        target.encode(),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    if result != 0:
        err = ctypes.get_errno()
        raise NamespaceError(f"mount {source} on {target}: {os.strerror(err)}")


def mount_all(workdir: Path) -> None:
    """tmpfs over /run and /dev/shm, the workdir's folders and files over DMS's paths."""
    for target in layout.TMPFS_DIRS:
        mode = "1777" if target == "/dev/shm" else "0755"
        mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"mode={mode}")
    for folder, target in layout.BIND_DIRS.items():
        if not Path(target).is_dir():
            raise NamespaceError(f"mount point {target} does not exist on this machine")
        mount(str(workdir / folder), target, None, MS_BIND | MS_REC)
    for name, target in layout.BIND_FILES.items():
        mount(str(workdir / name), _file_target(target), None, MS_BIND)


def _file_target(path: str) -> str:
    """The file to mount over: a symlink's target, created if it lived on one of our fresh tmpfs."""
    real = Path(os.path.realpath(path))
    if not real.exists():
        if not any(real.is_relative_to(tmpfs) for tmpfs in layout.TMPFS_DIRS):
            raise NamespaceError(f"mount point {path} does not exist on this machine")
        real.parent.mkdir(parents=True, exist_ok=True)  # e.g. /run/systemd/resolve/stub-resolv.conf
        real.touch()
    return str(real)


def network_up(hostname: str) -> None:
    """Bring `lo` up with the client's extra address; name the host like the container."""
    socket.sethostname(hostname)
    for args in (
        ["ip", "link", "set", "lo", "up"],
        ["ip", "addr", "add", f"{layout.CLIENT_IP}/32", "dev", "lo"],
    ):
        result = subprocess.run(args, capture_output=True, text=True, check=False)
        if result.returncode:
            raise NamespaceError(f"{' '.join(args)}: {result.stderr.strip()}")


def relay_listeners(ports: list[int]) -> list[socket.socket]:
    """Listening sockets on the sandbox's 127.0.0.1 (and ::1 when present) for each relayed port."""
    listeners = []
    for port in ports:
        for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((address, port))
            except OSError:
                sock.close()
                if family == socket.AF_INET:
                    raise
                continue  # no IPv6 in this kernel: IPv4 alone
            sock.listen(64)
            listeners.append(sock)
    return listeners
