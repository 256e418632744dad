"""`ldapdiag lint` output formats and exit codes, and the pieces the rules stand on
(tokens, DN syntax, schema descriptions, three-valued filter evaluation)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ldapdiag.cli import main
from ldapdiag.directory import filters as f
from ldapdiag.lint import filterwalk
from ldapdiag.lint.dn import dn_problem
from ldapdiag.lint.output import render
from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.runner import LintResult
from ldapdiag.lint.schema import Schema
from ldapdiag.lint.tokens import dovecot_tokens, dovecot_variable, postfix_invalid, saslauthd_tokens

DATA = Path(__file__).parent.parent / "data"
SNIPPET = DATA / "seed" / "really-simple.env"
DEFAULTS = DATA / "lint" / "dms-defaults.env"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["lint", "--no-env", *args], catch_exceptions=False)
    assert "mypassword" not in result.stdout + result.stderr
    return result.exit_code, result.stdout


def test_standard() -> None:
    code, out = run("--env-file", str(SNIPPET))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == str(SNIPPET)
    assert re.fullmatch(r"  2 +warning +postfix uses TLS .*\(tls-no-verify\)", lines[1])
    assert any(
        re.fullmatch(r"  4 +error +LDAP_SERVER_HOST must include.*\(dms-host-scheme\)", x) for x in lines
    )
    assert any(line.strip().startswith("fix: write the URL with its scheme") for line in lines)
    assert "DOVECOT_USER_FILTER" in lines  # a group without a file
    assert lines[-1].startswith("5 errors, 3 warnings, 1 info") and lines[-1].endswith("(exit 1)")


def test_parsable() -> None:
    code, out = run("--env-file", str(SNIPPET), "--format", "parsable")
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 9
    for line in lines:
        assert re.fullmatch(r".+: \[(error|warning|info)\] .+ \([a-z0-9-]+\)", line), line
    assert f"{SNIPPET}:5: [warning] LDAP_SEARCH_BASE ends with a literal '\"'" in out


def test_github() -> None:
    code, out = run("--env-file", str(SNIPPET), "--format", "github")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"::group::{SNIPPET}"
    groups = [x for x in lines if x.startswith("::group::")]
    assert groups[1:] == ["::group::DOVECOT_TLS", "::group::DOVECOT_USER_FILTER", "::group::hostname"]
    assert lines.count("::endgroup::") == len(groups)
    assert any(
        line.startswith(f"::error file={SNIPPET},line=4,title=dms-host-scheme (dms)::") for line in lines
    )
    assert any(
        line.startswith("::error title=empty-filter (dovecot)::DOVECOT_USER_FILTER: ") for line in lines
    )
    assert any(line.startswith("::notice title=dms-config (dms)::hostname: ") for line in lines)


def test_github_escapes() -> None:
    problem = LintProblem("warning", "x", "postfix", "a,b:c.env:3", "50% done\nnext", "hint")
    out = render(LintResult([problem]), "github", 0)
    assert "::warning file=a%2Cb%3Ac.env,line=3,title=x (postfix)::50%25 done%0Anext (fix: hint)" in out


def test_json() -> None:
    code, out = run("--env-file", str(SNIPPET), "--format", "json")
    data = json.loads(out)
    assert code == data["exit_code"] == 1
    assert data["counts"] == {"error": 5, "warning": 3, "info": 1}
    assert data["server_checked"] is False and data["not_checked"] == []
    first = data["problems"][0]
    assert set(first) == {"level", "code", "component", "where", "file", "line", "setting", "message", "hint"}
    assert first["file"] == str(SNIPPET) and first["line"] == 2


def test_clean_exit_zero() -> None:
    code, out = run("--env-file", str(DEFAULTS))
    assert code == 0
    assert out.startswith("0 errors, 0 warnings, 0 info")


def test_strict_and_dms_version(tmp_path: Path) -> None:
    extra = tmp_path / "extra.env"
    extra.write_text("DOVECOT_USER_ATTRS=mailHomeDirectory=home\n")
    assert run("--env-file", str(DEFAULTS), "--env-file", str(extra))[0] == 0
    code, out = run("--env-file", str(DEFAULTS), "--env-file", str(extra), "--dms-version", "16")
    assert code == 1  # the v15 %n filter is an error under dovecot 2.4
    assert "(dms-v16-ignored)" in out and "(dms-v16-dovecot-syntax)" in out


def test_cannot_check_without_provisioner(tmp_path: Path) -> None:
    env = tmp_path / "file.env"
    env.write_text("ENABLE_LDAP=1\n")
    result = CliRunner().invoke(main, ["lint", "--no-env", "--env-file", str(env)])
    assert result.exit_code == 2
    assert "ENABLE_LDAP=1 is the pre-v13 name" in result.stderr


def test_server_unreachable_is_exit_2(tmp_path: Path) -> None:
    code, out = run("--env-file", str(DEFAULTS), "--set", "LDAP_SERVER_HOST=ldap://127.0.0.1:9", "--server")
    assert code == 2
    assert "not checked: --server: postfix cannot read the directory" in out


# --- tokens ------------------------------------------------------------------------------------


def test_postfix_tokens() -> None:
    assert postfix_invalid("(mail=%s)(uid=%u)(dc=%1)(x=%%)(y=%S%U%D)") == []
    assert [t.text for t in postfix_invalid("(uid=%n)(x=%{user})%")] == ["%n", "%{", "%"]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("%u", [("%u", "user")]),
        ("%Ln", [("%Ln", "username")]),
        ("%{user}", [("%{user}", "user")]),
        ("%1.2d", [("%1.2d", "domain")]),
        ("%s", [("%s", "service")]),
        ("(uid=%U)", [("%U)", None)]),
        ("%{ldap:uid}", [("%{ldap:uid}", "ldap:uid")]),
        ("%%", [("%%", "%")]),
    ],
)
def test_dovecot_tokens(template: str, expected: list[tuple[str, str | None]]) -> None:
    assert [(t.text, dovecot_variable(t)) for t in dovecot_tokens(template)] == expected


def test_saslauthd_tokens() -> None:
    assert [t.variable for t in saslauthd_tokens("%u%U%d%1%r%s%")] == ["u", "U", "d", "1", "r", "s", ""]


# --- DN syntax (the cases slapd was asked about in tests/integration/test_lint_server.py) --------


@pytest.mark.parametrize(
    "text", ["", "dc=example,dc=org", "dc = example ; dc=org", 'cn="a,b",dc=x', "cn=a\\,b", "cn=a#b"]
)
def test_dn_ok(text: str) -> None:
    assert dn_problem(text) is None


@pytest.mark.parametrize(
    "text",
    ['dc=example,dc=org"', "example.org", "dc=a,,dc=b", "dc=a,", "cn=a+b", "cn=", "cn=a\\zz", "cn=#0c026162"],
)
def test_dn_bad(text: str) -> None:
    assert dn_problem(text) is not None


# --- schema descriptions ------------------------------------------------------------------------


def test_schema_inheritance() -> None:
    schema = Schema.from_descriptions(
        [
            "( 2.5.4.49 NAME 'distinguishedName' EQUALITY distinguishedNameMatch "
            "SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
            "( 2.5.4.31 NAME 'member' SUP distinguishedName )",
            "( 0.9.2342.19200300.100.1.3 NAME ( 'mail' 'rfc822Mailbox' ) EQUALITY caseIgnoreIA5Match "
            "SUBSTR caseIgnoreIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{256} )",
            "( 1.2.840.113556.1.4.221 NAME 'sAMAccountName' "
            "SYNTAX '1.3.6.1.4.1.1466.115.121.1.15' SINGLE-VALUE )",
        ],
        ["( 2.5.6.9 NAME 'groupOfNames' SUP top STRUCTURAL MUST ( member $ cn ) )"],
    )
    assert schema.equality("member") == "distinguishedNameMatch"
    assert schema.substr("member") is None
    assert schema.syntax("MEMBER;x-opt") == "1.3.6.1.4.1.1466.115.121.1.12"
    assert schema.substr("rfc822Mailbox") == "caseIgnoreIA5SubstringsMatch"
    assert schema.syntax("mail") == "1.3.6.1.4.1.1466.115.121.1.26"
    assert schema.equality("sAMAccountName") is None
    assert schema.knows_object_class("GROUPOFNAMES") and not schema.knows_object_class("group")


# --- three-valued evaluation (RFC 4511 4.5.1.7, RFC 4526) ---------------------------------------


@pytest.mark.parametrize(
    ("text", "never"),
    [
        ("(dead=x)", True),
        ("(|(dead=x)(mail=y))", False),
        ("(&(dead=x)(mail=y))", True),
        ("(!(dead=x))", True),  # NOT Undefined is Undefined
        ("(|)", False),  # never matches anyway: not the dead assertion's fault
        ("(&(|)(dead=x))", False),
    ],
)
def test_never_matches(text: str, never: bool) -> None:
    node = f.parse(text)
    dead = lambda leaf: filterwalk.attribute(leaf) == "dead"  # noqa: E731
    assert filterwalk.never_matches(node, dead) is never


def test_dovecot_24_filter_judged_by_version() -> None:
    """`%{user | username}` is dovecot 2.4 (DMS v16) syntax; dovecot 2.3 logs 'Unknown variable'."""
    args = ("--env-file", str(DEFAULTS), "--set", "DOVECOT_USER_FILTER=(uid=%{user | username})")
    code, out = run(*args, "--dms-version", "16")
    assert code == 0 and out.startswith("0 errors")
    code, out = run(*args, "--format", "parsable")
    assert code == 1 and "(dovecot-placeholder)" in out
