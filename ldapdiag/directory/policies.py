"""Every connection a mail server makes: one ConnectionPolicy per postfix table, dovecot, saslauthd."""

from __future__ import annotations

from ldapdiag.config.model import ConfFile, MailServerConfig
from ldapdiag.directory.ldapconf import LdapConf, read_ldap_conf
from ldapdiag.directory.policy import Component, ConnectionPolicy, PolicyError, PolicyFailure
from ldapdiag.directory.policy_dovecot import dovecot_policy
from ldapdiag.directory.policy_postfix import postfix_policy
from ldapdiag.directory.policy_saslauthd import saslauthd_policy

__all__ = ["connection_policies", "dovecot_policy", "postfix_policy", "saslauthd_policy"]


def connection_policies(
    config: MailServerConfig, ldap_conf: LdapConf | None = None
) -> list[ConnectionPolicy | PolicyFailure]:
    """Every connection the mail server makes: postfix tables (file order), dovecot, saslauthd."""
    ldap_conf = ldap_conf or read_ldap_conf()
    fqdn = config.identity.hostname or None
    result: list[ConnectionPolicy | PolicyFailure] = []
    jobs: list[tuple[Component, ConfFile]] = [("postfix", conf) for conf in config.postfix_tables.values()]
    if config.dovecot_ldap is not None:
        jobs.append(("dovecot", config.dovecot_ldap))
    if config.saslauthd is not None:
        jobs.append(("saslauthd", config.saslauthd))
    derive = {"postfix": postfix_policy, "dovecot": dovecot_policy, "saslauthd": saslauthd_policy}
    for component, conf in jobs:
        try:
            result.append(derive[component](conf, ldap_conf, fqdn))
        except PolicyError as error:
            result.append(PolicyFailure(component, conf.path, error))
    return result
