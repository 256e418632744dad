"""Shared fixtures: the throwaway slapd servers of tests/ldap_server.py."""

pytest_plugins = ["tests.ldap_server"]
