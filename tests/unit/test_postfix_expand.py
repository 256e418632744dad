"""db_common.c templates and dict_ldap.c quoting (postfix 3.7.11), without a server."""

from __future__ import annotations

import pytest

from ldapdiag.postfix.expand import TemplateContext, TemplateError, quote_dn_value, quote_filter_value


def context(*templates: tuple[str, bool]) -> TemplateContext:
    ctx = TemplateContext("/etc/postfix/t.cf")
    for template, query in templates:
        ctx.parse(template, query)
    return ctx


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("a*b", "a\\2Ab"),
        ("(x)", "\\28x\\29"),
        ("a\\b", "a\\5Cb"),
        ("plain@example.org", "plain@example.org"),
        ("a,b;c+d", "a,b;c+d"),  # only * ( ) \ in filters
        ("é", "é"),
    ],
)
def test_filter_quoting_is_rfc2254_quote(text: str, quoted: str) -> None:
    assert quote_filter_value(text) == quoted


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("a,b", "a\\2Cb"),
        (' \t"#+,;<>\\', "\\20\\09\\22\\23\\2B\\2C\\3B\\3C\\3E\\5C"),
        ("a=b", "a=b"),  # '=' is not quoted
        ("a*b(c)", "a*b(c)"),
    ],
)
def test_search_base_quoting_is_rfc2253_quote(text: str, quoted: str) -> None:
    assert quote_dn_value(text) == quoted


def test_lowercase_codes_fill_from_the_key_in_queries() -> None:
    ctx = context(("(&(s=%s)(u=%u)(d=%d)(S=%S)(U=%U)(D=%D)(1=%1)(2=%2)(p=%%))", True))
    expanded = ctx.expand(
        "(&(s=%s)(u=%u)(d=%d)(S=%S)(U=%U)(D=%D)(1=%1)(2=%2)(p=%%))", "user@mail.example.org"
    )
    assert expanded == (
        "(&(s=user@mail.example.org)(u=user)(d=mail.example.org)(S=user@mail.example.org)(U=user)"
        "(D=mail.example.org)(1=org)(2=example)(p=%))"
    )


def test_user_part_splits_at_the_last_at_sign() -> None:
    ctx = context(("%u|%d", True))
    assert ctx.expand("%u|%d", "a@b@example.org") == "a@b|example.org"


@pytest.mark.parametrize(
    ("template", "key"),
    [
        ("%d", "nodomain"),
        ("%d", "user@"),
        ("%u", "@example.org"),
        ("%2", "user@org"),
        ("%D", "nodomain"),
        ("%U", "@example.org"),
    ],
)
def test_keys_that_cannot_fill_a_template_suppress_the_query(template: str, key: str) -> None:
    assert context((template, True)).expand(template, key) is None


def test_suppression_applies_to_every_template_of_the_table() -> None:
    """db_common_parse() collects the needs of all templates: %d in the filter suppresses the base too."""
    ctx = context(("dc=example", True), ("(mail=%u@%d)", True))
    assert ctx.expand("dc=example", "nodomain") is None


def test_empty_domain_labels_are_dropped_by_argv_split() -> None:
    ctx = context(("%1.%2", True))
    assert ctx.expand("%1.%2", "u@example..org") == "org.example"
    assert ctx.expand("%1.%2", "u@.org") is None


def test_empty_key_is_ignored_with_postfix_warning() -> None:
    ctx = context(("(mail=%s)", True))
    assert ctx.expand("(mail=%s)", "") is None
    assert ctx.warnings == ['warning: table "ldap:/etc/postfix/t.cf": empty query string -- ignored']


def test_result_templates_use_the_value_in_lowercase_and_the_key_in_uppercase() -> None:
    ctx = context(("(mail=%s)", True), ("%u at %d for %U@%D (%S, %1)", False))
    assert ctx.expand("%u at %d for %U@%D (%S, %1)", "box@mbox.test", key="key@example.org") == (
        "box at mbox.test for key@example.org (key@example.org, org)"
    )


def test_result_values_without_a_domain_are_skipped_when_the_template_needs_one() -> None:
    ctx = context(("%d", False))
    assert ctx.expand("%d", "localonly", key="k@example.org") is None
    assert ctx.expand("%d", "x@", key="k@example.org") is None
    assert context(("%u", False)).expand("%u", "@domain.test", key="k@example.org") is None


def test_empty_result_values_are_ignored_with_postfix_warning() -> None:
    ctx = context(("%s", False))
    assert ctx.expand("%s", "", key="k@example.org") is None
    assert ctx.warnings == [
        'warning: table "ldap:/etc/postfix/t.cf": empty lookup result for: "k@example.org" -- ignored'
    ]


@pytest.mark.parametrize("template", ["(mail=%x)", "(mail=%s)%", "%-"])
def test_invalid_templates_are_fatal(template: str) -> None:
    with pytest.raises(TemplateError, match="Invalid query template"):
        context((template, True))


def test_dynamic_templates_are_reported() -> None:
    ctx = TemplateContext("t")
    assert ctx.parse("ou=%d,dc=example", True)
    assert not ctx.parse("dc=example,dc=org", True)
    assert not ctx.parse("(mail=%%s)", True)
