"""Commands a person can paste to ask the same question: ldapsearch, postmap -q, doveadm, testsaslauthd.

Each command is a list of units (an option with its value, or one argument), already quoted for
sh with shlex.quote, so a renderer may break lines between units and never inside one. Passwords
never appear: ldapsearch reads the bind password with `-y FILE` (the configuration's `*__FILE`
path when it has one, else a placeholder), testsaslauthd gets `-p "$(cat FILE)"`, doveadm asks.
"""

from __future__ import annotations

from shlex import quote

from ldapdiag.directory.directory import WireSearch
from ldapdiag.directory.ldapconf import TlsLevel
from ldapdiag.explain.model import Query

BIND_PASSWORD_PLACEHOLDER = "/path/to/bind-password-file"
USER_PASSWORD_PLACEHOLDER = "/path/to/user-password-file"
DEREF_NAMES = {1: "search", 2: "find", 3: "always"}  # ldapsearch -a (0, never, is its default)


def ldapsearch(query: Query, password_file: str | None) -> list[str] | None:
    """`ldapsearch` with the query's server, TLS, bind, base, scope, limits, filter and attributes.

    None when the search never reached a server (no URI to name). The TLS checks follow the
    component: one that does not verify certificates (postfix's default tls_require_cert = no) gets
    LDAPTLS_REQCERT=never in front, as libldap then behaves for it; one that does gets the CAs it
    trusts (tls_trust()).
    """
    wire = query.wire
    if wire is None:
        return None
    policy = wire.policy
    units: list[str] = []
    uses_tls = policy.start_tls or wire.event.server.startswith("ldaps://")
    if uses_tls and not policy.tls.verifies:
        units.append("LDAPTLS_REQCERT=never")
    elif uses_tls:
        units += tls_trust(wire)
    units += ["ldapsearch", f"-H {quote(wire.event.server)}", "-x"]
    if policy.start_tls:
        units.append("-ZZ")
    if policy.version == 2:
        units.append("-P 2")
    bind = policy.bind
    if bind.method != "none" and not bind.anonymous:
        units.append(f"-D {quote(bind.dn)}")
        if bind.password is not None and not bind.password.empty:
            units.append(f"-y {quote(password_file or BIND_PASSWORD_PLACEHOLDER)}")
    units += [f"-b {quote(query.base)}", f"-s {query.scope}"]
    limit = policy.size_limit
    if limit:
        units.append(f"-z {limit}")
    if policy.deref in DEREF_NAMES:
        units.append(f"-a {DEREF_NAMES[policy.deref]}")
    units.append(quote(query.filter or ""))
    units += [quote(attribute) for attribute in query.attributes]
    return units


def tls_trust(wire: WireSearch) -> list[str]:
    """LDAPTLS_REQCERT (when not libldap's default demand), LDAPTLS_CACERT and LDAPTLS_CACERTDIR
    for a component that checks certificates: the CA file and directory it names (dovecot
    tls_ca_cert_file/dir, saslauthd ldap_tls_cacert_file/dir, postfix tls_ca_cert_file/dir, else
    ldap.conf's TLS_CACERT/TLS_CACERTDIR), ldapdiag's --ca-file/--ca-dir in their place when given
    (the copy on this machine). libldap reads these variables over ldap.conf (ldap_int_initialize
    reads LDAP* from the environment last). A component that names no CA trusts none: nothing added,
    as ldapdiag's own verdict adds no --ca-file then either (connection.py)."""
    tls = wire.policy.tls
    units = [] if tls.chain == TlsLevel.DEMAND else [f"LDAPTLS_REQCERT={tls.chain.word}"]
    if not tls.ca_sources:
        return units
    own = {kind: [s.path for s in tls.ca_sources if s.kind == kind] for kind in ("file", "dir")}
    files = [str(path) for path in wire.extra_ca_files] or own["file"]
    dirs = [str(path) for path in wire.extra_ca_dirs] or own["dir"]
    if files:
        units.append(f"LDAPTLS_CACERT={quote(files[0])}")
    if dirs:
        units.append(f"LDAPTLS_CACERTDIR={quote(dirs[0])}")
    return units


def postmap(key: str, table: str) -> list[str]:
    """`postmap -q KEY TABLE`: the lookup as postfix's own tool makes it."""
    return ["postmap", f"-q {quote(key)}", quote(table)]


def doveadm_user(user: str) -> list[str]:
    """`doveadm user -u USER`: the userdb lookup of LMTP."""
    return ["doveadm user", f"-u {quote(user)}"]


def doveadm_auth(kind: str, user: str, service: str | None = None) -> list[str]:
    """`doveadm auth test|login [-x service=S] USER`: doveadm asks for the password."""
    units = [f"doveadm auth {kind}"]
    if service is not None and service != "imap":
        units.append(f"-x service={quote(service)}")
    return [*units, quote(user)]


def testsaslauthd(user: str, realm: str | None, password_file: str | None) -> list[str]:
    """`testsaslauthd -u USER -r REALM -s smtp -p "$(cat FILE)"`: a file's path, never the password."""
    units = ["testsaslauthd", f"-u {quote(user)}"]
    if realm:
        units.append(f"-r {quote(realm)}")
    path = quote(password_file or USER_PASSWORD_PLACEHOLDER)
    return [*units, "-s smtp", f'-p "$(cat {path})"']
