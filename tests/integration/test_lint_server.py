"""`ldapdiag lint --server` against real slapd servers, with the claims behind the rules checked there.

Two directories: scenarios/basic-setup (the seed's Basic Setup with the postfix-book schema) and
tests/data/lint/multidomain (four mail domains, a DN-valued `member`, msuser's sAMAccountName
without an EQUALITY rule). Each expected finding is backed by a search with the real ldapsearch:
an assertion that "never matches" finds nothing although the data holds a matching value.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ldapdiag.cli import main
from ldapdiag.demo import RunningDirectory, serve_scenario
from ldapdiag.lint.dn import dn_problem
from tests.ldap_server import BASIC_SETUP, ldap_env, ldapsearch, requires_slapd, search_dns

pytestmark = requires_slapd

DATA = Path(__file__).parent.parent / "data"
MULTIDOMAIN = DATA / "lint" / "multidomain"
AD_ENV = DATA / "seed" / "active-directory.env"


@pytest.fixture(scope="module")
def multidomain() -> Iterator[RunningDirectory]:
    with serve_scenario(MULTIDOMAIN) as directory:
        yield directory


def env_file(tmp_path: Path, directory: RunningDirectory, base: Path, extra: str = "") -> Path:
    """`base` with the directory's bind DN and password in place (line numbers kept), then `extra`."""
    password = directory.password_file.read_text()  # never passed with --set
    lines = base.read_text().splitlines()
    replace = {"LDAP_BIND_PW": password, "LDAP_BIND_DN": directory.bind_dn}
    lines = [f"{k}={replace[k]}" if (k := line.split("=", 1)[0]) in replace else line for line in lines]
    if not any(line.startswith("LDAP_BIND_PW=") for line in lines):
        lines.append(f"LDAP_BIND_PW={password}")
    path = tmp_path / "mailserver.env"
    path.write_text("\n".join([*lines, extra]) + "\n")
    return path


def lint(env: Path, directory: RunningDirectory, *args: str) -> tuple[int, dict]:
    arguments = [
        "lint",
        "--no-env",
        "--env-file",
        str(env),
        "--set",
        f"LDAP_SERVER_HOST={directory.ldap_url}",
    ]
    result = CliRunner().invoke(
        main, [*arguments, "--server", "--format", "json", *args], catch_exceptions=False
    )
    assert directory.password_file.read_text() not in result.stdout + result.stderr
    return result.exit_code, json.loads(result.stdout)


