"""The Active Directory scenario format and the pure helpers behind the Samba DC and its lint rules."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from ldapdiag.demo.ad_data import large_group_ldif, password_ldif, unicode_pwd
from ldapdiag.demo.ad_scenario import (
    SAMBA_KIND,
    SLAPD_KIND,
    LargeGroup,
    account_dns,
    ldif_records,
    load_ad_scenario,
    scenario_kind,
)
from ldapdiag.demo.scenario import ScenarioError
from ldapdiag.directory import filters as f
from ldapdiag.lint import filterwalk
from ldapdiag.lint.rules.ad_limits import key_wildcard
from ldapdiag.lint.rules.dn_substring_samba import full_dn

ROOT = Path(__file__).resolve().parents[2] / "scenarios"


def test_kinds() -> None:
    assert scenario_kind(ROOT / "active-directory") == SAMBA_KIND
    assert scenario_kind(ROOT / "basic-setup") == SLAPD_KIND


def test_unknown_kind_is_refused(tmp_path: Path) -> None:
    (tmp_path / "scenario-kind").write_text("openldap-2.6\n")
    with pytest.raises(ScenarioError, match="unknown scenario kind"):
        scenario_kind(tmp_path)


def test_the_ad_scenario_loads() -> None:
    scenario = load_ad_scenario(ROOT / "active-directory")
    assert scenario.base == "DC=ad,DC=example,DC=org" and scenario.dns_host_name == "DC1.ad.example.org"
    assert scenario.bind_dn.startswith("CN=Administrator,CN=Users,")
    assert set(scenario.user_passwords) == {"alice", "bob", "carol", "dave", "erin"}
    [group] = scenario.large_groups
    assert group.members == 1600 and group.member_mail.format(n=7) == "staff0007@example.org"
    accounts = account_dns(scenario.directory_ldif.read_text())
    assert set(scenario.user_passwords) <= set(accounts)  # every password has its account
    for password in scenario.user_passwords.values():  # no password in the LDIF, hashes only
        assert password not in scenario.directory_ldif.read_text()


def test_ldif_records_unfold_and_decode() -> None:
    text = "dn: cn=a,dc=x\ncn: a\n# comment\ndescription:: " + base64.b64encode("é".encode()).decode()
    text += "\nmail: long\n value@x\n\ndn: cn=b,dc=x\n"
    records = list(ldif_records(text))
    assert records[0] == {"dn": ["cn=a,dc=x"], "cn": ["a"], "description": ["é"], "mail": ["longvalue@x"]}
    assert records[1] == {"dn": ["cn=b,dc=x"]}


def test_unicode_pwd_is_quoted_utf16le() -> None:
    assert base64.b64decode(unicode_pwd("Pässw0rd")) == '"Pässw0rd"'.encode("utf-16-le")
    ldif = password_ldif({"CN=a,DC=x": "pw"}, frozenset({"CN=a,DC=x"}))
    assert "replace: unicodePwd" in ldif and "userAccountControl: 512" in ldif and "pw\n" not in ldif


def test_large_group_ldif() -> None:
    group = LargeGroup("CN=G,OU=S,DC=x", "g@x", 3, "OU=S,DC=x", "m{n}@x")
    records = list(ldif_records(large_group_ldif(group)))
    members = [f"CN=member0000{n},OU=S,DC=x" for n in (1, 2, 3)]
    assert [r["dn"][0] for r in records] == ["OU=S,DC=x", *members, "CN=G,OU=S,DC=x"]
    assert records[-1]["member"] == [r["dn"][0] for r in records[1:4]] and records[2]["mail"] == ["m2@x"]


def test_key_wildcard() -> None:
    assert key_wildcard("(&(objectClass=group)(mail=%s))") == "(&(objectClass=group)(mail=*))"
    assert key_wildcard("(|(mail=%u@%d)(x=100%%))") == "(|(mail=*@*)(x=100%))"


def test_full_dn_of_the_seed_pattern() -> None:
    node = f.parse("(memberOf=cn=Domain Admins,cn=Users,dc=*)")
    assert isinstance(node, f.Substrings)
    assert full_dn(node, "DC=ad,DC=example,DC=org") == "cn=Domain Admins,cn=Users,DC=ad,DC=example,DC=org"
    other = f.parse("(memberOf=*admins*)")
    assert isinstance(other, f.Substrings) and full_dn(other, "DC=x") == "<the group's full DN>"


def test_not_of_a_dead_assertion_depends_on_the_server() -> None:
    node = f.parse("(&(mail=a)(!(mailEnabled=TRUE)))")
    dead = lambda leaf: getattr(leaf, "attribute", "") == "mailEnabled"  # noqa: E731
    assert filterwalk.never_matches(node, dead)  # OpenLDAP: Undefined stays Undefined
    assert not filterwalk.never_matches(node, dead, "false")  # Samba: NOT False is True
