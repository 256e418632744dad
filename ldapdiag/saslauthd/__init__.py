"""Cyrus saslauthd 2.1 emulation: the ldap mechanism (lak.c) as postfix uses it for SMTP AUTH."""
