"""Dovecot 2.3 emulation: LDAP passdb and userdb, logins and LMTP delivery."""
