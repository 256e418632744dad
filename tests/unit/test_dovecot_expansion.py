"""Dovecot's %variables, LDAP escaping, username rules and attrs templates (var-expand.c,
auth-request-var-expand.c, auth-request-fields.c, db-ldap.c)."""

from __future__ import annotations

import pytest

from ldapdiag.directory.directory import Entry
from ldapdiag.dovecot.auth_request import AuthRequest, ldap_escape
from ldapdiag.dovecot.ldap_fields import FieldIterator, parse_attrs
from ldapdiag.dovecot.lmtp import lmtp_username
from ldapdiag.dovecot.settings import AuthSettings
from ldapdiag.dovecot.var_expand import UnsupportedExpansion, Variable, var_expand

TABLE = (
    Variable("u", "user", "Jo.Doe@Example.org"),
    Variable("n", "username", "Jo.Doe"),
    Variable("d", "domain", "Example.org"),
    Variable("h", "home", None),
)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("%u", "Jo.Doe@Example.org"),
        ("%Lu", "jo.doe@example.org"),
        ("%Ln@%Ud", "jo.doe@EXAMPLE.ORG"),
        ("%{user}", "Jo.Doe@Example.org"),
        ("%L{username}", "jo.doe"),
        ("%2.3n", ".Do"),
        ("%-3.2n", "Do"),
        ("%3n", "Jo."),
        ("%05{home}", "00000"),
        ("%Dd", "Example,dc=org"),
        ("%Rn", "eoD.oJ"),
        ("%%%h|", "%|"),
        ("%Mn", "d1a1c2b8b2d1e8d2a9e8fb1c6d1bd16f"),
    ],
)
def test_var_expand(template: str, expected: str) -> None:
    result = var_expand(template, TABLE)
    if template == "%Mn":
        import hashlib

        expected = hashlib.md5(b"Jo.Doe").hexdigest()
    assert result.ok and result.text == expected


def test_unknown_variable_fails_and_leaves_a_marker() -> None:
    result = var_expand("(uid=%q)(x=%{nope})", TABLE)
    assert not result.ok
    assert result.text == "(uid=UNSUPPORTED_VARIABLE_q)(x=UNSUPPORTED_VARIABLE_nope)"
    assert result.error == "Unknown variable '%q'"


def test_hash_functions_are_reported_as_unsupported() -> None:
    with pytest.raises(UnsupportedExpansion):
        var_expand("%{sha256:user}", TABLE)


def test_ldap_escape() -> None:
    assert ldap_escape('a*b(c)d\\e,f#g+h<i>j;k"l=m n') == (
        "a\\2Ab\\28c\\29d\\5Ce\\2Cf\\23g\\2Bh\\3Ci\\3Ej\\3Bk\\22l\\3Dm\\20n"
    )
    assert ldap_escape("jürgen") == "j\\C3\\BCrgen"


def test_escaping_then_modifiers() -> None:
    request = AuthRequest(AuthSettings(username_chars=""), "imap")  # '*' is not in the default chars
    assert request.set_username("St*R@Example.org") is None
    assert request.user == "st*r@example.org"  # %Lu
    assert request.expand("(uid=%n)", ldap_escape).text == "(uid=st\\2Ar)"
    assert request.expand("(uid=%Un)", ldap_escape).text == "(uid=ST\\2AR)"


@pytest.mark.parametrize(
    ("settings", "name", "expected"),
    [
        (AuthSettings(), "Alice@Example.ORG", "alice@example.org"),
        (AuthSettings(username_format="%n"), "alice@example.org", "alice"),
        (AuthSettings(username_translation="#@"), "alice#example.org", "alice@example.org"),
        (AuthSettings(default_realm="example.org"), "alice", "alice@example.org"),
    ],
)
def test_username_rules(settings: AuthSettings, name: str, expected: str) -> None:
    request = AuthRequest(settings, "imap")
    assert request.set_username(name) is None
    assert request.user == expected


def test_star_is_not_a_username_character() -> None:
    assert AuthRequest(AuthSettings(), "imap").set_username("st*r@example.org") is not None


def test_disallowed_character() -> None:
    request = AuthRequest(AuthSettings(), "imap")
    error = request.set_username("bad name@example.org")
    assert error == (
        "Username character disallowed by auth_username_chars: 0x20 (username: bad name@example.org)"
    )


def test_rename_fields() -> None:
    request = AuthRequest(AuthSettings(), "imap")
    request.set_username("alice@example.org")
    request.set_field("username", "bob", "SSHA")
    assert request.user == "bob@example.org"
    request.set_field("domain", "other.test", "SSHA")
    assert request.user == "bob@other.test"
    request.set_field("user", "", "SSHA")
    assert request.failed


