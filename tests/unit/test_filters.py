"""ldapdiag.directory.filters: RFC 4515 filter strings read as OpenLDAP 2.5's libldap reads them.

Expectations come from libraries/libldap/filter.c at OPENLDAP_REL_ENG_2_5_13 (the function named
next to each case) and were checked against the real libldap (ldap_pvt_put_filter through ctypes;
tests/integration/test_filters_vs_ldapsearch.py repeats that check live, and asks slapd).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyasn1.codec.ber import encoder as ber

from ldapdiag.directory.filters import (
    And,
    Approx,
    EmptyFilter,
    Equality,
    Extensible,
    Filter,
    FilterSyntaxError,
    GreaterOrEqual,
    LessOrEqual,
    Not,
    Or,
    Present,
    Substrings,
    encode,
    escape_value,
    is_attribute_description,
    is_matching_rule,
    parse,
)
from ldapdiag.directory.ldap3_filter import search_request, to_ldap3_filter

# --- accepted strings and the filter libldap builds from them ------------------------------------

ACCEPTED = [
    # ldap_pvt_put_filter / put_filter_list: RFC 4526 absolute true and false, spaces after '('
    ("(&)", And(())),
    ("(|)", Or(())),
    ("( &)", And(())),
    ("(& )", And(())),
    ("(&(&(&)))", And((And((And(()),)),))),
    ("(!(|))", Not(Or(()))),
    ("(! (a=b))", Not(Equality("a", b"b"))),
    ("(&\t(a=b)\n(c=d) )", And((Equality("a", b"b"), Equality("c", b"d")))),
    (
        "(&(a=b)(|(c=d)(!(e=*))))",
        And((Equality("a", b"b"), Or((Equality("c", b"d"), Not(Present("e")))))),
    ),
    ("(|(cn=a)(cn=b)(cn=c))", Or((Equality("cn", b"a"), Equality("cn", b"b"), Equality("cn", b"c")))),
    # ldap_pvt_put_filter: "" and one space encode nothing; no outer parentheses = one simple filter
    ("", EmptyFilter()),
    (" ", EmptyFilter()),
    ("mail=x", Equality("mail", b"x")),
    ("cn=*", Present("cn")),
    ("cn=", Equality("cn", b"")),
    ("cn=x y", Equality("cn", b"x y")),
    ("cn=x ", Equality("cn", b"x ")),
    # the '(' branch skips LDAP_SPACE (space, tab, newline); values keep every space
    ("(mail=x)", Equality("mail", b"x")),
    ("( mail=x)", Equality("mail", b"x")),
    ("(\tmail=x)", Equality("mail", b"x")),
    ("(\nmail=x)", Equality("mail", b"x")),
    ("(mail= x )", Equality("mail", b" x ")),
    ("(cn=x\ty)", Equality("cn", b"x\ty")),
    ("(cn=a=b)", Equality("cn", b"a=b")),
    ("(cn=Jürgen)", Equality("cn", "Jürgen".encode())),
    # put_simple_filter: empty values are fine, '*' alone is presence
    ("(cn=)", Equality("cn", b"")),
    ("(cn>=)", GreaterOrEqual("cn", b"")),
    ("(cn:=)", Extensible("cn", None, b"")),
    ("(cn=*)", Present("cn")),
    ("(cn>=x)", GreaterOrEqual("cn", b"x")),
    ("(cn<=x)", LessOrEqual("cn", b"x")),
    ("(cn~=x)", Approx("cn", b"x")),
    # put_substring_filter
    ("(cn=a*)", Substrings("cn", b"a")),
    ("(cn=*a)", Substrings("cn", final=b"a")),
    ("(cn=*a*)", Substrings("cn", any=(b"a",))),
    ("(cn=a*b*c)", Substrings("cn", b"a", (b"b",), b"c")),
    ("(mail=*@example.org)", Substrings("mail", final=b"@example.org")),
    ("(memberOf=cn=admin,*)", Substrings("memberOf", initial=b"cn=admin,")),
    ("(cn=a\\2a*\\2a)", Substrings("cn", b"a*", final=b"*")),
    # ldap_pvt_filter_value_unescape: \XX in either case, RFC 1960's \* \( \) \\
    ("(cn=\\2a)", Equality("cn", b"*")),
    ("(cn=\\*)", Equality("cn", b"*")),
    ("(cn=\\(\\)\\\\)", Equality("cn", b"()\\")),
    ("(cn=\\2A\\28\\29\\5C\\00)", Equality("cn", b"*()\\\x00")),
    ("(cn=\\5c2a)", Equality("cn", b"\\2a")),
    ("(cn=\\ff\\FE)", Equality("cn", b"\xff\xfe")),
    ("(cn=x\\5c)", Equality("cn", b"x\\")),
    # ldap_is_desc: names and numeric OIDs, with ;options
    ("(cn;lang-en=x)", Equality("cn;lang-en", b"x")),
    ("(cn;x;y-z=v)", Equality("cn;x;y-z", b"v")),
    ("(2.5.4.3=x)", Equality("2.5.4.3", b"x")),
    ("(2.5.4.3;x=y)", Equality("2.5.4.3;x", b"y")),
    ("(01.2=x)", Equality("01.2", b"x")),
    ("(x-y-=z)", Equality("x-y-", b"z")),
    # put_simple_filter ':' branch: type[:dn][:rule]:=value and [:dn]:rule:=value
    (
        "(memberOf:1.2.840.113556.1.4.1941:=cn=x)",
        Extensible("memberOf", "1.2.840.113556.1.4.1941", b"cn=x"),
    ),
    ("(cn:dn:=x)", Extensible("cn", None, b"x", dn_attributes=True)),
    ("(cn:DN:=x)", Extensible("cn", None, b"x", dn_attributes=True)),
    ("(:dn:2.5.13.5:=x)", Extensible(None, "2.5.13.5", b"x", dn_attributes=True)),
    ("(:caseExactMatch:=x)", Extensible(None, "caseExactMatch", b"x")),
    ("(:1.2:=x)", Extensible(None, "1.2", b"x")),
    ("(cn:=x)", Extensible("cn", None, b"x")),
    ("(cn:dn::=x)", Extensible("cn", None, b"x", dn_attributes=True)),  # empty rule = no rule
    ("(cn::=x)", Extensible("cn", None, b"x")),
    ("(cn:dn:dn:=x)", Extensible("cn", "dn", b"x", dn_attributes=True)),
]

# --- strings libldap refuses with "Bad search filter" (-7) ---------------------------------------

REJECTED = [
    # ldap_pvt_put_filter: one leading space only on its own, nothing after the filter
    "  ",
    " (cn=x)",
    "\t(cn=x)",
    "(cn=x) ",
    "(cn=x)\n",
    "(cn=x)(sn=y)",
    "(&(cn=x)) ",
    ")",
    ")(cn=x)",
    "x(cn=y)",
    "&(a=b)",
    # unbalanced or misplaced parentheses (find_right_paren, the '(' '(' case)
    "(cn=x",
    "cn=x)",
    "((cn=x))",
    "(&(a=b)",
    "(|(a=b)))",
    "()",
    "( )",
    # put_filter_list: every item is "(...)"; '!' takes exactly one, nothing after it
    "(&(a=b)c)",
    "(&x(a=b))",
    "(&a=b)",
    "(|(a=b)x=y)",
    "(&(a=b)\\)",
    "(!)",
    "(! )",
    "(!a=b)",
    "(!(a=b)(c=d))",
    "(!(a=b) )",
    "(!(a=b)x)",
    # put_simple_filter: '=' needed, the attribute must pass ldap_is_desc (nothing is trimmed)
    "(cn)",
    "cn",
    "(=x)",
    "=x",
    "(cn =x)",
    "(c n=x)",
    "(cn;=x)",
    "(cn;;x=y)",
    "(1.=x)",
    "(1..2=x)",
    "(1.;x=y)",
    "(_cn=x)",
    "(é=x)",
    "(cn<>=x)",
    "(cn!=x)",
    # values: ldap_pvt_find_wildcard / ldap_pvt_filter_value_unescape / put_substring_filter
    "(cn=**)",
    "(cn=a**b)",
    "(cn=a(b)",
    "(cn=a)b)",
    "(cn=a(b))",
    "(cn=\\)",
    "(cn=x\\)",
    "(cn=\\4)",
    "(cn=\\4g)",
    "(cn=\\zz)",
    "(cn=\\ )",
    "(cn>=a*)",
    "(cn<=*)",
    "(cn~=(x)",
    "(cn:=a*)",
    # extensible match: attribute or rule, ':dn' only in its place, rule must pass ldap_is_oid
    "(:=x)",
    "(:dn:=x)",
    "(:dn=x)",
    "(cn:x:1.2:=y)",
    "(cn:dn:1.2:3:=x)",
    "(cn:1..2:=x)",
    "(cn:1.2.:=x)",
    "(cn:a_b:=x)",
    "(cn;:=x)",
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED, ids=[repr(t) for t, _ in ACCEPTED])
def test_accepted_filters_parse_like_libldap(text: str, expected: Filter) -> None:
    assert parse(text) == expected
    assert parse(text.encode()) == expected


@pytest.mark.parametrize("text", REJECTED, ids=repr)
def test_rejected_filters_raise_bad_search_filter(text: str) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse(text)
    assert caught.value.code == -7
    assert caught.value.libldap_message == "Bad search filter"
    assert 0 <= caught.value.position <= len(text)
    assert str(caught.value).startswith("Bad search filter (-7): ")


def test_error_names_reason_and_position_in_characters() -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse("(&(cn=Jürgen)(sn=a**b))")
    assert caught.value.reason == "empty substring between two '*'"
    assert caught.value.position == 17  # a character index: ü counts once
    assert caught.value.text == "(&(cn=Jürgen)(sn=a**b))"


def test_error_position_in_bytes_for_bytes_input() -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse("(&(cn=Jürgen)(sn=a**b))".encode())
    assert caught.value.position == 18


def test_text_ends_at_nul_like_a_c_string() -> None:
    assert parse("(cn=x)\0garbage") == Equality("cn", b"x")
    assert parse("\0(cn=x)") == EmptyFilter()


def test_docker_mailserver_filters_parse() -> None:
    """The seed's filters with %s / %u / %n / %U filled in."""
    senders = parse(
        "(&(objectClass=inetOrgPerson)(|(mail=a@example.org)(mailAlias=a@example.org)"
        "(mailGroupMember=a@example.org)))"
    )
    assert senders == And(
        (
            Equality("objectClass", b"inetOrgPerson"),
            Or(
                (
                    Equality("mail", b"a@example.org"),
                    Equality("mailAlias", b"a@example.org"),
                    Equality("mailGroupMember", b"a@example.org"),
                )
            ),
        )
    )
    assert parse("(|(memberOf=cn=admin,*)(mail=a@example.org))") == Or(
        (Substrings("memberOf", b"cn=admin,"), Equality("mail", b"a@example.org"))
    )
    assert parse("(memberOf=cn=Domain Admins,cn=Users,dc=*)") == Substrings(
        "memberOf", b"cn=Domain Admins,cn=Users,dc="
    )


