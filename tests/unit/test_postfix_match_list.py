"""Postfix string lists (match_list.c / match_ops.c match_string()) and LDAP URLs in special values."""

from __future__ import annotations

import pytest

from ldapdiag.postfix.ldap_url import LdapUrlError, parse_ldap_url
from ldapdiag.postfix.maps import FixedTable
from ldapdiag.postfix.match_list import MatchListError, StringList, parse_string_list
from ldapdiag.postfix.tables import LookupResult


class Failing:
    name = "ldap:/broken.cf"

    def lookup(self, key: str) -> LookupResult:
        return LookupResult(key, self.name, None, "dict_ldap_lookup: Search error 2: Protocol error ")


def tables(spec: str) -> FixedTable | Failing:
    if spec.startswith("inline:"):
        return FixedTable(spec, values={"table.test": "from-table"})
    return Failing()


FILES = {"/etc/postfix/vhost": "# comment line\nVhost.Test other.test\n!blocked.test\n"}


def string_list(text: str, utf8: bool = False) -> StringList:
    return parse_string_list("virtual_mailbox_domains", text, tables, FILES.get, utf8)


@pytest.mark.parametrize(
    ("text", "string", "matched"),
    [
        ("example.org", "EXAMPLE.ORG", True),
        ("Example.Org", "example.org", True),
        ("example.org", "sub.example.org", False),  # exact match only (not a domain_list)
        ("!example.org, example.org", "example.org", False),  # the first pattern decides
        ("!!example.org", "example.org", True),
        ("/etc/postfix/vhost", "vhost.test", True),
        ("/etc/postfix/vhost", "blocked.test", False),
        ("/etc/postfix/vhost", "comment", False),
        ("/etc/postfix/vhost, blocked.test", "blocked.test", False),
        ("inline:{table.test=x}", "TABLE.TEST", True),
        ("!inline:{table.test=x}, table.test", "table.test", False),
        ("a.test # trailing comment, b.test", "b.test", False),  # postfix stops at a `#` token
        ("[10.0.0.1]", "[10.0.0.1]", True),
    ],
)
def test_string_list_matching(text: str, string: str, matched: bool) -> None:
    assert string_list(text).match(string).matched is matched


def test_table_errors_are_lookup_problems_not_mismatches() -> None:
    outcome = string_list("ldap:/broken.cf, example.org").match("example.org")
    assert (outcome.matched, outcome.error) == (
        False,
        "virtual_mailbox_domains: ldap:/broken.cf: table lookup problem",
    )


def test_missing_files_fail_every_match() -> None:
    outcome = string_list("/no/such/file, example.org").match("example.org")
    assert outcome.error == "virtual_mailbox_domains: nofile:/no/such/file: table lookup problem"


def test_lookup_gives_the_table_value_or_the_pattern() -> None:
    assert string_list("inline:{table.test=x}").lookup("table.test").value == "from-table"
    assert string_list("/etc/postfix/vhost").lookup("Vhost.TEST").value == "vhost.test"


def test_no_pattern_after_negation_is_fatal() -> None:
    with pytest.raises(MatchListError, match="no pattern after '!'"):
        string_list("!")


def test_utf8_mode_casefolds_unicode() -> None:
    assert string_list("straße.test", utf8=True).match("STRASSE.TEST").matched
    assert not string_list("straße.test").match("STRASSE.TEST").matched


@pytest.mark.parametrize(
    ("url", "dn", "attributes", "scope", "query"),
    [
        ("ldap:///ou=p,dc=x??one?(cn=a)", "ou=p,dc=x", (), 1, "(cn=a)"),
        ("ldap://host:389/cn=a,dc=x?mail,uid", "cn=a,dc=x", ("mail", "uid"), 0, "(objectclass=*)"),
        ("LDAP:///dc=x??SUB", "dc=x", (), 2, "(objectclass=*)"),
        ("ldap:///dc=x??sub?(cn=a%20b)", "dc=x", (), 2, "(cn=a b)"),
        ("<ldap:///dc=x>", "dc=x", (), 0, "(objectclass=*)"),
        ("ldap://host", "", (), 0, "(objectclass=*)"),
    ],
)
def test_ldap_urls(url: str, dn: str, attributes: tuple[str, ...], scope: int, query: str) -> None:
    parsed = parse_ldap_url(url)
    assert (parsed.dn, parsed.attributes, parsed.scope, parsed.filter) == (dn, attributes, scope, query)


@pytest.mark.parametrize(
    ("url", "code"), [("ldap:///dc=x??bogus", 8), ("<ldap:///dc=x", 4), ("ldap://h?x", 5)]
)
def test_bad_ldap_urls(url: str, code: int) -> None:
    with pytest.raises(LdapUrlError) as raised:
        parse_ldap_url(url)
    assert raised.value.code == code
