"""ldapdiag.config.envfile against the behaviour compose-go's own tests assert.

Sources (compose-go v2.13, github.com/compose-spec/compose-go):
- dotenv/godotenv_test.go (Test...) and dotenv/parser_test.go: env file syntax;
- dotenv/godotenv_var_expansion_test.go: `${VAR...}` inside env files;
- template/template_test.go: the substitution rules shared with the compose file;
- the Go tests that read dotenv/fixtures/*.env: tests/data/envfiles/ holds our own files
  that exercise the same rules (not copies of those fixtures).
Each test names the Go test (or the parser.go rule) it reproduces.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ldapdiag.config.envfile import (
    InvalidTemplateError,
    MissingRequiredError,
    dms_target,
    parse_env_file,
    parse_env_text,
    substitute,
)
from ldapdiag.config.origin import Finding
from ldapdiag.errors import InputError

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "envfiles"
CANARY = "CANARY-7f3a"


def values(text: str, environ: dict[str, str] | None = None, **kwargs: object) -> dict[str, str]:
    settings, _ = parse_env_text(text, "test.env", environ or {}, **kwargs)  # type: ignore[arg-type]
    return {s.name: s.value for s in settings}


def findings(text: str, environ: dict[str, str] | None = None) -> list[Finding]:
    return parse_env_text(text, "test.env", environ or {})[1]


def fixture(name: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    settings, _ = parse_env_file(FIXTURES / name, environ or {})
    return {s.name: s.value for s in settings}


# --- godotenv_test.go TestParsing: one statement at a time -------------------------------------


@pytest.mark.parametrize(
    ("line", "key", "expected"),
    [
        ("FOO=bar", "FOO", "bar"),  # unquoted values
        ("FOO =bar", "FOO", "bar"),  # spaces around the equal sign
        ("FOO= bar", "FOO", "bar"),
        ('FOO="bar"', "FOO", "bar"),  # double quoted
        ("FOO='bar'", "FOO", "bar"),  # single quoted
        ('FOO="escaped\\"bar"', "FOO", 'escaped"bar'),  # escaped double quotes
        ('FOO="\\"quoted\\""', "FOO", '"quoted"'),
        ("FOO=\"'d'\"", "FOO", "'d'"),  # single quotes inside double quotes
        ("OPTION_A: 1", "OPTION_A", "1"),  # yaml style
        ("OPTION_A: Foo=bar", "OPTION_A", "Foo=bar"),
        ("OPTION_A=1:B", "OPTION_A", "1:B"),  # colons in a value
        ("export OPTION_A=2", "OPTION_A", "2"),  # export keyword
        ("export OPTION_B='\\n'", "OPTION_B", "\\n"),
        ("export exportFoo=2", "exportFoo", "2"),
        ("exportFOO=2", "exportFOO", "2"),
        ("export_FOO =2", "export_FOO", "2"),
        ("export.FOO= 2", "export.FOO", "2"),
        ("export\tOPTION_A=2", "OPTION_A", "2"),
        ("  export OPTION_A=2", "OPTION_A", "2"),
        ("\texport OPTION_A=2", "OPTION_A", "2"),
        ('export OPTION_A="export A"', "OPTION_A", "export A"),
        ('FOO="bar\\nbaz"', "FOO", "bar\nbaz"),  # newlines expanded in double quotes
        ("FOO=a\\tb", "FOO", "a\\tb"),  # ... but not unquoted
        ('FOO="a\\tb"', "FOO", "a\tb"),
        ('KEY="Z\\aZ\\bZ\\fZ\\nZ\\rZ\\tZ\\vZ\\\\Z\\0123Z"', "KEY", "Z\aZ\bZ\fZ\nZ\rZ\tZ\vZ\\ZSZ"),
        ("FOO.BAR=foobar", "FOO.BAR", "foobar"),  # "." in a name
        ("FOO=foobar=", "FOO", "foobar="),  # several "=" in the value
        ("FOO=bar ", "FOO", "bar"),  # unquoted values are stripped
        ("FOO=bar # this is foo", "FOO", "bar"),  # inline comments
        ("FOO=bar #this is foo", "FOO", "bar"),
        ("FOO=bar #", "FOO", "bar"),
        ("FOO=123#not-an-inline-comment", "FOO", "123#not-an-inline-comment"),
        ('FOO="bar#baz"', "FOO", "bar#baz"),  # "#" in quoted values
        ('FOO="bar#baz"#', "FOO", "bar#baz"),
        ('FOO="bar#baz" # comment', "FOO", "bar#baz"),
        ("FOO='bar#baz' # comment", "FOO", "bar#baz"),
        ('FOO="bar#baz#bang" # comment', "FOO", "bar#baz#bang"),
        ('FOO="ba#r"', "FOO", "ba#r"),
        ("FOO='ba#r'", "FOO", "ba#r"),
        ('FOO="bar\\n\\ b\\az"', "FOO", "bar\n\\ b\az"),  # backslashes
        ('FOO="bar\\\\\\n\\ b\\az"', "FOO", "bar\\\n\\ b\az"),
        ('FOO="bar\\\\r\\ b\\az"', "FOO", "bar\\r\\ b\az"),
        ('FOO="bar\\nbaz\\\\"', "FOO", "bar\nbaz\\"),
        (" KEY =value", "KEY", "value"),  # leading whitespace ignored
        ("   KEY=value", "KEY", "value"),
        ("\tKEY=value", "KEY", "value"),
        ('KEY="\\0123"', "KEY", "S"),  # XSI octal escape
        ('KEY="\\x07"', "KEY", "\\x07"),  # non-XSI escapes are left alone
        ('KEY="\\u12e4"', "KEY", "\\u12e4"),
        ('KEY="\\U00101234"', "KEY", "\\U00101234"),
    ],
)
def test_parsing(line: str, key: str, expected: str) -> None:
    assert values(line) == {key: expected}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # parser.go expandEscapes rewrites `\0ooo` to Go's `\ooo`, which strconv.UnquoteChar only
        # takes with exactly three octal digits up to 0377; anything else stays as written
        ('"\\0101"', "A"),
        ('"\\0351"', "é"),  # U+00E9: Go's string(rune)
        ('"\\01x"', "\\01x"),
        ('"\\0"', "\\0"),
        ('"\\0777"', "\\0777"),
        ('"\\0089"', "\\0089"),
        ('"\\01011"', "A1"),  # at most three digits are taken
        ('"a\\$b"', "a$b"),  # `\$` becomes `$$`, then `$`
    ],
)
def test_escape_sequences(value: str, expected: str) -> None:
    assert values(f"KEY={value}") == {"KEY": expected}


def test_parse_bytes_names_with_brackets_dots_and_letters() -> None:
    # parser_test.go TestParseBytes
    text = "\na=b\na[1]=c\na.propertyKey=d\nárvíztűrő-TÜKÖRFÚRÓGÉP=ÁRVÍZTŰRŐ-tükörfúrógép\n"
    assert values(text) == {
        "a": "b",
        "a[1]": "c",
        "a.propertyKey": "d",
        "árvíztűrő-TÜKÖRFÚRÓGÉP": "ÁRVÍZTŰRŐ-tükörfúrógép",
    }


def test_parse_three_statements() -> None:
    # godotenv_test.go TestParse
    assert values("ONE=1\nTWO='2'\nTHREE = \"3\"") == {"ONE": "1", "TWO": "2", "THREE": "3"}


def test_double_quoted_value_spans_lines() -> None:
    # godotenv_test.go TestVariableStringValueSeparator
    text = 'TEST_URLS="stratum+tcp://stratum.antpool.com:3333\nstratum+tcp://stratum.antpool.com:443"'
    expected = "stratum+tcp://stratum.antpool.com:3333\nstratum+tcp://stratum.antpool.com:443"
    assert values(text) == {"TEST_URLS": expected}


@pytest.mark.parametrize("text", ["\n", "\r\n", "\t\t ", "# Comment", "\t # comment"])
def test_lines_to_ignore(text: str) -> None:
    # godotenv_test.go TestLinesToIgnore
    assert parse_env_text(text, "test.env", {}) == ([], [])


def test_windows_line_endings() -> None:
    # parser.go: unquoted values are trimmed with unicode.IsSpace, which includes "\r"
    assert values("A=1\r\nB='2'\r\nC\r\n", {"C": "3"}) == {"A": "1", "B": "2", "C": "3"}


# --- godotenv_test.go: the tests that read fixture files ----------------------------------------
# The files in tests/data/envfiles/ are ours (see its README.md); each one exercises the rules
# that the compose-go fixture of the same name exercises in the Go test named below.


def test_read_plain_env() -> None:
    # TestReadPlainEnv: unquoted values, any spacing around "=", empty values, " #" comments.
    # compose-go's Read() also drops names that start with a digit (godotenv.go ReadWithLookup),
    # but compose reads env files through parseWithLookup (env.go GetEnvFromFile, format.go),
    # which keeps them: so "1ST_LDAP_REPLICA" is here.
    assert fixture("plain.env") == {
        "ACCOUNT_PROVISIONER": "LDAP",
        "LDAP_START_TLS": "no",
        "LDAP_SERVER_HOST": "ldap://ldap.example.test",
        "ENABLE_SASLAUTHD": "1",
        "LDAP_BIND_DN": "cn=mail server,ou=services,dc=example,dc=test",
        "1ST_LDAP_REPLICA": "ldap1.example.test",
        "SPOOF_PROTECTION": "",
        "RELAY_PASSWORD": "",
        "LDAP_QUERY_FILTER_DOMAIN": "(mail=*@%s)#not a comment: no space before it",
        "OVERRIDE_HOSTNAME": "mail.example.test",
    }


def test_load_exported_env() -> None:
    # TestLoadExportedEnv: `export ` is dropped; single quotes keep `\n` as two characters
    assert fixture("exported.env") == {
        "ENABLE_SASLAUTHD": "1",
        "SASLAUTHD_LDAP_FILTER": "(&(uid=%U)\\n(mailEnabled=TRUE))",
    }


def test_load_equals_env() -> None:
    # TestLoadEqualsEnv: only the first "=" separates the name, with or without `export`/quotes
    assert fixture("equals.env") == {
        "LDAP_BIND_DN": "cn=admin,dc=example,dc=test",
        "LDAP_QUERY_FILTER_USER": "(&(objectClass=PostfixBookMailAccount)(mail=%s)(mailEnabled=TRUE))",
        "SASLAUTHD_LDAP_SERVER": "ldaps://ldap.example.test:636/?mail?sub?(mailEnabled=TRUE)",
    }


def test_load_quoted_env() -> None:
    # TestLoadQuotedEnv
    assert fixture("quoted.env") == {
        "LDAP_QUERY_FILTER_USER": "(&(mail=%s)(mailEnabled=TRUE))",  # single quoted
        "LDAP_QUERY_FILTER_ALIAS": "(&(mailAlias=%s)(mailEnabled=TRUE))",  # double quoted
        # single quoted over several lines, spaces around "="
        "DOVECOT_PASS_FILTER": "(&\n  (objectClass=PostfixBookMailAccount)\n  (uniqueIdentifier=%n)\n)",
        "LDAP_BIND_PW": "",  # ''
        "SASLAUTHD_LDAP_PASSWORD": "",  # ""
        "SASLAUTHD_MECH_OPTIONS": "-O '/etc/saslauthd.conf'",  # ' inside ", then a comment
        "DOVECOT_USER_ATTRS": "=home=/var/mail/%{ldap:mail}\\n=uid=5000",  # no escapes in '
        "LDAP_QUERY_FILTER_GROUP": "(&(mailGroupMember=%s)\n(mailEnabled=TRUE))",  # escapes in "
        "RELAY_PASSWORD": "don't-guess-me",  # \' inside single quotes
        "POSTMASTER_ADDRESS": "Mail Admin <postmaster@example.test>",
    }


def test_quoted_env_line_numbers() -> None:
    # A statement's location is the line where it starts, also after a multi-line value.
    settings, _ = parse_env_file(FIXTURES / "quoted.env", {})
    lines = {s.name: s.origin.location for s in settings}
    assert lines["DOVECOT_PASS_FILTER"] == f"{FIXTURES / 'quoted.env'}:4"
    assert lines["LDAP_BIND_PW"] == f"{FIXTURES / 'quoted.env'}:8"
    assert lines["POSTMASTER_ADDRESS"] == f"{FIXTURES / 'quoted.env'}:14"


def test_load_unquoted_env() -> None:
    # TestLoadUnquotedEnv: phrases with spaces, quoted or not, and a non-ASCII character
    assert fixture("unquoted.env") == {
        "SASLAUTHD_LDAP_BIND_DN": "cn=Jürgen Müller,ou=people,dc=example,dc=test",
        "LDAP_BIND_DN": "cn=Mail Server,ou=services,dc=example,dc=test",
        "LDAP_SEARCH_BASE": "ou=mail users,dc=example,dc=test",
        "DOVECOT_USER_FILTER": "(&(objectClass=inetOrgPerson)(uid=%n)(description=mail user))",
        "DOVECOT_PASS_FILTER": "(&(objectClass=inetOrgPerson)(uid=%n)(description=mail user))",
    }


def test_dash_and_dot_names() -> None:
    # TestDash (special.env): "_", ".", "-" (and parser.go's "[", "]") in names
    assert fixture("special.env") == {
        "dovecot-ldap.conf.ext": "/etc/dovecot/dovecot-ldap.conf.ext",
        "LDAP_QUERY_FILTER_SENDERS": "(|(mail=%s)(mailAlias=%s))",
        "sasl-auth-method": "bind",
        "postfix.smtpd.sasl.auth.enable": "yes",
        "ldap-uris[0]": "ldap://ldap1.example.test",
    }


def test_utf8_bom() -> None:
    # TestUTF8BOM: the BOM is skipped, so it does not end up in the first name
    assert (FIXTURES / "utf8-bom.env").read_bytes().startswith(b"\xef\xbb\xbfLDAP_SERVER_HOST=")
    assert fixture("utf8-bom.env") == {
        "LDAP_SERVER_HOST": "ldap.example.test",
        "LDAP_BIND_DN": "cn=mailserver,ou=services,dc=example,dc=test",
        "DOVECOT_TLS": "yes",
        "LDAP_START_TLS": "yes",
    }


def test_substitutions() -> None:
    # TestSubstitutions: $VAR and ${VAR} see earlier lines, also values that were substituted
    # themselves; an unknown name gives ""
    assert fixture("substitutions.env") == {
        "LDAP_SERVER_HOST": "ldap.example.test",
        "SASLAUTHD_LDAP_SERVER": "ldap.example.test",
        "RELAY_HOST": "",
        "POSTMASTER_ADDRESS": "postmaster@ldap.example.test",
        "DOVECOT_URIS": "ldap://ldap.example.test ldap://ldap.example.test",
    }


def test_substitutions_environment_wins_over_the_file() -> None:
    # TestSubstitutionsWithEnvFilePrecedence: LDAP_SERVER_HOST keeps the file's value, but
    # ${LDAP_SERVER_HOST} looks up the environment first
    assert fixture("substitutions.env", {"LDAP_SERVER_HOST": "ldap.corp.test"}) == {
        "LDAP_SERVER_HOST": "ldap.example.test",
        "SASLAUTHD_LDAP_SERVER": "ldap.corp.test",
        "RELAY_HOST": "",
        "POSTMASTER_ADDRESS": "postmaster@ldap.corp.test",
        "DOVECOT_URIS": "ldap://ldap.corp.test ldap://ldap.corp.test",
    }


def test_substitutions_default_with_environment() -> None:
    # TestSubstitutionsWithEnvFileDefaultValuePrecedence: a set variable beats both defaults
    env = {"LDAP_SEARCH_BASE": "dc=corp,dc=test", "LDAP_START_TLS": "yes"}
    assert fixture("substitutions-default.env", env) == {
        "LDAP_SEARCH_BASE": "dc=corp,dc=test",
        "LDAP_START_TLS": "yes",
        "SASLAUTHD_LDAP_SEARCH_BASE": "dc=corp,dc=test",
        "SASLAUTHD_LDAP_TLS_CACERT_FILE": "",
        "LDAP_BIND_DN": "cn=mailserver,ou=services,dc=corp,dc=test",
        "DOVECOT_USER_FILTER": "(&(mail=%u)(memberOf=cn=mail,ou=groups,dc=corp,dc=test))",
    }


def test_substitutions_default_without_environment() -> None:
    # TestSubstitutionsWithUnsetVarEnvFileDefaultValuePrecedence: both defaults apply
    assert fixture("substitutions-default.env") == {
        "LDAP_SEARCH_BASE": "dc=example,dc=test",
        "LDAP_START_TLS": "no",
        "SASLAUTHD_LDAP_SEARCH_BASE": "dc=example,dc=test",
        "SASLAUTHD_LDAP_TLS_CACERT_FILE": "",
        "LDAP_BIND_DN": "cn=mailserver,ou=services,dc=example,dc=test",
        "DOVECOT_USER_FILTER": "(&(mail=%u)(memberOf=cn=mail,ou=groups,dc=example,dc=test))",
    }


def test_substitutions_default_with_empty_environment() -> None:
    # template.go: ${VAR:-word} also replaces an empty VAR, ${VAR-word} does not
    # (TestEmptyValueWithSoftDefault / TestEmptyValueWithHardDefault). godotenv.go
    # expandVariables: an empty but set environment variable still wins over the file's value.
    env = {"LDAP_SEARCH_BASE": "", "LDAP_START_TLS": ""}
    assert fixture("substitutions-default.env", env) == {
        "LDAP_SEARCH_BASE": "dc=example,dc=test",
        "LDAP_START_TLS": "",
        "SASLAUTHD_LDAP_SEARCH_BASE": "",
        "SASLAUTHD_LDAP_TLS_CACERT_FILE": "",
        "LDAP_BIND_DN": "cn=mailserver,ou=services,",
        "DOVECOT_USER_FILTER": "(&(mail=%u)(memberOf=cn=mail,ou=groups,))",
    }


def test_inherited_variables() -> None:
    # TestInheritedEnvVariableSameSize / ...SingleVar: a bare NAME takes the environment's value
    env = {"LDAP_BIND_PW": "from-the-shell", "SASLAUTHD_LDAP_PASSWORD": "also-from-the-shell"}
    assert fixture("inherited-multi-var.env", env) == {
        "LDAP_BIND_PW": "from-the-shell",
        "ACCOUNT_PROVISIONER": "LDAP",
        "LDAP_BIND_DN": "cn=mailserver,ou=services,dc=example,dc=test",
        "SASLAUTHD_LDAP_PASSWORD": "also-from-the-shell",
    }
    assert fixture("inherited-single-var.env", env) == {"LDAP_BIND_PW": "from-the-shell"}


def test_inherited_variable_not_found_is_skipped() -> None:
    # TestInheritedEnvVariableNotFound
    assert fixture("inherited-not-found.env", {"RELAY_USER": "unrelated"}) == {}


def test_inherited_variable_origin_is_the_env_file_line() -> None:
    settings, _ = parse_env_text("A=1\nLDAP_BIND_DN\n", "mail.env", {"LDAP_BIND_DN": "cn=x"})
    assert settings[1].origin.location == "mail.env:2"
    assert settings[1].value == "cn=x"


def test_key_with_a_space_is_an_error() -> None:
    # TestErrorParsing: "key cannot contain a space", on the right line after a multi-line value
    with pytest.raises(InputError) as caught:
        parse_env_file(FIXTURES / "invalid1.env", {})
    assert caught.value.where == f"{FIXTURES / 'invalid1.env'}:9"
    assert "cannot contain a space" in str(caught.value)


def test_unexpected_character_in_name() -> None:
    # parser_test.go TestParseVariable; godotenv_test.go `lol$wut` must fail
    for text in ("%!(EXTRA string)=foo", "lol$wut"):
        with pytest.raises(InputError, match="unexpected character"):
            parse_env_text(text, "test.env", {})


@pytest.mark.parametrize(
    "text",
    [
        'KEY="',
        'KEY="value',
        'KEY="value\\"',
        "KEY=\"value'",
        "KEY='",
        "KEY='value",
        "KEY='value\\'",
        "KEY='value\"",
    ],
)
def test_unterminated_quotes(text: str) -> None:
    # TestUnterminatedQuotes
    with pytest.raises(InputError, match="unterminated quoted value") as caught:
        parse_env_text("A=1\n" + text, "test.env", {})
    assert caught.value.where == "test.env:2"


def test_expanding() -> None:
    # TestExpanding
    assert values("FOO=test\nBAR=$FOO") == {"FOO": "test", "BAR": "test"}
    assert values("FOO=test\nBAR=${FOO}bar") == {"FOO": "test", "BAR": "testbar"}
    assert values("BAR=$FOO") == {"BAR": ""}
    assert values('FOO=test\nBAR="quote $FOO"') == {"FOO": "test", "BAR": "quote test"}
    assert values("BAR='quote $FOO'") == {"BAR": "quote $FOO"}
    assert values('FOO="foo\\$BAR"') == {"FOO": "foo$BAR"}
    assert values('FOO="foo\\${BAR}"') == {"FOO": "foo${BAR}"}
    assert values('FOO=test\nBAR="foo\\${FOO} ${FOO}"') == {"FOO": "test", "BAR": "foo${FOO} test"}


def test_expanding_with_lookup() -> None:
    # TestExpandingEnvironmentWithLookup
    assert values("TEST=$ME", {"ME": "YES"}) == {"TEST": "YES"}


def test_multiple_files_prior_values() -> None:
    # TestMultipleFiles: a later file sees the earlier one's values, the environment first
    base = values('ENV_HOSTNAME=localhost\nENV_MY_URL="http://${ENV_HOSTNAME}"\n')
    text = 'ENV_HOSTNAME=dev.my-company.com\nENV_MY_URL="http://${ENV_HOSTNAME}"\n'
    assert values(text, prior=base) == {
        "ENV_HOSTNAME": "dev.my-company.com",
        "ENV_MY_URL": "http://dev.my-company.com",
    }
    assert values(text, {"ENV_HOSTNAME": "host.local"}, prior=base)["ENV_MY_URL"] == "http://host.local"


# --- godotenv_var_expansion_test.go: ${VAR...} with values read before ---------------------------

PRIOR = {"EMPTY_VAR": "", "TEST_VAR": "Test Value"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("RESULT=${UNSET_VAR:-Default Value}", "Default Value"),  # TestExpandIfEmptyOrUnset
        ("RESULT=${EMPTY_VAR:-Default Value}", "Default Value"),
        ("RESULT=${TEST_VAR:-Default Value}", "Test Value"),
        ("RESULT=${UNSET_VAR-Default Value}", "Default Value"),  # TestExpandIfUnset
        ("RESULT=${EMPTY_VAR-Default Value}", ""),
        ("RESULT=${TEST_VAR-Default Value}", "Test Value"),
        ("RESULT=${TEST_VAR:?Default Value}", "Test Value"),  # TestErrorIfEmptyOrUnset
        ("RESULT=${EMPTY_VAR?Test error}", ""),  # TestErrorIfUnset
        ("RESULT=${TEST_VAR?Default Value}", "Test Value"),
    ],
)
def test_expansion_with_prior_values(text: str, expected: str) -> None:
    assert values(text, prior=PRIOR)["RESULT"] == expected


@pytest.mark.parametrize(
    ("text", "variable"),
    [
        ("RESULT=${UNSET_VAR:?Test error}", "UNSET_VAR"),  # TestErrorIfEmptyOrUnset
        ("RESULT=${EMPTY_VAR:?Test error}", "EMPTY_VAR"),
        ("RESULT=${UNSET_VAR?Test error}", "UNSET_VAR"),  # TestErrorIfUnset
    ],
)
def test_required_variable_errors_in_env_file(text: str, variable: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_env_text("\n" + text, "test.env", {}, prior=PRIOR)
    assert caught.value.where == "test.env:2"
    assert f"required variable {variable} is missing a value: Test error" in str(caught.value)


# --- template_test.go: the substitution rules -----------------------------------------------------

DEFAULTS = {"FOO": "first", "BAR": "", "JSON": '{"json":2}'}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$${foo}", "${foo}"),  # TestEscaped
        ("foo", "foo"),  # TestSubstituteNoMatch
        ("a $ string", "a $ string"),  # TestUnescaped
        ("^REGEX$", "^REGEX$"),
        ("$}", "$}"),
        ("$", "$"),
        ("$FOO-bar", "first-bar"),  # TestNonBraced
        ("This ${missing} var", "This  var"),  # TestNoValueNoDefault
        ("This ${BAR} var", "This  var"),
        ("This $FOO var", "This first var"),  # TestValueNoDefault
        ("This ${FOO} var", "This first var"),
        ("ok ${missing:-def}", "ok def"),  # TestNoValueWithDefault
        ("ok ${missing-def}", "ok def"),
        ("ok ${BAR:-def}", "ok def"),  # TestEmptyValueWithSoftDefault
        ("ok ${FOO:-def}", "ok first"),  # TestValueWithSoftDefault
        ("ok ${BAR-def}", "ok "),  # TestEmptyValueWithHardDefault
        ("ok ${UNSET_VAR:+presence_value}", "ok "),  # TestPresentValueWithUnset
        ("ok ${UNSET_VAR+presence_value}", "ok "),  # TestPresentValueWithUnset2
        ("ok ${FOO:+presence_value}", "ok presence_value"),  # TestPresentValueWithNonEmpty
        ("ok ${FOO+presence_value}", "ok presence_value"),
        ("ok ${BAR+presence_value}", "ok presence_value"),  # TestPresentValueWithSet
        ("ok ${BAR:+presence_value}", "ok "),  # TestPresentValueAndNotEmptyWithSet
        ("ok ${BAR:-/non:-alphanumeric}", "ok /non:-alphanumeric"),  # TestNonAlphanumericDefault
        ("-ok ${BAR:-defaultValue}", "-ok defaultValue"),  # TestInterpolationExternalInterference
        ("+ok ${UNSET:-${BAR-defaultValue}}", "+ok "),
        ("-ok ${FOO:-defaultValue}", "-ok first"),
        (":-ok ${UNSET-defaultValue}", ":-ok defaultValue"),
        (":-ok ${BAR-defaultValue}", ":-ok "),
        (":?ok ${BAR-defaultValue}", ":?ok "),
        (":?ok ${BAR:-defaultValue}", ":?ok defaultValue"),
        (":+ok ${BAR:-defaultValue}", ":+ok defaultValue"),
        ("+ok ${BAR-defaultValue}", "+ok "),
        ("?ok ${BAR:-defaultValue}", "?ok defaultValue"),
        ("ok ${UNSET_VAR-$FOO}", "ok first"),  # TestDefaultsWithNestedExpansion
        ("ok ${UNSET_VAR-${FOO}}", "ok first"),
        ("ok ${UNSET_VAR-${FOO} ${FOO}}", "ok first first"),
        ("ok ${BAR:-$FOO}", "ok first"),
        ("ok ${BAR:-${FOO}}", "ok first"),
        ("ok ${BAR:-${FOO} ${FOO}}", "ok first first"),
        ("ok ${BAR+$FOO}", "ok first"),
        ("ok ${BAR+$FOO ${FOO:+second}}", "ok first second"),
        ("ok ${FOO:?err}", "ok first"),  # TestDefaultsForMandatoryVariables
        ("ok ${FOO?err}", "ok first"),
        ("ok ${BAR?err}", "ok "),
        ("${UNSET_VAR-myerror?msg}", "myerror?msg"),  # TestPrecedence
        ("${FOO?bar-baz}", "first"),
        ("${BAR:-default_value_for_empty_var}", "default_value_for_empty_var"),
        ("${UNSET_VAR-default_value_for_unset_var}", "default_value_for_unset_var"),
        ('ok ${missing:-{"json":1}}', 'ok {"json":1}'),  # TestNoValueWithCurlyBracesDefault
        ('ok ${missing-{"json":1}}', 'ok {"json":1}'),
        ('ok ${JSON:-{"json":1}}', 'ok {"json":2}'),  # TestValueWithCurlyBracesDefault
        ('ok ${JSON-{"json":1}}', 'ok {"json":2}'),
        ("ok ${SUBDOMAIN:-redis}.${FOO:?}", "ok redis.first"),  # TestSubstituteWithReplacementFunc
    ],
)
def test_substitute(template: str, expected: str) -> None:
    assert substitute(template, DEFAULTS.get) == expected


@pytest.mark.parametrize("template", ["${", "${}", "${ }", "${ foo}", "${foo }", "${foo!}"])
def test_invalid_templates(template: str) -> None:
    # TestInvalid
    with pytest.raises(InvalidTemplateError):
        substitute(template, DEFAULTS.get)


@pytest.mark.parametrize(
    ("template", "variable", "reason"),
    [
        ("not ok ${UNSET_VAR:?Mandatory Variable Unset}", "UNSET_VAR", "Mandatory Variable Unset"),
        ("not ok ${BAR:?Mandatory Variable Empty}", "BAR", "Mandatory Variable Empty"),
        ("not ok ${UNSET_VAR:?}", "UNSET_VAR", ""),
        ("not ok ${UNSET_VAR?Mandatory Variable Unset}", "UNSET_VAR", "Mandatory Variable Unset"),
        ("not ok ${UNSET_VAR?}", "UNSET_VAR", ""),
        ("${UNSET_VAR?bar-baz}", "UNSET_VAR", "bar-baz"),  # TestPrecedence
        ("not ok ${UNSET_VAR:?Mandatory Variable ${FOO}}", "UNSET_VAR", "Mandatory Variable first"),
        ("not ok ${UNSET_VAR?Mandatory Variable ${FOO}}", "UNSET_VAR", "Mandatory Variable first"),
    ],
)
def test_mandatory_variable_errors(template: str, variable: str, reason: str) -> None:
    # TestMandatoryVariableErrors, ...WithNestedExpansion
    with pytest.raises(MissingRequiredError) as caught:
        substitute(template, DEFAULTS.get)
    assert (caught.value.variable, caught.value.reason) == (variable, reason)


def test_mandatory_reason_built_by_expansion_is_not_shown() -> None:
    # Our rule: a reason that came from `${...}` may hold a secret, so describe() leaves it out
    with pytest.raises(MissingRequiredError) as caught:
        substitute("${UNSET_VAR:?Mandatory Variable ${FOO}}", DEFAULTS.get)
    assert caught.value.describe() == "required variable UNSET_VAR is missing a value"


@pytest.mark.parametrize(
    ("inner", "present", "expected"),
    [
        # TestSubstitutionFunctionChoice: the operator that occurs first is the one applied
        ("VARNAME:?val?ue", False, MissingRequiredError),
        ("VARNAME?val:?ue", False, MissingRequiredError),
        ("VARNAME?va-lu+e:?e", False, MissingRequiredError),
        ("VARNAME-va:-lu:?e", False, "va:-lu:?e"),
        ("VARNAME-va+lu?e", False, "va+lu?e"),
        ("VARNAME:-value", False, "value"),
        ("VARNAME:+va:?lu:-e", True, "va:?lu:-e"),
        ("VARNAME+va:+lue", True, "va:+lue"),
        ("VARNAME+va?lu-e", True, "va?lu-e"),
    ],
)
def test_substitution_function_choice(inner: str, present: bool, expected: object) -> None:
    lookup = {"VARNAME": "x"}.get if present else DEFAULTS.get
    if expected is MissingRequiredError:
        with pytest.raises(MissingRequiredError) as caught:
            substitute("${" + inner + "}", lookup)
        assert caught.value.reason == inner.partition("?")[2]
    else:
        assert substitute("${" + inner + "}", lookup) == expected


def test_unset_variables_are_reported_only_when_used() -> None:
    # TestLazyDefaultDoesNotWarn, TestLazyDefaultWarnsWhenUsed, TestLazyRequiredMessageDoesNotWarn
    unset: list[str] = []
    assert substitute("${A:+${A},}B", DEFAULTS.get, unset) == "B"
    assert unset == []
    assert substitute("${A:-${B}}", DEFAULTS.get, unset) == ""
    assert unset == ["B"]
    unset.clear()
    assert substitute("${A?${B}}", {"A": "value"}.get, unset) == "value"
    assert unset == []


def test_names_fold_like_go_regexp() -> None:
    # template.go DefaultPattern is case-insensitive; Go folds [a-z] to ſ (U+017F) and K (U+212A)
    assert substitute("$ſ-$lower", {"ſ": "s", "lower": "l"}.get) == "s-l"
    assert substitute("$ı", {"ı": "x"}.get) == "$ı"


# --- our rules: warnings, errors, origins ---------------------------------------------------------


def test_seed_stray_quote_warning() -> None:
    # The docs' LDAP_QUERY_FILTER example has `LDAP_SEARCH_BASE=dc=example,dc=org"`: unquoted, so
    # the quote stays in the value (parser.go extractVarValue) and DMS writes it to search_base.
    settings, found = parse_env_text('LDAP_SEARCH_BASE=dc=example,dc=org"\n', "mail.env", {})
    assert settings[0].value == 'dc=example,dc=org"'
    assert found == [
        Finding(
            "warning",
            "mail.env:1",
            "LDAP_SEARCH_BASE ends with a literal '\"'; DMS writes it into search_base as is",
        )
    ]


def test_quote_and_whitespace_warnings() -> None:
    text = (
        "LDAP_QUERY_FILTER_USER=(mail=%s)'\n"  # unquoted, stray quote at the end
        "LDAP_BIND_DN=\"'cn=admin'\"\n"  # single quotes kept inside double quotes
        'DOVECOT_USER_FILTER=" (uid=%n)"\n'  # whitespace kept inside quotes
        'SASLAUTHD_LDAP_FILTER=(uid=%U")x\n'  # a stray quote in the middle of an unquoted value
        "GOOD='(mail=%s)'\n"
    )
    messages = [f.message for f in findings(text)]
    assert messages == [
        'LDAP_QUERY_FILTER_USER ends with a literal "\'"; DMS writes it into query_filter of '
        "ldap-users.cf as is",
        'LDAP_BIND_DN is wrapped in literal "\'" quotes; DMS writes it into bind_dn as is',
        "DOVECOT_USER_FILTER has leading or trailing whitespace; DMS writes it into user_filter of "
        "dovecot-ldap.conf.ext as is",
        "SASLAUTHD_LDAP_FILTER contains a literal '\"'; DMS writes it into ldap_filter of "
        "saslauthd.conf as is",
    ]


def test_secret_value_never_in_warnings() -> None:
    text = f"LDAP_BIND_PW={CANARY}\"\nSASLAUTHD_LDAP_PASSWORD=' {CANARY}'\n"
    found = findings(text)
    assert len(found) == 2
    assert all(CANARY not in str(f) for f in found)
    assert found[0].message.startswith("LDAP_BIND_PW ends with a literal")


def test_multi_line_quote_warning() -> None:
    # A quote that is closed lines later swallows the lines between (parser.go extractVarValue)
    text = 'LDAP_SEARCH_BASE="dc=example,dc=org\nLDAP_BIND_DN=cn=admin"\nA=1\n'
    settings, found = parse_env_text(text, "mail.env", {})
    assert [s.name for s in settings] == ["LDAP_SEARCH_BASE", "A"]
    assert settings[1].origin.location == "mail.env:3"
    assert [f.message for f in found] == [
        'LDAP_SEARCH_BASE spans lines 1-2: its " closes only on line 2, so the line breaks are '
        "part of its value"
    ]


def test_text_after_closing_quote() -> None:
    # parser.go: after a closing quote the rest of the line is read as the next statement
    settings, found = parse_env_text('LDAP_BIND_DN="cn=admin" x\n', "mail.env", {"x": "1"})
    assert {s.name: s.value for s in settings} == {"LDAP_BIND_DN": "cn=admin", "x": "1"}
    assert found[0].message == (
        "text after the closing quote of LDAP_BIND_DN is read by compose as another variable, x"
    )
    with pytest.raises(InputError, match="text after the closing quote of LDAP_BIND_PW") as caught:
        parse_env_text(f"LDAP_BIND_PW='{CANARY}'s'\n", "mail.env", {})
    assert CANARY not in str(caught.value)


def test_unset_variable_warning() -> None:
    # template.go: "The X variable is not set. Defaulting to a blank string."
    assert [str(f) for f in findings("\nLDAP_SEARCH_BASE=${BASE}\n")] == [
        "warning: test.env:2: the BASE variable is not set; compose substitutes a blank string in "
        "LDAP_SEARCH_BASE"
    ]


def test_statements_without_a_name_are_skipped_with_a_warning() -> None:
    # parser.go stores `="value"` (godotenv_test.go TestParsing) and a bare NAME at the end of
    # the file without a newline under the empty name; neither is a variable DMS sees
    settings, found = parse_env_text('="value"\nA=1\nLDAP_BIND_DN', "mail.env", {"LDAP_BIND_DN": "x"})
    assert [s.name for s in settings] == ["A"]
    assert [f.where for f in found] == ["mail.env:1", "mail.env:3"]
    assert "no newline after it" in found[1].message


def test_duplicate_is_reported_and_last_wins() -> None:
    settings, found = parse_env_text("A=1\nB=2\nA=3\n", "mail.env", {})
    assert {s.name: (s.value, s.origin.location) for s in settings} == {
        "A": ("3", "mail.env:3"),
        "B": ("2", "mail.env:2"),
    }
    assert found == [Finding("info", "mail.env:3", "A is set again; this line wins over mail.env:1")]


def test_origin_kind_and_variable(tmp_path: Path) -> None:
    path = tmp_path / "mailserver.env"
    path.write_text("# comment\n\nexport LDAP_BIND_DN=cn=admin\n")
    settings, _ = parse_env_file(path, {}, kind="env-file")
    assert settings[0].origin.kind == "env-file"
    assert settings[0].origin.location == f"{path}:3"
    assert settings[0].origin.variable == "LDAP_BIND_DN"


def test_value_warnings_can_be_turned_off() -> None:
    settings, found = parse_env_text("A='x'y\n", ".env", {}, value_warnings=False)
    assert found == [Finding("warning", ".env:1", "text after the closing quote of A is read by "
                             "compose as another variable, y")]  # fmt: skip
    assert settings[0].value == "x"


def test_dms_target() -> None:
    assert dms_target("LDAP_QUERY_FILTER_SENDERS") == "query_filter of ldap-senders.cf"
    assert dms_target("LDAP_SERVER_HOST") == "server_host"
    assert dms_target("ENABLE_CLAMAV") == ""


# --- bad input: InputError naming file:line, never a secret value --------------------------------


def test_unterminated_quote_names_line_not_value(tmp_path: Path) -> None:
    path = tmp_path / "mail.env"
    path.write_text(f'LDAP_BIND_DN=cn=admin\nLDAP_BIND_PW="{CANARY}\nLDAP_SEARCH_BASE=dc=x\n')
    with pytest.raises(InputError) as caught:
        parse_env_file(path, {})
    assert str(caught.value).startswith(f"{path}:2: unterminated quoted value")
    assert "LDAP_BIND_PW" in str(caught.value)
    assert CANARY not in str(caught.value)


def test_non_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "mail.env"
    path.write_bytes(b"LDAP_BIND_DN=cn=admin\nLDAP_BIND_PW=" + CANARY.encode() + b"\xff\xfe\n")
    with pytest.raises(InputError) as caught:
        parse_env_file(path, {})
    assert str(caught.value) == f"{path}:2: env file is not valid UTF-8"


def test_missing_file(tmp_path: Path) -> None:
    # godotenv_test.go TestLoadFileNotFound
    with pytest.raises(InputError) as caught:
        parse_env_file(tmp_path / "nope.env", {})
    assert str(caught.value) == f"{tmp_path / 'nope.env'}: env file not found"


def test_directory(tmp_path: Path) -> None:
    # godotenv_test.go TestErrorReadDirectory, env.go "is a directory"
    with pytest.raises(InputError, match="is a directory"):
        parse_env_file(tmp_path, {})


def test_required_variable_error_hides_the_value() -> None:
    with pytest.raises(InputError) as caught:
        parse_env_text(f"LDAP_BIND_PW={CANARY}${{PW:?set PW}}\n", "mail.env", {})
    assert str(caught.value) == (
        "mail.env:1: required variable PW is missing a value: set PW (in the value of LDAP_BIND_PW)"
    )


def test_invalid_template_hides_the_value() -> None:
    with pytest.raises(InputError) as caught:
        parse_env_text(f'\nLDAP_BIND_PW="{CANARY}${{"\n', "mail.env", {})
    assert str(caught.value).startswith(
        "mail.env:2: invalid interpolation format in the value of LDAP_BIND_PW"
    )
    assert CANARY not in str(caught.value)


def test_bad_name_error_does_not_echo_the_line() -> None:
    with pytest.raises(InputError) as caught:
        parse_env_text(f"BAD NAME {CANARY}=x\n", "mail.env", {})
    assert caught.value.where == "mail.env:1"
    assert CANARY not in str(caught.value)
