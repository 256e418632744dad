"""main.cf / ldap_table parsing, $name expansion and table lists, checked against postconf/postmap."""

from __future__ import annotations

from pathlib import Path

import pytest

from ldapdiag.config.origin import Origin
from ldapdiag.config.postfix_cf import (
    expand_postfix_value,
    parse_postfix_cf,
    postfix_cf_findings,
    read_postfix_cf,
    split_table_list,
)
from ldapdiag.errors import InputError
from tests.oracles.postfix import (
    PostfixFatal,
    postconf_n,
    postconf_value,
    postmap_ldap_parameters,
    postmap_union_members,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "parsers" / "postfix"
CANARY = "CANARY-9d1e"


def printable(value: str) -> str:
    """What postfix's logger prints for a value: non-printable characters become `?`."""
    return "".join(c if c.isprintable() else "?" for c in value)


def squeezed(value: str) -> str:
    """What postconf prints for a value: whitespace runs squeezed (pcf_print_line())."""
    return " ".join(value.split())


# ---------------------------------------------------------------------------------------------
# ldap_table files against postmap -v (dict_ldap's cfg_get_* log lines)


@pytest.mark.parametrize("name", ["ldap-groups.cf", "tricky.cf"])
def test_ldap_table_values_match_postmap(name: str) -> None:
    text = (DATA / name).read_text()
    conf = parse_postfix_cf(text, f"/etc/postfix/{name}")
    real = postmap_ldap_parameters(text)
    ours = {key: printable(entry.value) for key, entry in conf.effective().items()}
    compared = [key for key in ours if key in real]  # bool/int parameters are logged converted
    assert len(compared) >= 6
    for key in compared:
        assert real[key] == ours[key], key


def test_tricky_file_rules() -> None:
    conf = parse_postfix_cf((DATA / "tricky.cf").read_text(), "/etc/postfix/tricky.cf")
    # continuation joined without separator; the continuation keeps its leading tab
    assert conf.value("server_host") == "ldap://127.0.0.1:1,\tldap://127.0.0.2:1"
    # comment and blank lines inside a continued value vanish; trailing ' # ...' is value text
    assert conf.value("query_filter") == "(&(mail=%s)    (mailEnabled=TRUE)) # not a comment"
    # trailing blanks go; `$` is not expanded in ldap_table files
    assert conf.value("search_base") == "ou=people,dc=$mydomain"
    assert conf.value("result_attribute") == ""
    assert conf.value("domain") == "a=b"
    # last wins
    assert conf.value("bind_dn") == "cn=second , dc=example"


def test_ldap_table_is_not_dollar_expanded_by_postmap() -> None:
    real = postmap_ldap_parameters("server_host = ldap://127.0.0.1:1\nsearch_base = dc=$mydomain\n")
    conf = parse_postfix_cf("search_base = dc=$mydomain\n", "/t.cf")
    assert real["search_base"] == conf.value("search_base") == "dc=$mydomain"


def test_line_numbers_and_origins() -> None:
    text = (DATA / "tricky.cf").read_text()
    conf = parse_postfix_cf(text, "/etc/postfix/tricky.cf")
    entry = conf.get("query_filter")
    assert entry is not None
    assert (entry.line, entry.last_line) == (5, 7)
    assert entry.origin == Origin("file", "/etc/postfix/tricky.cf:5")
    assert [e.line for e in conf.entries if e.key == "bind_dn"] == [10, 11]
    assert not conf.rendered and conf.format == "postfix"


def test_line_origins_for_rendered_text() -> None:
    via = Origin("env-file", "mailserver.env:3", "LDAP_BIND_DN")
    conf = parse_postfix_cf("bind = yes\nbind_dn = cn=x\n", "/etc/postfix/ldap-users.cf", {2: via})
    assert conf.get("bind_dn").origin == via  # type: ignore[union-attr]
    assert conf.get("bind").origin == Origin("file", "/etc/postfix/ldap-users.cf:1")  # type: ignore[union-attr]
    assert conf.rendered


def test_indented_first_line_is_ignored_like_postfix() -> None:
    text = "  search_base = lead\n\tcont\nserver_host = ldap://127.0.0.1:1\n"
    conf = parse_postfix_cf(text, "/t.cf")
    assert conf.get("search_base") is None
    assert postmap_ldap_parameters(text)["search_base"] == ""  # the default: the line was dropped
    findings = postfix_cf_findings(conf)
    assert [f.where for f in findings] == ["/t.cf:1"]


def test_duplicate_finding_names_both_lines() -> None:
    conf = parse_postfix_cf("bind_pw = a\nbind_pw = b\nbind_pw = b\n", "/t.cf")
    assert conf.value("bind_pw") == "b"
    assert (
        postmap_ldap_parameters("server_host = ldap://127.0.0.1:1\nbind_pw = a\nbind_pw = b\n")["bind_pw"]
        == "b"
    )
    findings = postfix_cf_findings(conf)
    assert len(findings) == 1 and findings[0].where == "/t.cf:2"
    assert "a" not in findings[0].message.split()  # the old value is not quoted


def test_crlf_line_endings() -> None:
    text = "server_host = ldap://127.0.0.1:1\r\nbind_dn = cn=x\r\n\r\nsearch_base=a=b\r\n"
    conf = parse_postfix_cf(text, "/t.cf")
    real = postmap_ldap_parameters(text)
    assert conf.value("bind_dn") == real["bind_dn"] == "cn=x"
    assert conf.value("search_base") == real["search_base"] == "a=b"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("server_host = h\nbind_dn\n", 2, "missing '=' after attribute name"),
        ("server_host = h\n= x\n", 2, "missing attribute name"),
        ("server_host = h\nbind dn = x\n", 2, "missing '=' after attribute name"),
        ("# c\nserver_host = h\n\nbind_dn x\n  = y\n", 4, "missing '=' after attribute name"),
    ],
)
def test_malformed_lines_are_fatal_like_postmap(text: str, line: int, message: str) -> None:
    with pytest.raises(PostfixFatal) as real:
        postmap_ldap_parameters(text)
    assert f"line {line}: {message}" in str(real.value)
    with pytest.raises(InputError) as ours:
        parse_postfix_cf(text, "/etc/postfix/ldap-users.cf")
    assert ours.value.where == f"/etc/postfix/ldap-users.cf:{line}"
    assert ours.value.message == message


