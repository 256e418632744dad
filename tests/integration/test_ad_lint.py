"""`ldapdiag lint --server` against the Samba AD DC, each claim backed by the real ldapsearch.

The server rules read Samba's root DSE (LDAP_CAP_ACTIVE_DIRECTORY_OID, vendorName "Samba Team")
and its schema (CN=Aggregate: attribute types without matching rules, as in Windows AD). What
Samba 4.17 does differently from OpenLDAP, and what lint therefore says:
- a substring filter on a DN attribute matches (Samba compares the DN as a string): the seed's
  `(memberOf=cn=Domain Admins,cn=Users,dc=*)` finds Alice; lint warns `dn-substring-samba` (it
  would never match on Windows AD or OpenLDAP) and offers the full DN and the in-chain form,
  which find the same entries here;
- an attribute the schema does not have evaluates to False, not Undefined: `(mailEnabled=TRUE)`
  (the Kopano example) finds nothing, but `(!(mailEnabled=TRUE))` finds everything.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ldapdiag.cli import main
from ldapdiag.demo import RunningDirectory
from tests.ldap_server import dns_in, ldapsearch
from tests.samba_dc import AD_SCENARIO, NamedDc, cli_args, requires_samba

pytestmark = requires_samba
KOPANO_ENV = AD_SCENARIO / "kopano.env"
DA = "CN=Domain Admins,CN=Users,DC=ad,DC=example,DC=org"
ALICE = "CN=Alice Adams,CN=Users,DC=ad,DC=example,DC=org"
TLS = ("LDAP_START_TLS=yes", "SASLAUTHD_LDAP_START_TLS=yes")


def lint(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["lint", *args, "--server", "--format", "json"], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def by_code(data: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for problem in data["problems"]:
        found.setdefault(problem["code"], []).append(problem)
    return found


def found(directory: RunningDirectory, search_filter: str) -> set[str]:
    result = ldapsearch(directory, search_filter, starttls=True, ca_file=None)
    assert result.returncode in (0, 32), result.stderr
    return dns_in(result.stdout)


@pytest.fixture(autouse=True)
def _no_cert_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """ldapsearch here only proves what the DC matches: Samba's certificate is not at stake."""
    monkeypatch.setattr(
        "tests.ldap_server.ldap_env", lambda ca: {"LDAPTLS_REQCERT": "never", "PATH": "/usr/bin:/bin"}
    )


def test_seed_on_samba(ad_directory: RunningDirectory) -> None:
    code, data = lint(*cli_args(ad_directory.ldap_url))
    problems = by_code(data)
    assert "substring-never-matches" not in problems
    [warning] = problems["dn-substring-samba"]
    assert warning["level"] == "warning" and "(memberOf=cn=Domain Admins,cn=Users,dc=*)" in warning["message"]
    assert f"(memberOf=cn=Domain Admins,cn=Users,{ad_directory.base})" in warning["hint"]
    assert not [p for p in data["problems"] if p["level"] == "error"]
    assert code == 0  # warnings only
    # the claims: Samba matches the substring; the full DN and the in-chain rule find the same
    seed = found(ad_directory, "(memberOf=cn=Domain Admins,cn=Users,dc=*)")
    assert ALICE in seed
    assert found(ad_directory, f"(memberOf={DA})") == seed
    assert found(ad_directory, f"(memberOf:1.2.840.113556.1.4.1941:={DA})") == seed
    assert found(ad_directory, "(member=CN=Alice*)") >= {DA}  # any DN attribute, any position


def test_kopano_example_on_samba(ad_directory: RunningDirectory) -> None:
    code, data = lint(*cli_args(ad_directory.ldap_url, *TLS, env=KOPANO_ENV, dms_config=None))
    unknown = by_code(data)["schema-unknown-attribute"]
    names = sorted(p["message"].split("attribute type '")[1].split("'")[0] for p in unknown)
    assert names == ["mailEnabled", "mailGroupMember", "mailalias"]
    assert all(p["level"] == "error" for p in unknown)  # (&(...)(mailEnabled=TRUE)): nothing, ever
    assert code == 1
    # the claims: unknown attributes are False on Samba (not Undefined as on OpenLDAP)
    assert found(ad_directory, "(mailEnabled=TRUE)") == set()
    assert (
        found(ad_directory, "(&(|(mail=*@example.org)(mailalias=*@example.org))(mailEnabled=TRUE))") == set()
    )
    assert ALICE in found(ad_directory, "(&(objectClass=user)(!(mailEnabled=TRUE)))")


def test_mailboxes_dovecot_cannot_find(named_dc: NamedDc) -> None:
    """The seed's (sAMAccountName=%n) misses Dave.Davis@ (account dave) and every contact; the real
    postfix + dovecot bounce exactly those after accepting them (test_ad_resolve.py)."""
    directory = named_dc.dc.running
    url = named_dc.url(directory.ldap_url)
    trust = ("--ca-file", str(directory.ca_file))
    with named_dc.resolving():
        _code, seed = lint(*cli_args(url), *trust)
        fixed = "DOVECOT_USER_FILTER=(&(objectclass=person)(mail=%u))"
        _code, by_mail = lint(*cli_args(url, fixed), *trust)
    [problem] = by_code(seed)["mailbox-dovecot-unknown"]
    assert "Dave.Davis@example.org, frank@partner.test, staff0001@example.org" in problem["message"]
    assert "alice@example.org" not in problem["message"]
    assert "mailbox-dovecot-unknown" not in by_code(by_mail)
