"""The container's hostname and DMS's DOMAINNAME.

Mirrors docker-mailserver v15.1.0 `target/scripts/helpers/dns.sh` (`_obtain_hostname_and_domainname`):
HOSTNAME is OVERRIDE_HOSTNAME, else `hostname -f` in the container. With more than two labels,
DOMAINNAME is the hostname minus its first label (`hostname -d`); otherwise it equals the hostname.
Inside a container started by compose, `hostname -f` is `hostname:` joined with `domainname:`.
"""

from __future__ import annotations

import socket

from ldapdiag.config.model import HostIdentity
from ldapdiag.config.origin import Finding, Origin
from ldapdiag.config.settings import Setting, Settings


def derive_identity(
    settings: Settings,
    compose_hostname: Setting | None = None,
    compose_domainname: Setting | None = None,
    inside_container: bool = False,
) -> tuple[HostIdentity, list[Finding]]:
    """HOSTNAME and DOMAINNAME as `_obtain_hostname_and_domainname` computes them."""
    findings: list[Finding] = []
    override = settings.get("OVERRIDE_HOSTNAME")
    if override is not None and override.value:
        fqdn, origin = override.value, _origin(override)
    elif compose_hostname is not None and compose_hostname.value:
        fqdn, origin = _compose_fqdn(compose_hostname, compose_domainname)
    else:
        fqdn = socket.getfqdn()
        origin = Origin("derived", "hostname -f", "")
        if not inside_container:
            findings.append(
                Finding(
                    "info",
                    "hostname",
                    f"the container's hostname is not known here; using this machine's ({fqdn}). "
                    "Set OVERRIDE_HOSTNAME or use --compose for the container's",
                )
            )
    return _identity(fqdn, origin), findings


def _compose_fqdn(hostname: Setting, domainname: Setting | None) -> tuple[str, Origin]:
    """`hostname -f` in a container whose compose service sets `hostname:` (and `domainname:`)."""
    if domainname is not None and domainname.value:
        return f"{hostname.value}.{domainname.value}", _origin(hostname)
    return hostname.value, _origin(hostname)


def _identity(fqdn: str, origin: Origin) -> HostIdentity:
    """DOMAINNAME: the FQDN minus its first label when it has more than two labels."""
    if len(fqdn.split(".")) > 2:
        domain = fqdn.split(".", 1)[1]
        domain_origin = Origin("derived", f"hostname {fqdn} minus its first label")
    else:
        domain, domain_origin = fqdn, Origin("derived", f"hostname {fqdn} (two labels or fewer)")
    return HostIdentity(fqdn, origin, domain, domain_origin)


def _origin(setting: Setting) -> Origin:
    return Origin(setting.origin.kind, setting.origin.location, setting.name)


def identity_from_main_cf(myhostname: str, mydomain: str | None, where: str) -> HostIdentity:
    """The identity a container copy records in main.cf (`myhostname`, `mydomain`)."""
    if mydomain:
        origin = Origin("file", where, "myhostname")
        return HostIdentity(myhostname, origin, mydomain, Origin("file", where, "mydomain"))
    return _identity(myhostname, Origin("file", where, "myhostname"))