# --- encode ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("mail=x", "(mail=x)"),
        ("( &\t(a=b) (c=d) )", "(&(a=b)(c=d))"),
        (" ", ""),
        ("(cn=\\*\\(\\)\\\\)", "(cn=\\2a\\28\\29\\5c)"),
        ("(cn=\\2A\\00\\0a)", "(cn=\\2a\\00\\0a)"),
        ("(cn=\\c3\\bc\\ff)", "(cn=ü\\ff)"),
        ("(cn=\\e2\\80\\8b)", "(cn=\\e2\\80\\8b)"),  # U+200B is not printable: stays escaped
        ("(cn:dn::=x)", "(cn:dn:=x)"),
        ("(cn:DN:1.2:=x)", "(cn:dn:1.2:=x)"),
        ("(:dn:2.5.13.5:=x)", "(:dn:2.5.13.5:=x)"),
        ("(cn=a*b*c)", "(cn=a*b*c)"),
        ("(cn=*b*)", "(cn=*b*)"),
    ],
)
def test_encode_is_canonical(text: str, canonical: str) -> None:
    assert encode(parse(text)) == canonical


def test_every_byte_round_trips_through_escaping() -> None:
    every_byte = bytes(range(256))
    for node in (
        Equality("cn", every_byte),
        GreaterOrEqual("cn", every_byte),
        Extensible("cn", "1.2.3", every_byte, True),
        Substrings("cn", every_byte, (every_byte,), every_byte),
    ):
        assert parse(encode(node)) == node
    for byte in range(256):
        value = bytes([byte])
        assert parse(encode(Equality("cn", value))) == Equality("cn", value)
        assert parse("(cn=" + escape_value(value) + "*)") == Substrings("cn", value)


