"""Where a component reads its bind password from, when that is a file (a path, never the password)."""

from __future__ import annotations

from ldapdiag.config.model import MailServerConfig
from ldapdiag.directory.policy import ConnectionPolicy

PASSWORD_KEYS = {"postfix": "bind_pw", "dovecot": "dnpass", "saslauthd": "ldap_bind_pw"}


def bind_password_file(config: MailServerConfig, policy: ConnectionPolicy) -> str | None:
    """The `*__FILE` path DMS read this component's bind password from (None: inline or unknown).

    DMS reads `LDAP_BIND_PW__FILE` without exporting it, so the postfix maps keep the template's
    password and get None here: their password does not come from that file.
    """
    files = [*config.postfix_tables.values(), config.dovecot_ldap, config.saslauthd]
    for conf in files:
        if conf is None or conf.path != policy.source:
            continue
        entry = conf.get(PASSWORD_KEYS.get(policy.component, ""))
        if entry is None:
            return None
        origin = entry.origin
        if origin.kind == "derived" and origin.location:  # dms_variables: a `*__FILE` secret's file
            return origin.location
        return None
    return None
