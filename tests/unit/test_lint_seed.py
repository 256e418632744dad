"""`ldapdiag lint` on the seed page's own examples (configuration only), end to end through the CLI.

The seed is ../shared/seed/dms-ldap-provisioner.md; its examples are the compose files
tests/data/compose/seed-*.yml, the env files tests/data/seed/*.env and the prose filters in
tests/data/lint/seed-*.env. Every expected problem is reasoned in the rule's module from its source
(DMS v15.1.0, postfix 3.7.11, dovecot 2.3.19.1, cyrus-sasl 2.1.28) and listed here with why:

- "really simple" example (seed-filter-snippet.yml / really-simple.env): LDAP_SERVER_HOST without a
  scheme (DMS start-up error; dovecot's ldap_initialize() refuses it), the stray `"` of
  LDAP_SEARCH_BASE (a warning, and the base is no DN for postfix and dovecot), LDAP_START_TLS=yes
  reaches postfix only (dovecot stays in plain text; postfix does not check the certificate), and
  DOVECOT_USER_FILTER is unset, so DMS writes an empty pass_filter.
- Basic Setup (seed-basic-setup.yml): the host without a scheme (dovecot and saslauthd refuse it)
  and the rename trap `uid=user` with `(mail=%u)`.
- Kopano (seed-kopano.yml): the placeholder host, and AD-looking filters without TLS.
- Active Directory (active-directory.env): StartTLS without certificate checks (postfix, saslauthd)
  and `(memberOf=cn=Domain Admins,cn=Users,dc=*)` never matching.
- prose filters (seed-prose.env): `(memberOf=cn=admin,*)`, `(memberOf=cn=email,*)`.
- qmail example and the DMS defaults: nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ldapdiag.cli import main
from ldapdiag.config.load import load_config
from ldapdiag.config.sources import SourceOptions
from tests.unit.test_from_files import write_container_copy

DATA = Path(__file__).parent.parent / "data"
COMPOSE = DATA / "compose"
SEED = DATA / "seed"
LINT = DATA / "lint"
DEFAULTS = LINT / "dms-defaults.env"
PASSWORDS = ("mypassword", "secret")


def lint(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["lint", "--no-env", *args, "--format", "json"], catch_exceptions=False)
    for password in PASSWORDS:
        assert password not in result.stdout + result.stderr
    return result.exit_code, json.loads(result.stdout)


def found(data: dict) -> set[tuple[str, str, str, str]]:
    return {(p["code"], p["level"], p["component"], p["where"]) for p in data["problems"]}


def snippet_problems(where: str, line: dict[str, int]) -> set[tuple[str, str, str, str]]:
    return {
        ("dms-host-scheme", "error", "dms", f"{where}:{line['host']}"),
        ("component-refuses", "error", "dovecot", f"{where}:{line['host']}"),
        ("search-base-dn", "error", "postfix", f"{where}:{line['base']}"),
        ("search-base-dn", "error", "dovecot", f"{where}:{line['base']}"),
        ("stray-quote", "warning", "dms", f"{where}:{line['base']}"),
        ("tls-no-verify", "warning", "postfix", f"{where}:{line['tls']}"),
        ("tls-mismatch", "warning", "dovecot", "DOVECOT_TLS"),
        ("empty-filter", "error", "dovecot", "DOVECOT_USER_FILTER"),
    }


def test_really_simple_compose() -> None:
    path = COMPOSE / "seed-filter-snippet.yml"
    code, data = lint("--compose", str(path))
    assert code == 1
    assert found(data) == snippet_problems(str(path), {"host": 10, "base": 11, "tls": 8})


def test_really_simple_env_file() -> None:
    path = SEED / "really-simple.env"
    code, data = lint("--env-file", str(path))
    assert code == 1
    hostname = {("dms-config", "info", "dms", "hostname")}  # no compose: the hostname is unknown
    assert found(data) == snippet_problems(str(path), {"host": 4, "base": 5, "tls": 2}) | hostname


def test_basic_setup() -> None:
    path = COMPOSE / "seed-basic-setup.yml"
    code, data = lint("--compose", str(path))
    assert code == 1
    config_volume = str(COMPOSE / "docker-data" / "dms" / "config")
    assert found(data) == {
        ("dms-host-scheme", "error", "dms", f"{path}:30"),
        ("component-refuses", "error", "dovecot", f"{path}:30"),
        ("component-refuses", "error", "saslauthd", f"{path}:30"),
        ("dovecot-rename", "error", "dovecot", f"{path}:44"),
        ("dms-config", "info", "dms", config_volume),
    }
    rename = next(p for p in data["problems"] if p["code"] == "dovecot-rename")
    assert "'uid=user' renames the login" in rename["message"]
    assert "(mail=%u)" in rename["message"]


def test_kopano() -> None:
    path = COMPOSE / "seed-kopano.yml"
    code, data = lint("--compose", str(path))
    assert code == 1
    config_volume = str(COMPOSE / "docker-data" / "dms" / "config")
    assert found(data) == {
        ("dms-host-scheme", "error", "dms", f"{path}:37"),
        ("component-refuses", "error", "saslauthd", f"{path}:37"),
        ("tls-ad-plain", "warning", "postfix", "LDAP_START_TLS"),
        ("dms-config", "info", "dms", config_volume),
    }


def test_active_directory() -> None:
    path = SEED / "active-directory.env"
    code, data = lint("--env-file", str(path))
    assert code == 0  # warnings only
    assert found(data) == {
        ("tls-no-verify", "warning", "postfix", f"{path}:12"),
        ("tls-no-verify", "warning", "saslauthd", f"{path}:13"),
        ("substring-never-matches", "warning", "postfix", f"{path}:21"),
        ("dms-config", "info", "dms", "hostname"),
    }
    code, _ = lint("--env-file", str(path), "--strict")
    assert code == 1


def test_prose_filters() -> None:
    path = LINT / "seed-prose.env"
    code, data = lint("--env-file", str(DEFAULTS), "--env-file", str(path))
    assert code == 0
    assert found(data) == {
        ("substring-never-matches", "warning", "postfix", f"{path}:9"),
        ("substring-never-matches", "warning", "saslauthd", f"{path}:12"),
        ("tls-no-verify", "warning", "postfix", f"{path}:13"),
        ("tls-no-verify", "warning", "saslauthd", f"{path}:15"),
    }
    messages = " ".join(p["message"] for p in data["problems"])
    assert "(memberOf=cn=admin,*) never matches" in messages
    assert "(memberOf=cn=email,*) never matches" in messages


@pytest.mark.parametrize("extra", [(), ("--env-file", str(LINT / "seed-qmail.env"))])
def test_defaults_and_qmail_are_clean(extra: tuple[str, ...]) -> None:
    code, data = lint("--env-file", str(DEFAULTS), *extra)
    assert code == 0
    assert data["problems"] == []


def test_container_copy(tmp_path: Path) -> None:
    """--from-files: the same example's generated files; problems point at their lines."""
    options = SourceOptions(env_files=(SEED / "really-simple.env",), use_environment=False)
    write_container_copy(load_config(options, {}), tmp_path)
    code, data = lint("--from-files", str(tmp_path))
    assert code == 1
    dovecot = "/etc/dovecot/dovecot-ldap.conf.ext"
    assert {
        ("component-refuses", "error", "dovecot", f"{dovecot}:5"),
        ("empty-filter", "error", "dovecot", f"{dovecot}:9"),
        ("tls-mismatch", "warning", "dovecot", f"{dovecot}:6"),
        ("search-base-dn", "error", "postfix", "/etc/postfix/ldap-users.cf:6"),
        ("tls-no-verify", "warning", "postfix", "/etc/postfix/ldap-domains.cf:8"),
    } <= found(data)