def by_code(data: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for problem in data["problems"]:
        found.setdefault(problem["code"], []).append(problem)
    return found


# --- basic-setup: the seed's Basic Setup with a URL as LDAP_SERVER_HOST ---------------------------


def test_basic_setup(tmp_path: Path, basic_setup_directory: RunningDirectory) -> None:
    env = env_file(
        tmp_path, basic_setup_directory, BASIC_SETUP / "mailserver.env", "OVERRIDE_HOSTNAME=mail.x"
    )
    code, data = lint(env, basic_setup_directory)
    assert code == 1 and data["server_checked"] is True and data["not_checked"] == []
    found = by_code(data)
    assert sorted(found) == ["dovecot-rename", "substring-never-matches"]
    [substring] = found["substring-never-matches"]
    assert substring["level"] == "warning"  # (mail=*@%s) and (mailAlias=*@%s) still work
    assert "(mailGroupMember=*@%s) never matches" in substring["message"]
    assert "no SUBSTR matching rule" in substring["message"]


def test_mail_group_member_substring_never_matches(basic_setup_directory: RunningDirectory) -> None:
    assert search_dns(basic_setup_directory, "(mailGroupMember=*@example.org)") == set()
    assert search_dns(basic_setup_directory, "(mailGroupMember=team@example.org)")  # the values are there


def test_ad_filters_against_openldap(tmp_path: Path, basic_setup_directory: RunningDirectory) -> None:
    """The seed's AD changes against a directory without AD's schema: what never matches there."""
    env = env_file(tmp_path, basic_setup_directory, AD_ENV)
    code, data = lint(env, basic_setup_directory, "--ca-file", str(basic_setup_directory.ca_file))
    assert code == 1
    found = by_code(data)
    unknown = {(p["where"].rsplit(":", 1)[1], p["level"]) for p in found["schema-unknown-attribute"]}
    assert unknown == {
        ("17", "error"),  # (proxyAddresses=smtp:%s): the alias filter never matches
        ("21", "warning"),  # memberOf and proxyAddresses in the senders OR: mail=%s still works
        ("23", "error"),  # (sAMAccountName=%n): dovecot finds nobody
        ("25", "warning"),  # sAMAccountName=user: the user field is never set
        ("26", "error"),  # (sAMAccountName=%U): saslauthd finds nobody
    }
    [objectclass] = found["schema-unknown-objectclass"]
    assert objectclass["level"] == "error" and "'group'" in objectclass["message"]
    assert "tls-ad-plain" not in found  # StartTLS everywhere, and the root DSE says OpenLDAP


def test_unknown_names_are_undefined_in_slapd(basic_setup_directory: RunningDirectory) -> None:
    """No error, no entry: also under NOT, which keeps Undefined Undefined."""
    for search_filter in (
        "(objectClass=group)",
        "(!(objectClass=group))",
        "(proxyAddresses=x)",
        "(!(memberOf=x))",
    ):
        result = ldapsearch(basic_setup_directory, search_filter)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == ""


# --- DN syntax as slapd parses it ----------------------------------------------------------------

BASES = [
    'dc=example,dc=org"',
    '"dc=example,dc=org"',
    'dc="example",dc=org',
    "dc=example;dc=org",
    "dc = example , dc=org",
    " dc=example,dc=org ",
    "example.org",
    "dc=example,,dc=org",
    "dc=example,dc=org,",
    "cn=a+b,dc=example,dc=org",
    "cn=a<b,dc=example,dc=org",
    "cn=a#b,dc=example,dc=org",
    "cn=#ab,dc=example,dc=org",
    "cn=#0c026162,dc=example,dc=org",
    "cn=a\\,b,dc=example,dc=org",
    "cn=a\\zz,dc=example,dc=org",
    "cn=,dc=example,dc=org",
    "cn=a;b,dc=example,dc=org",
    'cn=x"y,dc=example,dc=org',
    "dc=example,dc=org'",
    "cn=a=b,dc=example,dc=org",
]


@pytest.mark.parametrize("base", BASES)
def test_dn_syntax_like_slapd(basic_setup_directory: RunningDirectory, base: str) -> None:
    directory = basic_setup_directory
    args = ["ldapsearch", "-x", "-LLL", "-H", directory.ldap_url, "-D", directory.bind_dn]
    args += ["-y", str(directory.password_file), "-s", "base", "-b", base, "(objectClass=*)", "1.1"]
    result = subprocess.run(args, capture_output=True, text=True, env=ldap_env(None), timeout=30, check=False)
    invalid = result.returncode == 34  # invalidDNSyntax
    assert (dn_problem(base) is not None) == invalid, result.stderr


def test_starttls_on_ldaps_fails(basic_setup_directory: RunningDirectory) -> None:
    """libldap (postfix's and saslauthd's) cannot start TLS on a connection that is TLS already."""
    directory = basic_setup_directory
    assert directory.ldaps_url is not None
    result = ldapsearch(
        directory, "(objectClass=*)", url=directory.ldaps_url, starttls=True, ca_file=directory.ca_file
    )
    assert result.returncode != 0
    assert "start TLS" in result.stderr or "TLS already" in result.stderr, result.stderr


# --- multidomain: domains, samples, matching rules --------------------------------------------------


def test_multidomain_clean(tmp_path: Path, multidomain: RunningDirectory) -> None:
    env = env_file(tmp_path, multidomain, MULTIDOMAIN / "mailserver.env")
    code, data = lint(env, multidomain)
    assert (code, data["problems"]) == (0, [])


def test_domain_filter_without_at(tmp_path: Path, multidomain: RunningDirectory) -> None:
    env = env_file(
        tmp_path, multidomain, MULTIDOMAIN / "mailserver.env", "LDAP_QUERY_FILTER_DOMAIN=(mail=*%s)"
    )
    code, data = lint(env, multidomain)
    assert code == 1
    [foreign] = by_code(data)["domain-foreign"]
    assert "also answers for" in foreign["message"] and "xample.org" in foreign["message"]
    # the real directory: the unanchored suffix finds addresses of example.org and sub.example.org
    assert search_dns(multidomain, "(mail=*xample.org)") == {
        "uid=alice,ou=users,dc=example,dc=org",
        "uid=bob,ou=users,dc=example,dc=org",
    }


def test_fixed_domain_filter_accepts_every_domain(tmp_path: Path, multidomain: RunningDirectory) -> None:
    env = env_file(tmp_path, multidomain, MULTIDOMAIN / "mailserver.env", "LDAP_QUERY_FILTER_DOMAIN=(mail=*)")
    code, data = lint(env, multidomain)
    found = by_code(data)
    assert code == 1
    assert "every domain (even ldapdiag-probe.invalid)" in found["domain-foreign"][0]["message"]
    assert found["no-placeholder"][0]["level"] == "error"


def test_domain_filter_refuses_a_users_domain(tmp_path: Path, multidomain: RunningDirectory) -> None:
    """carol@other.test is a mailbox (mail=%s) but mailEnabled=FALSE keeps other.test out."""
    extra = "LDAP_QUERY_FILTER_DOMAIN=(&(|(mail=*@%s)(mailAlias=*@%s))(mailEnabled=TRUE))"
    env = env_file(tmp_path, multidomain, MULTIDOMAIN / "mailserver.env", extra)
    code, data = lint(env, multidomain)
    assert code == 0  # a warning
    [disagree] = by_code(data)["domain-user-disagree"]
    assert "carol@other.test" in disagree["message"] and "Relay access denied" in disagree["message"]
    assert search_dns(multidomain, "(mail=carol@other.test)")
    assert search_dns(multidomain, "(&(mail=*@other.test)(mailEnabled=TRUE))") == set()


def test_local_part_only_logins(tmp_path: Path, multidomain: RunningDirectory) -> None:
    extra = "DOVECOT_USER_FILTER=(&(objectClass=PostfixBookMailAccount)(uid=%n))\nDOVECOT_PASS_ATTRS=uid=user"
    env = env_file(tmp_path, multidomain, MULTIDOMAIN / "mailserver.env", extra)
    code, data = lint(env, multidomain, "--strict")
    assert code == 1
    [domainless] = by_code(data)["dovecot-domainless"]
    assert "4 domains" in domainless["message"]
    assert "alice@example.net and alice@example.org exist" in domainless["message"]


def test_spoof_protection_first_map(tmp_path: Path, multidomain: RunningDirectory) -> None:
    """bob@sub.example.org is bob's mailbox and carol's alias: ldap-users.cf answers first."""
    env = env_file(tmp_path, multidomain, MULTIDOMAIN / "mailserver.env", "SPOOF_PROTECTION=1")
    _, data = lint(env, multidomain)
    [spoof] = by_code(data)["spoof-first-map"]
    assert spoof["level"] == "warning"
    assert "bob@sub.example.org: ldap-users.cf says bob@sub.example.org" in spoof["message"]
    assert "would add carol@other.test" in spoof["message"]
    extra = "SPOOF_PROTECTION=1\nLDAP_QUERY_FILTER_SENDERS=(|(mail=%s)(mailAlias=%s))"
    env = env_file(tmp_path, multidomain, MULTIDOMAIN / "mailserver.env", extra)
    assert lint(env, multidomain)[1]["problems"] == []


def test_equality_without_rule(tmp_path: Path, multidomain: RunningDirectory) -> None:
    extra = "ENABLE_SASLAUTHD=1\nSASLAUTHD_MECHANISMS=ldap\nSASLAUTHD_LDAP_FILTER=(sAMAccountName=%U)"
    env = env_file(tmp_path, multidomain, MULTIDOMAIN / "mailserver.env", extra)
    code, data = lint(env, multidomain)
    assert code == 1
    [equality] = by_code(data)["equality-never-matches"]
    assert equality["level"] == "error" and "no EQUALITY matching rule" in equality["message"]
    # slapd: alice has the value, equality cannot find it
    assert search_dns(multidomain, "(sAMAccountName=*)") == {"uid=alice,ou=users,dc=example,dc=org"}
    assert search_dns(multidomain, "(sAMAccountName=alice)") == set()
    extra = "ENABLE_SASLAUTHD=1\nSASLAUTHD_MECHANISMS=ldap\nSASLAUTHD_LDAP_FILTER=(uid=%U)"
    env = env_file(tmp_path, multidomain, MULTIDOMAIN / "mailserver.env", extra)
    assert "equality-never-matches" not in by_code(lint(env, multidomain)[1])


def test_dn_member_substring(tmp_path: Path, multidomain: RunningDirectory) -> None:
    extra = "LDAP_QUERY_FILTER_GROUP=(&(objectClass=groupOfNames)(member=uid=%u,*))"
    env = env_file(tmp_path, multidomain, MULTIDOMAIN / "mailserver.env", extra)
    code, data = lint(env, multidomain)
    assert code == 1
    [substring] = by_code(data)["substring-never-matches"]
    assert substring["level"] == "error" and "holds DNs" in substring["message"]
    assert search_dns(multidomain, "(member=uid=alice,*)") == set()
    assert search_dns(multidomain, "(member=uid=alice,ou=users,dc=example,dc=org)") == {
        "cn=admins,ou=groups,dc=example,dc=org"
    }


def test_wrong_bind_password_is_exit_2(tmp_path: Path, multidomain: RunningDirectory) -> None:
    env = tmp_path / "wrong.env"
    env.write_text((MULTIDOMAIN / "mailserver.env").read_text() + "LDAP_BIND_PW=not-the-password\n")
    arguments = [
        "lint",
        "--no-env",
        "--env-file",
        str(env),
        "--set",
        f"LDAP_SERVER_HOST={multidomain.ldap_url}",
    ]
    result = CliRunner().invoke(main, [*arguments, "--server"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "not checked: --server: postfix cannot read the directory" in result.stdout
    assert "not-the-password" not in result.stdout + result.stderr