def test_malformed_main_cf_is_fatal_in_postconf() -> None:
    with pytest.raises(PostfixFatal, match="line 2: missing '=' after attribute name"):
        postconf_n("myhostname = a\nbogus\n")
    with pytest.raises(InputError, match="missing '='"):
        parse_postfix_cf("myhostname = a\nbogus\n", "/etc/postfix/main.cf")


def test_error_never_quotes_the_password() -> None:
    text = f"bind = yes\nbind_pw {CANARY}\n"
    with pytest.raises(InputError) as err:
        parse_postfix_cf(text, "/etc/postfix/ldap-users.cf")
    assert CANARY not in str(err.value)
    assert err.value.where == "/etc/postfix/ldap-users.cf:2"


def test_non_utf8_bytes_name_the_line(tmp_path: Path) -> None:
    data = b"bind = yes\nbind_dn = cn=x\nbind_pw = \xff\xfe" + CANARY.encode() + b"\n"
    with pytest.raises(InputError) as err:
        parse_postfix_cf(data, "/etc/postfix/ldap-users.cf")
    assert err.value.where == "/etc/postfix/ldap-users.cf:3"
    assert CANARY not in str(err.value)
    file = tmp_path / "ldap-users.cf"
    file.write_bytes(data)
    with pytest.raises(InputError) as err:
        read_postfix_cf(file, "/etc/postfix/ldap-users.cf")
    assert err.value.where == "/etc/postfix/ldap-users.cf:3"


def test_read_postfix_cf(tmp_path: Path) -> None:
    file = tmp_path / "ldap-users.cf"
    file.write_text("bind = yes\n")
    conf = read_postfix_cf(file, "/etc/postfix/ldap-users.cf")
    assert conf.path == "/etc/postfix/ldap-users.cf" and conf.value("bind") == "yes"
    with pytest.raises(InputError) as err:
        read_postfix_cf(tmp_path / "missing.cf", "/etc/postfix/missing.cf")
    assert "missing.cf" in str(err.value)


# ---------------------------------------------------------------------------------------------
# main.cf against postconf -n


def test_main_cf_matches_postconf_n() -> None:
    text = (DATA / "main.cf").read_text()
    conf = parse_postfix_cf(text, "/etc/postfix/main.cf")
    ours = {key: squeezed(entry.value) for key, entry in conf.effective().items()}
    assert ours == postconf_n(text)
    assert conf.value("smtputf8_enable") == "yes"
    assert conf.value("smtpd_banner") == "$myhostname ESMTP # not a comment"


def test_main_cf_raw_continuation_keeps_whitespace() -> None:
    conf = parse_postfix_cf((DATA / "main.cf").read_text(), "/etc/postfix/main.cf")
    assert conf.value("virtual_alias_maps") == (
        "ldap:/etc/postfix/ldap-aliases.cf,    ldap:/etc/postfix/ldap-groups.cf"
    )
    entry = conf.get("smtpd_sender_login_maps")
    assert entry is not None and (entry.line, entry.last_line) == (9, 11)


