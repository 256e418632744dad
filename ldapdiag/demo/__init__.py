"""Throwaway slapd servers serving the scenario folders, for `ldapdiag demo` and the tests."""

from ldapdiag.demo.certs import ServerCerts, bundled_certs, expired_certs, generate_certs
from ldapdiag.demo.scenario import Scenario, ScenarioError, load_scenario
from ldapdiag.demo.server import DemoServerError, RunningDirectory, Terminated, serve_scenario

__all__ = [
    "DemoServerError",
    "RunningDirectory",
    "Scenario",
    "ScenarioError",
    "ServerCerts",
    "Terminated",
    "bundled_certs",
    "expired_certs",
    "generate_certs",
    "load_scenario",
    "serve_scenario",
]