def test_escape_value_escapes_what_libldap_would_misread() -> None:
    assert escape_value(b"a*b(c)d\\e\x00") == "a\\2ab\\28c\\29d\\5ce\\00"
    assert escape_value("Jürgen".encode()) == "Jürgen"
    assert escape_value(b"\xc3") == "\\c3"  # a lone UTF-8 lead byte


# --- the tree refuses what libldap can never produce -----------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: Equality("cn ", b"x"),
        lambda: Present(""),
        lambda: Substrings("cn"),
        lambda: Substrings("cn", b""),
        lambda: Substrings("cn", b"a", (b"",)),
        lambda: Extensible(None, None, b"x"),
        lambda: Extensible("cn", "1..2", b"x"),
        lambda: Extensible("cn", "dn", b"x"),  # libldap reads cn:dn:= as the dnAttributes flag
        lambda: And((EmptyFilter(),)),
        lambda: Not("(cn=x)"),  # type: ignore[arg-type]
    ],
)
def test_invalid_trees_are_refused(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]


def test_name_checks_follow_ldap_is_desc_and_ldap_is_oid() -> None:
    assert is_attribute_description("cn;lang-en")
    assert is_attribute_description("2.5.4.3;x")
    assert not is_attribute_description("2.5.4.3.")
    assert not is_attribute_description("cn;")
    assert is_matching_rule("caseExactMatch")
    assert is_matching_rule("1.2.840.113556.1.4.1941")
    assert not is_matching_rule("cn;x")