# ---------------------------------------------------------------------------------------------
# $name expansion against postconf -x

PARAMS = {
    "myhostname": "a.example",
    "mydomain": "example.org",
    "x1": "$mydomain",
    "x2": "${mydomain}/$(myhostname)",
    "x7": "$$mydomain",
    "empty": "",
    "num": "10",
}

EXPANSIONS = [
    ("$mydomain", "example.org"),
    ("${mydomain}/$(myhostname)", "example.org/a.example"),
    ("${mydomain?yes}", "yes"),
    ("${nosuch?yes}", ""),
    ("${nosuch:no}", "no"),
    ("${mydomain:no}", ""),
    ("${empty:no}", "no"),
    ("$$mydomain", "$mydomain"),
    ("${x1}.$x2", "example.org.example.org/a.example"),
    ("${mydomain?{a}:{b}}", "a"),
    ("${empty?{a}:{b}}", "b"),
    ("${nosuch?{a}:{b}}", "b"),
    ("${{$mydomain} == {example.org} ? {eq} : {ne}}", "eq"),
    ("${{$num} < {9} ? {lt} : {ge}}", "ge"),
    ("${{$num} > {9}}", "true"),
    ("$nosuch.$mydomain.end", ".example.org.end"),
    ("${ mydomain }", "example.org"),
    ("${mydomain?$myhostname}", "a.example"),
    ("${mydomain?a:b}", "a:b"),
    ("${x7}", "$mydomain"),
    ("${x7?$x7}", "$mydomain"),
    ("${empty:$x1}", "example.org"),
    ("a$mydomain-b", "aexample.org-b"),
]


def main_cf_with(banner: str) -> str:
    lines = [f"{name} = {value}" for name, value in PARAMS.items()]
    return "\n".join([*lines, f"smtpd_banner = {banner}", ""])


@pytest.mark.parametrize(("value", "expected"), EXPANSIONS)
def test_expansion_matches_postconf_x(value: str, expected: str) -> None:
    ours = expand_postfix_value(value, PARAMS)
    assert ours == expected
    assert squeezed(postconf_value(main_cf_with(value), "smtpd_banner", expand=True)) == squeezed(ours)


@pytest.mark.parametrize(
    "value",
    [
        "$mydomain-x$",
        "a$",
        "${mydomain",
        "${my-domain}",
        "$(mydomain}",
        "${mydomain?{a}junk}",
        "${}",
        "${{a} =~ {b}}",
    ],
)
def test_expansion_errors_are_fatal_like_postconf(value: str) -> None:
    with pytest.raises(PostfixFatal, match="macro processing error"):
        postconf_value(main_cf_with(value), "smtpd_banner", expand=True)
    with pytest.raises(InputError, match="macro processing error") as err:
        expand_postfix_value(value, PARAMS, where="/etc/postfix/main.cf:9")
    assert err.value.where == "/etc/postfix/main.cf:9"


def test_expansion_whitespace_from_source() -> None:
    """mac_expand(): text after `?` keeps its blanks; {text} payloads keep inner blanks."""
    assert expand_postfix_value("${mydomain ? x}", PARAMS) == " x"
    assert expand_postfix_value("${mydomain?{ a }:{ b }}x", PARAMS) == " a x"


def test_expansion_recursion_limit() -> None:
    with pytest.raises(InputError, match="nesting"):
        expand_postfix_value("$a", {"a": "$b", "b": "$a"})


# ---------------------------------------------------------------------------------------------
# table lists against postmap's unionmap splitter (argv_splitq(), same rules as maps_create())


@pytest.mark.parametrize(
    "value",
    [
        "static:a, static:b\tstatic:c,,inline:{ k=v, k2=v2 } static:{x y}",
        "  static:a ,static:b  ",
        "static:a\n static:b,\r\nstatic:c",
        "static:{ {x} y },static:z\tinline:{ {a=b} }",
    ],
)
def test_split_table_list_matches_postfix(value: str) -> None:
    assert split_table_list(value) == postmap_union_members(value)


def test_split_table_list_dms_values() -> None:
    assert split_table_list("ldap:/etc/postfix/ldap-aliases.cf, ldap:/etc/postfix/ldap-groups.cf") == [
        "ldap:/etc/postfix/ldap-aliases.cf",
        "ldap:/etc/postfix/ldap-groups.cf",
    ]
    assert split_table_list("/etc/postfix/vhost, ldap:/etc/postfix/ldap-domains.cf") == [
        "/etc/postfix/vhost",
        "ldap:/etc/postfix/ldap-domains.cf",
    ]
    assert split_table_list("") == []
    assert split_table_list(" , ") == []
