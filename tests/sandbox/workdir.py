"""The sandbox's files on the host (harness side): one private temp folder, bind-mounted by the agent.

Every file a daemon reads is written here first, under the folder that is mounted over its DMS
path (layout.BIND_DIRS); postfix's files get an mtime in the past so no table counts as "hot".
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from tests.sandbox import layout

# Support files postfix reads from its config directory (meta_directory on Debian).
POSTFIX_SUPPORT = (
    "dynamicmaps.cf",
    "dynamicmaps.cf.d",
    "postfix-files",
    "postfix-files.d",
    "post-install",
    "postfix-script",
    "makedefs.out",
)
DEBIAN_LDAP_CONF = (
    "# ldapdiag sandbox: Debian's /etc/ldap/ldap.conf\nTLS_CACERT\t/etc/ssl/certs/ca-certificates.crt\n"
)
RESOLV_CONF = f"nameserver {layout.SERVER_IP}\noptions timeout:1 attempts:1\n"
PAST = 3600.0  # seconds: how old the written files look


def create() -> Path:
    """A fresh, private workdir with the bind-mount folders owned and moded as DMS has them."""
    workdir = Path(tempfile.mkdtemp(prefix="ldapdiag-sandbox-"))
    for folder in layout.BIND_DIRS:
        (workdir / folder).mkdir(mode=0o755)
    for folder in ("etc", "home", "etc-postfix/sasl"):
        (workdir / folder).mkdir(mode=0o755)
    postfix = pwd.getpwnam("postfix")
    os.chown(workdir / "lib-postfix", postfix.pw_uid, postfix.pw_gid)  # master.lock lives here
    os.chown(workdir / "mail", layout.VMAIL_UID, layout.VMAIL_GID)
    os.chmod(workdir / "mail", 0o2775)
    for name in POSTFIX_SUPPORT:
        source = Path("/etc/postfix") / name
        if source.is_dir():
            shutil.copytree(source, workdir / "etc-postfix" / name)
        elif source.exists():
            shutil.copy2(source, workdir / "etc-postfix" / name)
    (workdir / "etc" / "resolv.conf").write_text(RESOLV_CONF)
    (workdir / "etc" / "passwd").write_text(_passwd())
    (workdir / "etc" / "group").write_text(_group())
    return workdir


def _passwd() -> str:
    """/etc/passwd plus DMS's `docker` user (uid 5000), unless uid 5000 exists."""
    text = Path("/etc/passwd").read_text()
    try:
        pwd.getpwuid(layout.VMAIL_UID)
    except KeyError:
        text += f"docker:x:{layout.VMAIL_UID}:{layout.VMAIL_GID}::/home/docker:/bin/bash\n"
    return text


def _group() -> str:
    """/etc/group plus DMS's `docker` group, and postfix in `sasl` (DMS: gpasswd -a postfix sasl)."""
    lines = []
    for line in Path("/etc/group").read_text().splitlines():
        fields = line.split(":")
        if len(fields) == 4 and fields[0] == "sasl" and "postfix" not in fields[3].split(","):
            fields[3] = ",".join(filter(None, [*fields[3].split(","), "postfix"]))
        lines.append(":".join(fields))
    try:
        grp.getgrgid(layout.VMAIL_GID)
    except KeyError:
        lines.append(f"docker:x:{layout.VMAIL_GID}:")
    return "\n".join(lines) + "\n"


def write_files(workdir: Path, files: Mapping[str, str], private: frozenset[str] = frozenset()) -> None:
    """Write each inside-path's text under its bind folder (mode 0600 for `private` paths)."""
    past = time.time() - PAST
    for inside, text in files.items():
        folder, relative = layout.host_path(inside)
        target = workdir / folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if inside in private else 0o644)
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(text)
        os.utime(target, (past, past))


def write_private(path: Path, text: str) -> None:
    """A file only root can read (saslauthd.conf, setup.json)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as handle:
        handle.write(text)


def remove(workdir: Path) -> None:
    """Delete the workdir (the namespace, and so every mount of it, is gone by now)."""
    shutil.rmtree(workdir, ignore_errors=True)
