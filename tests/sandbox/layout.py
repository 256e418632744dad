"""Where things live inside the sandbox and which host paths it hides (shared by harness and agent).

Imports nothing beyond the standard library: the agent (pid 1 of the sandbox) imports it too and
must start fast.
"""

from __future__ import annotations

# The SMTP client's address: TEST-NET-2, outside every mynetworks DMS writes, so the sandbox's
# postfix treats probes like mail from the internet. Added to `lo` inside the namespace only.
CLIENT_IP = "198.51.100.10"
# Where the daemons listen inside the namespace (its own loopback).
SERVER_IP = "127.0.0.1"
# What the DNS stub answers for A records: TEST-NET-1, which has no route inside the namespace,
# so mail to a test domain outside the sandbox (a bounce) fails at once instead of leaving it.
UNROUTABLE_IP = "192.0.2.1"
HELO_NAME = "client.example.net"
EXTERNAL_DOMAIN = "example.net"  # a sender domain the DNS stub knows, not hosted by the sandbox

SMTP_PORT = 25
SUBMISSION_PORT = 587
DNS_PORT = 53

MAIL_LOG = "/var/log/mail.log"
DOVECOT_LOG = "/var/log/dovecot.log"
SASLAUTHD_LOG = "/var/log/saslauthd.log"
SASLAUTHD_RUNDIR = "/var/run/saslauthd"
DOVECOT_CONF = "/etc/dovecot/dovecot.conf"
DOVECOT_SASL_SOCKET = "/dev/shm/sasl-auth.sock"
LMTP_SOCKET = "/var/run/dovecot/lmtp"
LDAP_CA_FILE = "/etc/ldap/sandbox-ca.pem"  # the test directory's CA, readable by every daemon
VMAIL_UID = 5000  # DMS's `docker` user owns /var/mail
VMAIL_GID = 5000

# workdir sub-folder -> the directory it is bind-mounted over inside the namespace
BIND_DIRS: dict[str, str] = {
    "etc-postfix": "/etc/postfix",
    "etc-dovecot": "/etc/dovecot",
    "etc-ldap": "/etc/ldap",
    "spool-postfix": "/var/spool/postfix",
    "lib-postfix": "/var/lib/postfix",
    "lib-dovecot": "/var/lib/dovecot",
    "mail": "/var/mail",
    "log": "/var/log",
}
# workdir file -> the file it is bind-mounted over (resolv.conf: over its target if a symlink)
BIND_FILES: dict[str, str] = {
    "etc/passwd": "/etc/passwd",
    "etc/group": "/etc/group",
    "etc/resolv.conf": "/etc/resolv.conf",
}
TMPFS_DIRS = ("/run", "/dev/shm")

SETUP_FILE = "setup.json"  # in the workdir: what the agent needs to know
AGENT_LOG = "agent.log"  # in the workdir: the agent's stderr


def host_path(inside: str) -> tuple[str, str]:
    """(workdir sub-folder, relative path) of a path under one of BIND_DIRS."""
    for folder, mount_point in BIND_DIRS.items():
        if inside == mount_point or inside.startswith(mount_point + "/"):
            return folder, inside[len(mount_point) :].lstrip("/")
    raise ValueError(f"{inside} is not under a sandbox bind mount")