def test_password_field_gets_the_default_scheme() -> None:
    request = AuthRequest(AuthSettings(), "imap")
    request.set_field("password", "secret", "SSHA")
    assert request.passdb_password == "{SSHA}secret"
    other = AuthRequest(AuthSettings(), "imap")
    other.set_field("password", "{PLAIN}x", "SSHA")
    assert other.passdb_password == "{PLAIN}x"


def test_attrs_parsing() -> None:
    attrs = parse_attrs(
        "=home=/var/mail/%{ldap:uid}, mailUidNumber=uid,cn=desc=pre-,!objectClass,mail,"
        "=mail=maildir:~/Maildir"
    )
    names = [(f.ldap_attr, f.name, f.template, f.skip) for f in attrs.fields]
    assert names == [
        ("", "home", "/var/mail/%{ldap:uid}", False),
        ("mailUidNumber", "uid", None, False),
        ("cn", "desc", "pre-%$", False),
        ("objectClass", "", None, True),
        ("mail", "mail", None, False),
        ("", "mail", "maildir:~/Maildir%$", False),  # a template without % gets %$ appended
    ]
    assert attrs.attributes == ("uid", "mailUidNumber", "cn", "objectClass", "mail")
    assert parse_attrs("").attributes is None
    assert [f.name for f in parse_attrs("uid=user,userPassword=password", "password").fields] == ["user"]


def test_field_iteration_with_templates_and_missing_attributes() -> None:
    entry = Entry(
        "uid=jo,dc=example,dc=org",
        (("UID", (b"jo",)), ("gidNumber", (b"5000", b"6000")), ("cn", (b"Jo", b"Joe"))),
    )
    attrs = parse_attrs(
        "=home=/var/mail/%{ldap:uid},=quota=%{ldap:mailQuota:1G},uidNumber=uid,gidNumber=gid,"
        "cn=desc=x-,=dn=%{ldap_dn}"
    )
    request = AuthRequest(AuthSettings(), "lmtp", userdb_lookup=True)
    request.set_username("jo@example.org")
    iterator = FieldIterator(attrs, entry, skip_null_values=True)
    while (
        value := iterator.next(lambda dollar, _template: request.var_table(dollar=dollar, with_dollar=True))
    ) is not None:
        request.set_userdb_field_values(value.name, value.values)
    assert request.userdb_reply == {
        "home": "/var/mail/jo",
        "quota": "1G",
        "gid": "5000,6000",
        "desc": "x-Jo",
        "dn": "uid=jo,dc=example,dc=org",
    }


def test_lmtp_username() -> None:
    assert lmtp_username("alice+news@example.org", "+") == "alice@example.org"
    assert lmtp_username("a-b+c@example.org", "+-") == "a@example.org"
    assert lmtp_username("alice@example.org", "") == "alice@example.org"


@pytest.mark.parametrize(
    "template",
    [
        "%u",
        "%Ln@%Ud",
        "(&(objectClass=inetOrgPerson)(|(mail=%u)(uid=%n)))",
        "%{user} %{username} %{domain} %{service} %{mech} %{mechanism}",
        "%{domain_first}/%{domain_last}",
        "%{orig_user} %{orig_username} %{orig_domain}",
        "%{auth_user} %{auth_username} %{auth_domain}",
        "%{original_user} %{original_username} %{original_domain}",
        "%h %l %r %! %c %a %b %k %{home} %{session} %{real_rport} %{local_port}",
        "%2.3u %-3n %0.1d",
        "%x",  # no such variable: UNSUPPORTED_VARIABLE_x and a failed expansion, with any table
        "%{nonexistent}",
        "%{ldap:uid}",
        "%%u",
        "%w",
        "dc=example,dc=org",
        "",
    ],
)
def test_the_rows_a_template_reads_expand_it_as_the_whole_table(template: str) -> None:
    """var_table(template=...) leaves out the rows the template never reads: the expansion is the
    whole table's, text, verdict and error alike (every key is unique)."""
    request = AuthRequest(
        AuthSettings(),
        "imap",
        mech_password="secret",
        user="Jo.Doe@Example.org@corp",
        original_username="jo.doe@example.org",
    )
    for escape in (None, ldap_escape):
        whole = request.var_table(escape)
        only = request.var_table(escape, template=template)
        assert len(only) < len(whole)
        assert var_expand(template, only) == var_expand(template, whole)
        dollar = request.var_table(escape, dollar="v", with_dollar=True, template=template + "%$")
        assert var_expand(template + "%$", dollar) == var_expand(
            template + "%$", request.var_table(escape, dollar="v", with_dollar=True)
        )
