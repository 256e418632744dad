"""Shared fixtures: throwaway slapd servers (plain and TLS) and the postfix+dovecot+saslauthd sandbox."""

pytest_plugins = ["tests.ldap_server", "tests.tls_servers", "tests.sandbox.fixtures"]
