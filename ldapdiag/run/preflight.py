"""Before checking: can this machine reach each component's LDAP server at all?

A component none of whose servers accepts a TCP connection from here cannot be checked: its
expectations end as "could not check" (exit 2) rather than as the failures the real program would
see, since the container may well reach a server this machine cannot. Everything past the TCP
connection (TLS, certificates, binds) is part of the prediction.
"""

from __future__ import annotations

import socket
from pathlib import Path

from ldapdiag.config.model import MailServerConfig
from ldapdiag.directory.policies import connection_policies
from ldapdiag.directory.policy import ConnectionPolicy
from ldapdiag.directory.servers import ServerSpec

CONNECT_TIMEOUT = 3.0


def unreachable_components(config: MailServerConfig) -> dict[str, str]:
    """component -> why none of its servers can be reached from here."""
    cache: dict[tuple[str, str, int], str | None] = {}
    blocked: dict[str, str] = {}
    for policy in connection_policies(config):
        if not isinstance(policy, ConnectionPolicy) or policy.component in blocked:
            continue
        problems = [_problem(server, cache) for server in policy.servers]
        if policy.servers and all(problems):
            servers = ", ".join(s.url for s in policy.servers)
            blocked[policy.component] = (
                f"{policy.component}'s LDAP server {servers} is not reachable from here "
                + (f"({problems[0]})")
            )
    return blocked


def _problem(server: ServerSpec, cache: dict[tuple[str, str, int], str | None]) -> str | None:
    key = (server.scheme, server.host, server.port)
    if key not in cache:
        cache[key] = _try(server)
    return cache[key]


def _try(server: ServerSpec) -> str | None:
    """None when a connection can be opened, else the reason."""
    if server.scheme == "ldapi":
        return None if Path(server.host).exists() else "no such socket"
    try:
        with socket.create_connection((server.host, server.port), timeout=CONNECT_TIMEOUT):
            return None
    except socket.gaierror:
        return "unknown host"
    except TimeoutError:
        return f"no answer within {CONNECT_TIMEOUT:.0f} s"
    except ConnectionRefusedError:
        return "connection refused"
    except OSError as error:
        return error.strerror or type(error).__name__
