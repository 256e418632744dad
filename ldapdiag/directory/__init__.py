"""The LDAP directory as postfix, dovecot and saslauthd reach it: filters, connections, queries."""
