"""Programs that cannot start with the configuration: offline parts of the predictions.

The texts and the client's view are proven against the real programs in
tests/differential/test_cannot_start.py; these tests pin the logic that needs no server: which
daemon dies first and on which table, dovecot's fatal checks in dovecot's order, the files a
component refuses to read, and that no prediction connects anywhere when a program is down.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ldapdiag.config.load import load_config
from ldapdiag.config.model import ConfFile, MailServerConfig
from ldapdiag.config.postfix_cf import parse_postfix_cf
from ldapdiag.config.saslauthd_conf import parse_saslauthd_conf
from ldapdiag.config.sources import SourceOptions
from ldapdiag.directory.trace import Trace
from ldapdiag.dovecot.engine import directory_factory
from ldapdiag.dovecot.login_command import predict_login, predict_user
from ldapdiag.dovecot.settings import startup_refusal
from ldapdiag.errors import InputError
from ldapdiag.postfix.ldap_config import LdapConfigError, read_ldap_table
from ldapdiag.postfix.resolve_command import predict_resolve, predict_send_as
from ldapdiag.saslauthd.smtp_auth import AUTH_FAILED, sasl_cannot_start
from ldapdiag.startup import startup_problems
from tests.ldap_server import BASIC_SETUP

DEAD = "ldap://127.0.0.1:1"  # nothing listens: a prediction that connected would say so
CANARY = "canary-Pa55word-never-printed"
LDAP_EXT = "/etc/dovecot/dovecot-ldap.conf.ext"


def config(*sets: str, dms_config: Path | None = None) -> MailServerConfig:
    options = SourceOptions(
        env_files=(BASIC_SETUP / "mailserver.env",),
        use_environment=False,
        dms_config=dms_config,
        sets=(f"LDAP_SERVER_HOST={DEAD}", "OVERRIDE_HOSTNAME=mail.example.org", *sets),
    )
    return load_config(options, {})


# ------------------------------------------------------------------------------------------------
# postfix


@pytest.mark.parametrize(
    ("sets", "component", "stage", "error"),
    [
        (
            ("LDAP_QUERY_FILTER_USER=(mail=%x)",),
            "postfix/smtpd",
            "greeting",
            "fatal: db_common_parse: /etc/postfix/ldap-users.cf: Invalid query template: (mail=%x)",
        ),
        (
            ("LDAP_QUERY_FILTER_DOMAIN=(mail=%x)",),
            "postfix/trivial-rewrite",
            "MAIL FROM",
            "fatal: db_common_parse: /etc/postfix/ldap-domains.cf: Invalid query template: (mail=%x)",
        ),
        (  # every table is broken: smtpd opens virtual_alias_maps (aliases first) before the users
            ("LDAP_START_TLS=maybe",),
            "postfix/smtpd",
            "greeting",
            "fatal: /etc/postfix/ldap-aliases.cf: bad boolean configuration: start_tls = maybe",
        ),
    ],
)
def test_the_first_daemon_and_table_postfix_dies_on(
    sets: tuple[str, ...], component: str, stage: str, error: str
) -> None:
    [outcome] = predict_resolve(config(*sets), ["alice@example.org"]).outcomes
    assert (outcome.verdict, outcome.smtp_reply, outcome.recipients) == ("defer", None, [])
    assert outcome.cannot_start is not None
    assert (outcome.cannot_start.component, outcome.cannot_start.stage) == (component, stage)
    assert outcome.cannot_start.error == error
    assert outcome.steps[0].action == "cannot_start"  # and nothing was looked up


def test_a_line_without_equals_stops_postfix_itself(tmp_path: Path) -> None:
    (tmp_path / "ldap-groups.cf").write_text("server_host = x\nresult_attribute mail\n")
    conf = config(dms_config=tmp_path)
    assert conf.postfix_tables["/etc/postfix/ldap-groups.cf"].refused is not None
    assert any("postfix refuses this file" in f.message for f in conf.findings)
    [outcome] = predict_resolve(conf, ["alice@example.org"]).outcomes
    [sent_as] = predict_send_as(conf, "alice@example.org", ["alice@example.org"])
    expected = (
        "postfix",
        "connect",
        "fatal: /etc/postfix/ldap-groups.cf, line 2: missing '=' after attribute name: "
        '"result_attribute mail"',
    )
    for failure in (outcome.cannot_start, sent_as.cannot_start):
        assert failure is not None and (failure.component, failure.stage, failure.error) == expected


def test_refused_postfix_table_masks_the_password_and_is_fatal_when_opened() -> None:
    text = f"server_host = x\nbind_pw {CANARY}\n"
    with pytest.raises(InputError):
        parse_postfix_cf(text, "/etc/postfix/ldap-users.cf")
    conf = parse_postfix_cf(text, "/etc/postfix/ldap-users.cf", tolerant=True)
    assert conf.refused == (
        "/etc/postfix/ldap-users.cf, line 2: missing '=' after attribute name: \"bind_pw ********\""
    )
    with pytest.raises(LdapConfigError) as error:
        read_ldap_table(conf)
    assert CANARY not in str(error.value) and "missing '='" in str(error.value)
    alone = parse_postfix_cf(f"server_host = x\nbind_pw =\n{CANARY}\n", "/t.cf", tolerant=True)
    assert (
        alone.refused
        == "/t.cf, line 3: missing '=' after attribute name: \"(line not shown: it may hold a password)\""
    )


def test_warnings_do_not_stop_postfix(tmp_path: Path) -> None:
    (tmp_path / "ldap-users.cf").write_text("scope = bogus\nversion = 2\nstart_tls = yes\n")
    assert not startup_problems(config(dms_config=tmp_path))


def test_a_table_no_daemon_opens_is_a_finding(tmp_path: Path) -> None:
    # without SPOOF_PROTECTION, smtpd_sender_login_maps is empty: ldap-senders.cf is never opened
    conf = config("SPOOF_PROTECTION=0", "LDAP_QUERY_FILTER_SENDERS=(mail=%x)")
    problems = startup_problems(conf)
    assert [(p.component, p.level, p.file) for p in problems] == [
        ("postfix", "finding", "/etc/postfix/ldap-senders.cf")
    ]
    [outcome] = predict_resolve(conf, ["alice@example.org"]).outcomes
    assert outcome.cannot_start is None


# ------------------------------------------------------------------------------------------------
# dovecot


def ldap_ext(text: str) -> ConfFile:
    from ldapdiag.config.dovecot_conf import parse_dovecot_ldap_ext

    return parse_dovecot_ldap_ext(text, LDAP_EXT, tolerant=True)


@pytest.mark.parametrize(
    ("text", "fatal"),
    [
        ("uris = ldap://x\n", "No base given"),
        ("base = dc=x\n", "No uris or hosts set"),
        ("base = dc=x\nuris = ldap://x\nldap_version = 2\ntls = yes\n", "tls=yes requires ldap_version=3"),
        (
            "base = dc=x\nuris = ldap://x\nldap_version = 2\nsasl_bind = yes\ntls = yes\n",
            "sasl_bind=yes requires ldap_version=3",
        ),
        ("base = dc=x\nuris = ldap://x\ntls_require_cert = yes\n", "Unknown tls_require_cert value 'yes'"),
        (
            "base = dc=x\nuris = ldap://x\nderef = sometimes\nscope = all\n",
            "Unknown deref option 'sometimes'",
        ),
        ("base = dc=x\nuris = ldap://x\nscope = sub\n", "Unknown scope option 'sub'"),
        (
            "base = dc=x\nuris = ldap.example.org\n",
            "ldap_initialize() failed with uris ldap.example.org: Bad parameter to an ldap routine",
        ),
        ("base = dc=x\nuris = ldaps://x\ntls = yes\n", "Don't use both tls=yes and ldaps URI"),
    ],
)
def test_dovecot_fatal_checks_in_dovecots_order(text: str, fatal: str) -> None:
    assert startup_refusal(ldap_ext(text)) == f"LDAP {LDAP_EXT}: {fatal}"


@pytest.mark.parametrize(
    "text",
    [
        "base = dc=x\nuris = ldap://x\n",
        "base = dc=x\nhosts = x\n",
        "base = dc=x\nuris =\n",  # libldap takes ldap://localhost/
        "base = dc=x\nuris = ldap://x\ntls = yes\nscope = ONELEVEL\nderef = Always\n",
    ],
)
def test_dovecot_starts(text: str) -> None:
    assert startup_refusal(ldap_ext(text)) is None


def test_refused_dovecot_file_says_what_dovecot_logs() -> None:
    conf = ldap_ext(f"base = dc=x\nuris = ldap://x\nauth_bind = maybe\ndnpass:{CANARY} = x\n")
    assert conf.refused == (
        f"ldap {LDAP_EXT}: Error in configuration file {LDAP_EXT} line 3: Invalid boolean: maybe"
    )
    later = ldap_ext(f"base = dc=x\nuris = ldap://x\ndnpass:{CANARY} = x\n")
    assert later.refused is not None and CANARY not in later.refused
    assert later.refused.endswith("Unknown setting: (name not shown: it may hold a password)")


def test_dovecot_down_answers_nothing_and_drops_sasl_clients() -> None:
    conf = config("ENABLE_SASLAUTHD=0", "DOVECOT_URIS=ldap.example.org")
    trace = Trace()
    factory = directory_factory(trace)
    user = predict_user(conf, "alice@example.org", factory, trace)
    assert user.outcome is not None and user.outcome.result == "internal_failure"
    assert "cannot start with this configuration: Fatal: LDAP" in user.outcome.reason
    login = predict_login(conf, "alice@example.org", CANARY, factory, trace)
    assert login.imap_login is False and login.smtp.ok is False
    assert login.smtp.cannot_start is not None and login.smtp.cannot_start.stage == "EHLO"
    assert not trace.events  # nothing connected anywhere


# ------------------------------------------------------------------------------------------------
# saslauthd


def test_saslauthd_rejected_file() -> None:
    with pytest.raises(InputError):
        parse_saslauthd_conf("ldap_servers: ldap://x\nldap_mech: \n", "/etc/saslauthd.conf")
    conf = config("SASLAUTHD_LDAP_MECH= ")
    assert conf.saslauthd is not None
    assert (
        conf.saslauthd.refused
        == "/etc/saslauthd.conf:9: ldap_mech: empty value; saslauthd rejects the whole file"
    )
    failure = sasl_cannot_start(conf, directory_factory(Trace()))
    assert failure is not None and (failure.component, failure.stage, failure.reply) == (
        "saslauthd",
        "AUTH",
        AUTH_FAILED,
    )
    [sent_as] = predict_send_as(conf, "alice@example.org", ["alice@example.org"])
    assert (sent_as.allowed, sent_as.smtp_reply) == (False, AUTH_FAILED)


def test_a_long_line_is_not_a_refusal() -> None:
    with pytest.raises(InputError, match="longer than"):
        parse_saslauthd_conf("ldap_filter: " + "x" * 5000 + "\n", "/etc/saslauthd.conf", tolerant=True)


# ------------------------------------------------------------------------------------------------
# the JSON shapes (docs/schemas) with `cannot_start`

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
JSON_CASES = [
    ("resolve", ["alice@example.org"], "LDAP_QUERY_FILTER_USER=(mail=%x)"),
    ("send-as", ["alice@example.org", "alice@example.org"], "LDAP_QUERY_FILTER_DOMAIN=(mail=%x)"),
    ("send-as", ["alice@example.org", "alice@example.org"], "SASLAUTHD_LDAP_MECH= "),
    ("login", ["alice@example.org", "--password-file", "{pw}"], "SASLAUTHD_LDAP_MECH= "),
    ("user", ["alice@example.org"], "DOVECOT_URIS=ldap.example.org"),
    ("check", [], "DOVECOT_URIS=ldap.example.org"),
]


@pytest.mark.parametrize(("command", "args", "setting"), JSON_CASES, ids=lambda v: str(v))
def test_json_with_a_program_down_keeps_the_schema(
    tmp_path: Path, command: str, args: list[str], setting: str
) -> None:
    import json

    import jsonschema
    from click.testing import CliRunner

    from ldapdiag.cli import main

    password = tmp_path / "pw"
    password.write_text(CANARY)
    options = [
        "--no-env",
        "--env-file",
        str(BASIC_SETUP / "mailserver.env"),
        "--set",
        f"LDAP_SERVER_HOST={DEAD}",
    ]
    options += ["--set", "OVERRIDE_HOSTNAME=mail.example.org", "--set", setting]
    args = [arg.format(pw=password) for arg in args]
    result = CliRunner().invoke(main, [command, *args, "--format", "json", *options])
    assert result.exit_code in (1, 2), result.output
    assert CANARY not in result.output
    document = json.loads(result.stdout)
    schema = json.loads((SCHEMAS / f"{command}.schema.json").read_text())
    jsonschema.validate(document, schema, cls=jsonschema.Draft202012Validator)
    assert "cannot start" in json.dumps(document) or "cannot_start" in json.dumps(document)
