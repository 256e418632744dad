"""ldapdiag: predicts what postfix, dovecot and saslauthd of a docker-mailserver do with an LDAP directory."""

__version__ = "0.1.0"
