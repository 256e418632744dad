"""Postfix emulation: ldap_table lookups, recipient resolution and sender login checks."""