# --- BER, as libldap's ldap_pvt_put_filter writes it (bytes recorded from libldap 2.5.13) ---------


@pytest.mark.parametrize(
    ("text", "libldap_ber"),
    [
        ("(&)", "a000"),
        ("(|)", "a100"),
        ("cn=x", "a3070402636e040178"),
        ("(cn=a*b*)", "a40c0402636e3006800161810162"),
        ("(! (a=b))", "a208a306040161040162"),
        ("(cn=)", "a3060402636e0400"),
        # libldap writes TRUE as ff, pyasn1's BER encoder as 01: the same BOOLEAN to a server
        ("(cn:dn::=x)", "a90a8202636e830178840101"),
    ],
)
def test_ber_matches_libldap(text: str, libldap_ber: str) -> None:
    assert ber.encode(to_ldap3_filter(parse(text))).hex() == libldap_ber


def test_empty_filter_leaves_the_filter_out_of_the_request() -> None:
    with_filter = ber.encode(search_request("dc=x", "SUBTREE", parse("(&)"), ["1.1"]))
    without = ber.encode(search_request("dc=x", "SUBTREE", parse(""), ["1.1"]))
    assert with_filter.replace(bytes.fromhex("a000"), b"", 1)[2:] == without[2:]
    with pytest.raises(ValueError):
        to_ldap3_filter(EmptyFilter())


# --- properties --------------------------------------------------------------------------------

names = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,6}", fullmatch=True)
numeric_oids = st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,4}", fullmatch=True)
options = st.lists(st.from_regex(r"[A-Za-z0-9-]{1,5}", fullmatch=True), max_size=2)
attributes = st.builds(lambda base, opts: ";".join([base, *opts]), names | numeric_oids, options)
rules = (names | numeric_oids).filter(lambda rule: rule.lower() != "dn")
values = st.binary(max_size=10)
parts = st.binary(min_size=1, max_size=6)


@st.composite
def substrings(draw: st.DrawFn) -> Substrings:
    """Substrings with at least one part."""
    initial = draw(st.none() | parts)
    middle = tuple(draw(st.lists(parts, max_size=3)))
    final = draw(st.none() | parts)
    if initial is None and not middle and final is None:
        middle = (draw(parts),)
    return Substrings(draw(attributes), initial, middle, final)


@st.composite
def extensibles(draw: st.DrawFn) -> Extensible:
    """Extensible matches with an attribute, a rule or both."""
    attribute = draw(st.none() | attributes)
    rule = draw(rules) if attribute is None else draw(st.none() | rules)
    return Extensible(attribute, rule, draw(values), draw(st.booleans()))


simple_filters = st.one_of(
    st.builds(Equality, attributes, values),
    st.builds(GreaterOrEqual, attributes, values),
    st.builds(LessOrEqual, attributes, values),
    st.builds(Approx, attributes, values),
    st.builds(Present, attributes),
    substrings(),
    extensibles(),
)
filter_trees = st.recursive(
    simple_filters,
    lambda children: st.one_of(
        st.builds(And, st.lists(children, max_size=4).map(tuple)),
        st.builds(Or, st.lists(children, max_size=4).map(tuple)),
        st.builds(Not, children),
    ),
    max_leaves=12,
)


@given(filter_trees)
def test_parse_reads_back_what_encode_writes(tree: Filter) -> None:
    assert parse(encode(tree)) == tree


@given(simple_filters)
def test_simple_filters_parse_without_outer_parentheses(tree: Filter) -> None:
    assert parse(encode(tree)[1:-1]) == tree


@given(filter_trees, st.data())
def test_spaces_after_opening_parentheses_change_nothing(tree: Filter, data: st.DataObject) -> None:
    pieces = encode(tree).split("(")
    spaced = pieces[0] + "".join(
        "(" + data.draw(st.text(alphabet=" \t\n", max_size=2)) + piece for piece in pieces[1:]
    )
    assert parse(spaced) == tree


@given(st.binary(max_size=40))
def test_values_of_any_bytes_round_trip(value: bytes) -> None:
    assert parse(encode(Equality("mail", value))) == Equality("mail", value)
    assert parse(encode(Extensible(None, "2.5.13.5", value))) == Extensible(None, "2.5.13.5", value)


@given(st.text(alphabet="()&|!=*\\:<>~; \t\ncnd0.-2aé\0", max_size=24))
def test_parse_accepts_or_raises_filter_syntax_error_only(text: str) -> None:
    try:
        tree = parse(text)
    except FilterSyntaxError:
        return
    assert parse(encode(tree)) == tree
