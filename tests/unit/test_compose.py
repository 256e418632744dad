"""ldapdiag.config.compose against compose-go's loading rules (compose-go v2.13, yaml/v4).

Each test names the compose-go (or go.yaml.in/yaml/v4) source it reproduces. Environments are
passed explicitly: nothing here reads the process environment.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from ldapdiag.config.compose import ComposeService, is_file_path, load_compose, parse_short_volume
from ldapdiag.config.origin import Finding
from ldapdiag.errors import InputError

DATA = Path(__file__).resolve().parents[1] / "data" / "compose"
CANARY = "CANARY-7f3a"


def write(directory: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content))


def load(
    tmp_path: Path,
    text: str,
    *,
    service: str | None = "mail",
    environ: dict[str, str] | None = None,
    files: dict[str, str | bytes] | None = None,
) -> ComposeService:
    write(tmp_path, {"compose.yaml": text, **(files or {})})
    return load_compose(tmp_path / "compose.yaml", service, environ or {})


def env(service: ComposeService) -> dict[str, str]:
    return {s.name: s.value for s in service.settings}


def error(tmp_path: Path, text: str, **kwargs: object) -> InputError:
    with pytest.raises(InputError) as caught:
        load(tmp_path, text, **kwargs)  # type: ignore[arg-type]
    return caught.value


# --- the docs' examples (shared/seed/dms-ldap-provisioner.md) -----------------------------------


def test_seed_basic_setup() -> None:
    path = DATA / "seed-basic-setup.yml"
    service = load_compose(path, None, {})
    assert service.name == "mailserver"
    assert service.findings == ()
    values = env(service)
    assert len(values) == 23
    assert values["ACCOUNT_PROVISIONER"] == "LDAP"
    assert values["LDAP_BIND_PW"] == "mypassword"
    assert values["LDAP_QUERY_FILTER_SENDERS"] == (
        "(&(objectClass=inetOrgPerson)(|(mail=%s)(mailAlias=%s)(mailGroupMember=%s)))"
    )
    assert values["DOVECOT_USER_ATTRS"] == (
        "=home=/var/mail/%{ldap:uid},=mail=maildir:~/Maildir,uidNumber=uid,gidNumber=gid"
    )
    origin = next(s.origin for s in service.settings if s.name == "LDAP_BIND_PW")
    assert (origin.kind, origin.location, origin.variable) == ("compose", f"{path}:32", "LDAP_BIND_PW")
    assert service.hostname is not None
    assert (service.hostname.value, service.hostname.origin.location) == ("mail.example.com", f"{path}:7")
    assert service.domainname is None
    # `./docker-data/dms/config/:/tmp/docker-mailserver/` (format/volume.go, paths/resolve.go)
    assert service.dms_config_dir == DATA / "docker-data" / "dms" / "config"


def test_seed_kopano() -> None:
    service = load_compose(DATA / "seed-kopano.yml", None, {})
    values = env(service)
    assert values["SASLAUTHD_PASSWD"] == ""  # `- SASLAUTHD_PASSWD=`: set, empty
    assert values["LDAP_SERVER_HOST"] == "<yourLdapContainer/yourLdapServer>"
    assert values["POSTFIX_DAGENT"] == "lmtp:kopano:2003"
    assert values["SMTP_ONLY"] == "1"
    assert service.dms_config_dir == DATA / "docker-data" / "dms" / "config"
    assert service.findings == ()


def test_seed_filter_snippet_comments_and_stray_quote() -> None:
    # `- LDAP_QUERY_FILTER_ALIAS=(|) # doesn't match anything`: YAML drops the comment (and its
    # apostrophe); `- LDAP_SEARCH_BASE=dc=example,dc=org"` keeps its quote
    path = DATA / "seed-filter-snippet.yml"
    service = load_compose(path, None, {})
    values = env(service)
    assert values["LDAP_QUERY_FILTER_ALIAS"] == "(|)"
    assert values["LDAP_QUERY_FILTER_GROUP"] == "(|)"
    assert values["LDAP_START_TLS"] == "yes"
    assert values["LDAP_SEARCH_BASE"] == 'dc=example,dc=org"'
    assert service.findings == (
        Finding(
            "warning",
            f"{path}:11",
            "LDAP_SEARCH_BASE ends with a literal '\"'; DMS writes it into search_base as is",
        ),
    )


def test_project_with_env_files() -> None:
    path = DATA / "with-env-files" / "docker-compose.yml"
    service = load_compose(path, None, {"BASE": "dc=example,dc=com"})
    directory = path.parent
    assert service.name == "mailserver"
    assert [(s.name, s.value, s.origin.location) for s in service.settings] == [
        # env_file entries first, in file order; LDAP_SERVER_HOST is overridden by environment:
        ("LDAP_SEARCH_BASE", "dc=example,dc=com", f"{directory / 'mailserver.env'}:3"),
        ("LDAP_START_TLS", "no", f"{directory / 'mailserver.env'}:4"),
        (
            "DOVECOT_USER_FILTER",
            "(&(objectClass=inetOrgPerson)(mail=%u))",
            f"{directory / 'mailserver.env'}:5",
        ),
        ("LDAP_BIND_PW", CANARY, f"{directory / 'ldap-secrets.env'}:1"),
        # then environment:, explicit keys first, then those merged in with `<<:`
        ("ACCOUNT_PROVISIONER", "LDAP", f"{path}:24"),
        ("LDAP_SERVER_HOST", "ldap://ldap:389", f"{path}:25"),
        ("SPOOF_PROTECTION", "1", f"{path}:26"),
        ("LDAP_BIND_DN", "cn=admin,dc=example,dc=org", f"{path}:27"),  # null: from .env
        ("LDAP_QUERY_FILTER_USER", "(&(objectClass=inetOrgPerson)(mail=%s))", f"{path}:3"),
        ("LDAP_QUERY_FILTER_ALIAS", "(|)", f"{path}:4"),
    ]
    assert service.hostname is not None and service.hostname.value == "mail.example.org"
    assert service.domainname is not None
    assert (service.domainname.value, service.domainname.origin.location) == ("example.org", f"{path}:15")
    assert service.dms_config_dir == directory / "docker-data" / "dms" / "config"
    assert service.findings == ()


# --- environment: (types/mapping.go MappingWithEquals.DecodeMapstructure) ------------------------


def test_environment_list_form(tmp_path: Path) -> None:
    service = load(
        tmp_path,
        """\
        services:
          mail:
            environment:
              - ACCOUNT_PROVISIONER=LDAP
              - LDAP_BIND_DN=cn=admin,dc=example,dc=org
              - LDAP_QUERY_FILTER_USER=(mail=%s)=x
              - EMPTY=
              - INHERITED
              - NOT_SET
              - "QUOTED=a # not a comment"
        """,
        environ={"INHERITED": "from-env"},
    )
    assert env(service) == {
        "ACCOUNT_PROVISIONER": "LDAP",
        "LDAP_BIND_DN": "cn=admin,dc=example,dc=org",
        "LDAP_QUERY_FILTER_USER": "(mail=%s)=x",  # split at the first "="
        "EMPTY": "",
        "INHERITED": "from-env",
        "QUOTED": "a # not a comment",
    }
    where = [s.origin.location for s in service.settings]
    assert where[0] == f"{tmp_path / 'compose.yaml'}:4"
    assert (
        Finding(
            "info",
            f"{tmp_path / 'compose.yaml'}:9",
            "NOT_SET is listed without a value and is not set in the environment or .env; "
            "compose leaves it unset",
        )
        in service.findings
    )


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        # yaml/v4 resolve.go: only these spellings are booleans; fmt.Sprint prints true/false
        ("true", "true"),
        ("True", "true"),
        ("FALSE", "false"),
        ("yes", "yes"),  # YAML 1.1 booleans stay strings (PyYAML alone would say True)
        ("on", "on"),
        ("off", "off"),
        ("1", "1"),
        ("-12", "-12"),
        ("1_000", "1000"),  # underscores removed before strconv.ParseInt
        ("0x1F", "31"),  # ParseInt base 0
        ("0o17", "15"),
        ("0b101", "5"),
        ("012", "10"),  # a leading 0 is octal
        ("08", "8"),  # not octal: parsed as a float, printed as 8
        ("1.0", "1"),  # fmt.Sprint(float64)
        ("1.50", "1.5"),
        ("1e3", "1000"),
        ("1e6", "1e+06"),
        ("0.00001", "1e-05"),
        (".5", "0.5"),
        ("-0", "-0"),
        (".inf", "+Inf"),
        ("-.Inf", "-Inf"),
        (".NaN", "NaN"),
        ("1e400", "1e400"),  # out of range: stays a string
        ("99999999999999999999", "1e+20"),  # beyond uint64: a float
        ("18446744073709551615", "18446744073709551615"),  # ParseUint
        ("+", "+"),
        ("1.2.3", "1.2.3"),
        ("'012'", "012"),  # quoted: a string
        ('"true"', "true"),
        ("!!str 012", "012"),
    ],
)
def test_environment_map_scalars(tmp_path: Path, written: str, expected: str) -> None:
    text = f"services:\n  mail:\n    environment:\n      VALUE: {written}\n"
    assert env(load(tmp_path, text)) == {"VALUE": expected}


def test_environment_map_null_inherits(tmp_path: Path) -> None:
    text = "services:\n  mail:\n    environment:\n      A:\n      B: ~\n      C: null\n      D: ''\n"
    assert env(load(tmp_path, text, environ={"A": "a", "B": "b"})) == {"A": "a", "B": "b", "D": ""}


def test_number_warning_hides_secret(tmp_path: Path) -> None:
    # `LDAP_BIND_PW: 0123` reaches the container as "83" (octal): warn, without the value
    service = load(
        tmp_path,
        "services:\n  mail:\n    environment:\n      LDAP_BIND_PW: 0123\n      TAG: 1.10\n",
    )
    assert env(service) == {"LDAP_BIND_PW": "83", "TAG": "1.1"}
    messages = [f.message for f in service.findings]
    assert messages == [
        "LDAP_BIND_PW is a YAML number, not a string: compose passes it in another form; quote it",
        "TAG is a YAML number, not a string: compose passes '1.1' (written '1.10'); quote it",
    ]


def test_environment_quote_warnings(tmp_path: Path) -> None:
    service = load(
        tmp_path,
        f"""\
        services:
          mail:
            environment:
              - LDAP_BIND_PW="{CANARY}"
              - 'LDAP_SEARCH_BASE= dc=example,dc=org'
              - LDAP_BIND_DN=cn=admin,dc=example,dc=org
        """,
    )
    assert env(service)["LDAP_BIND_PW"] == f'"{CANARY}"'  # compose keeps the quotes
    where = f"{tmp_path / 'compose.yaml'}"
    assert [str(f) for f in service.findings] == [
        f"warning: {where}:4: LDAP_BIND_PW is wrapped in literal '\"' quotes; "
        "DMS writes it into bind_pw as is",
        f"warning: {where}:5: LDAP_SEARCH_BASE has leading or trailing whitespace; DMS writes it into "
        "search_base as is",
    ]


def test_duplicate_list_entry_last_wins(tmp_path: Path) -> None:
    service = load(tmp_path, "services:\n  mail:\n    environment:\n      - A=1\n      - B=2\n      - A=3\n")
    assert [(s.name, s.value) for s in service.settings] == [("B", "2"), ("A", "3")]
    assert service.findings[0].level == "info"


def test_trailing_space_in_name_is_an_error(tmp_path: Path) -> None:
    # types/mapping.go: "environment variable %s is declared with a trailing space"
    failure = error(tmp_path, 'services:\n  mail:\n    environment:\n      - "FOO =bar"\n')
    assert str(failure) == (
        f"{tmp_path / 'compose.yaml'}:4: environment variable FOO is declared with a trailing space"
    )


def test_environment_must_be_list_or_mapping(tmp_path: Path) -> None:
    failure = error(tmp_path, "services:\n  mail:\n    environment: FOO=bar\n")
    assert failure.where == f"{tmp_path / 'compose.yaml'}:3"


# --- interpolation (interpolation.go, template.go) and the project .env (cli/options.go) ---------


def test_interpolation_uses_dotenv_and_environ_wins(tmp_path: Path) -> None:
    service = load(
        tmp_path,
        """\
        services:
          mail:
            hostname: ${HOST}
            environment:
              ACCOUNT_PROVISIONER: LDAP
              LDAP_SEARCH_BASE: ${BASE:-dc=default}
              LDAP_BIND_DN: cn=admin,${BASE}
              LDAP_SERVER_HOST: ${SCHEME-ldap}://${LDAP_HOST:?set LDAP_HOST}
              DOVECOT_PASS_ATTRS: $${kept}
              SASLAUTHD_LDAP_FILTER: (uid=$$U)
              ALT: ${HOST:+has-host}
        """,
        environ={"BASE": "dc=example,dc=org"},
        files={".env": "HOST=mail.example.org\nBASE=dc=from-dotenv\nLDAP_HOST=ldap\n"},
    )
    assert env(service) == {
        "ACCOUNT_PROVISIONER": "LDAP",
        "LDAP_SEARCH_BASE": "dc=example,dc=org",
        "LDAP_BIND_DN": "cn=admin,dc=example,dc=org",
        "LDAP_SERVER_HOST": "ldap://ldap",
        "DOVECOT_PASS_ATTRS": "${kept}",
        "SASLAUTHD_LDAP_FILTER": "(uid=$U)",
        "ALT": "has-host",
    }
    assert service.hostname is not None and service.hostname.value == "mail.example.org"


def test_bare_key_inherits_from_dotenv(tmp_path: Path) -> None:
    # types/project.go: service.Environment.Resolve(project environment), which includes .env
    service = load(
        tmp_path,
        "services:\n  mail:\n    environment:\n      - LDAP_BIND_DN\n",
        files={".env": "LDAP_BIND_DN=cn=admin\n"},
    )
    assert env(service) == {"LDAP_BIND_DN": "cn=admin"}


def test_compose_disable_env_file(tmp_path: Path) -> None:
    # cli/options.go WithEnvFiles: COMPOSE_DISABLE_ENV_FILE (strconv.ParseBool)
    text = "services:\n  mail:\n    environment:\n      A: ${A-unset}\n"
    files = {".env": "A=from-dotenv\n"}
    assert env(load(tmp_path, text, files=files)) == {"A": "from-dotenv"}
    disabled = load(tmp_path, text, files=files, environ={"COMPOSE_DISABLE_ENV_FILE": "true"})
    assert env(disabled) == {"A": "unset"}
    assert error(tmp_path, text, environ={"COMPOSE_DISABLE_ENV_FILE": "maybe"}).where == "environment"


def test_unset_variable_warning(tmp_path: Path) -> None:
    # template.go: "The %q variable is not set. Defaulting to a blank string."
    service = load(tmp_path, "services:\n  mail:\n    environment:\n      - LDAP_SEARCH_BASE=${BASE}\n")
    assert env(service) == {"LDAP_SEARCH_BASE": ""}
    assert service.findings == (
        Finding(
            "warning",
            f"{tmp_path / 'compose.yaml'}:4",
            "the BASE variable is not set; compose substitutes a blank string",
        ),
    )


def test_required_variable_error(tmp_path: Path) -> None:
    failure = error(
        tmp_path,
        f"services:\n  mail:\n    environment:\n      - LDAP_BIND_PW={CANARY}${{PW:?set PW first}}\n",
    )
    assert str(failure) == (
        f"{tmp_path / 'compose.yaml'}:4: required variable PW is missing a value: set PW first "
        "(in services.mail.environment.[])"
    )


def test_interpolation_error_anywhere_fails_the_load(tmp_path: Path) -> None:
    # loader.go interpolates the whole file before it looks at any service
    failure = error(
        tmp_path,
        "services:\n  mail:\n    environment: [ACCOUNT_PROVISIONER=LDAP]\n  other:\n    image: x:${TAG?}\n",
    )
    assert failure.where == f"{tmp_path / 'compose.yaml'}:5"
    assert "required variable TAG" in failure.message


def test_invalid_interpolation_hides_the_value(tmp_path: Path) -> None:
    failure = error(tmp_path, f"services:\n  mail:\n    environment:\n      LDAP_BIND_PW: {CANARY}${{\n")
    assert failure.where == f"{tmp_path / 'compose.yaml'}:4"
    assert "invalid interpolation format for services.mail.environment.LDAP_BIND_PW" in failure.message
    assert CANARY not in str(failure)


def test_keys_are_not_interpolated(tmp_path: Path) -> None:
    service = load(tmp_path, "services:\n  mail:\n    environment:\n      $$A: ${B}\n", environ={"B": "b"})
    assert env(service) == {"$$A": "b"}


# --- env_file: (transform/envfile.go, types/project.go) -------------------------------------------


def test_env_file_forms_and_order(tmp_path: Path) -> None:
    service = load(
        tmp_path,
        """\
        services:
          mail:
            env_file:
              - one.env
              - path: sub/two.env
              - path: missing.env
                required: false
            environment:
              C: from-compose
        """,
        files={"one.env": "A=1\nB=1\nC=1\n", "sub/two.env": "B=2\nD=${A}-${C}\n"},
    )
    assert [(s.name, s.value, s.origin.kind) for s in service.settings] == [
        ("A", "1", "env-file"),
        ("B", "2", "env-file"),  # a later file wins
        # env files look up the project environment, then environment: (types/project.go)
        ("D", "1-from-compose", "env-file"),
        ("C", "from-compose", "compose"),  # environment: wins over env_file:
    ]
    assert service.settings[1].origin.location == f"{tmp_path / 'sub' / 'two.env'}:1"


def test_env_file_lookup_prefers_project_environment(tmp_path: Path) -> None:
    # types/project.go: "project.env has precedence doing interpolation", then environment:
    service = load(
        tmp_path,
        "services:\n  mail:\n    env_file: mail.env\n    environment:\n      X: from-compose\n",
        environ={"X": "from-environ"},
        files={"mail.env": "D=${X}\nX\n"},
    )
    assert env(service) == {"D": "from-environ", "X": "from-compose"}


def test_env_file_as_a_string(tmp_path: Path) -> None:
    service = load(tmp_path, "services:\n  mail:\n    env_file: mail.env\n", files={"mail.env": "A=1\n"})
    assert env(service) == {"A": "1"}


def test_env_file_missing_required(tmp_path: Path) -> None:
    # types/project.go loadEnvFile: "env file %s not found"
    failure = error(tmp_path, "services:\n  mail:\n    env_file:\n      - mail.env\n")
    assert str(failure) == f"{tmp_path / 'compose.yaml'}:4: env file {tmp_path / 'mail.env'} not found"


def test_env_file_bare_name_inherits_from_project_environment(tmp_path: Path) -> None:
    service = load(
        tmp_path,
        "services:\n  mail:\n    env_file: mail.env\n",
        files={"mail.env": "LDAP_BIND_DN\nLDAP_BIND_PW\n", ".env": "LDAP_BIND_DN=cn=admin\n"},
    )
    assert env(service) == {"LDAP_BIND_DN": "cn=admin"}


def test_unresolved_bare_key_drops_env_file_value(tmp_path: Path) -> None:
    # types/project.go: environment.OverrideBy(service.Environment) copies the nil of an
    # unresolved `- KEY` over the env file's value, so the container does not get it
    service = load(
        tmp_path,
        "services:\n  mail:\n    env_file: mail.env\n    environment:\n      - LDAP_BIND_PW\n",
        files={"mail.env": f"LDAP_BIND_PW={CANARY}\n"},
    )
    assert env(service) == {}
    assert service.findings[0].level == "warning"
    assert f"drops the value from {tmp_path / 'mail.env'}:1" in service.findings[0].message


def test_env_file_errors_carry_the_env_file_line(tmp_path: Path) -> None:
    failure = error(
        tmp_path,
        "services:\n  mail:\n    env_file: mail.env\n",
        files={"mail.env": f"A=1\nLDAP_BIND_PW='{CANARY}\n"},
    )
    assert failure.where == f"{tmp_path / 'mail.env'}:2"
    assert CANARY not in str(failure)


def test_env_file_unsupported_format(tmp_path: Path) -> None:
    failure = error(tmp_path, "services:\n  mail:\n    env_file:\n      - path: a.env\n        format: raw\n")
    assert "unsupported env_file format 'raw'" in failure.message


# --- service selection ----------------------------------------------------------------------------

TWO_SERVICES = """\
services:
  web:
    image: nginx
  mail:
    environment:
      ACCOUNT_PROVISIONER: LDAP
"""


def test_selects_the_ldap_service(tmp_path: Path) -> None:
    assert load(tmp_path, TWO_SERVICES, service=None).name == "mail"
    assert load(tmp_path, TWO_SERVICES, service="web").name == "web"


def test_unknown_service(tmp_path: Path) -> None:
    failure = error(tmp_path, TWO_SERVICES, service="mailserver")
    assert (
        str(failure) == f"{tmp_path / 'compose.yaml'}: no service 'mailserver'; the services are: web, mail"
    )


def test_no_ldap_service(tmp_path: Path) -> None:
    failure = error(
        tmp_path, "services:\n  web: {}\n  mail:\n    environment: [ENABLE_LDAP=1]\n", service=None
    )
    assert failure.message == (
        "no service sets ACCOUNT_PROVISIONER=LDAP (mail set ENABLE_LDAP=1, its old name); "
        "the services are: web, mail; name one"
    )


def test_several_ldap_services(tmp_path: Path) -> None:
    text = TWO_SERVICES + "  mail2:\n    environment: [ACCOUNT_PROVISIONER=LDAP]\n"
    failure = error(tmp_path, text, service=None)
    assert failure.message == "several services set ACCOUNT_PROVISIONER=LDAP: mail, mail2; name one"


def test_selection_sees_env_files(tmp_path: Path) -> None:
    service = load(
        tmp_path,
        "services:\n  web: {image: nginx}\n  mail:\n    env_file: mail.env\n",
        files={"mail.env": "ACCOUNT_PROVISIONER=LDAP\n"},
        service=None,
    )
    assert service.name == "mail"


# --- volumes (format/volume.go, paths/resolve.go) -------------------------------------------------


@pytest.mark.parametrize(
    ("volume", "expected"),
    [
        ("./config:/tmp/docker-mailserver", "config"),
        ("./config/:/tmp/docker-mailserver/:ro", "config"),
        ("../dms/config:/tmp/docker-mailserver", "../dms/config"),
        ("/srv/dms/config:/tmp/docker-mailserver", "/srv/dms/config"),
        ("~/dms:/tmp/docker-mailserver", "/home/me/dms"),
        ("${CONF:-./cfg}:/tmp/docker-mailserver", "cfg"),
        ("dms-config:/tmp/docker-mailserver", None),  # a named volume
        ("./config:/tmp/other", None),
    ],
)
def test_dms_config_dir_short_syntax(tmp_path: Path, volume: str, expected: str | None) -> None:
    service = load(
        tmp_path, f"services:\n  mail:\n    volumes:\n      - {volume}\n", environ={"HOME": "/home/me"}
    )
    if expected is None:
        assert service.dms_config_dir is None
    elif expected.startswith("/"):
        assert service.dms_config_dir == Path(expected)
    else:
        assert service.dms_config_dir == Path(os.path.normpath(tmp_path / expected))


def test_named_volume_for_config_is_reported(tmp_path: Path) -> None:
    service = load(tmp_path, "services:\n  mail:\n    volumes:\n      - dms:/tmp/docker-mailserver\n")
    assert service.dms_config_dir is None
    assert service.findings[0].level == "info"


def test_dms_config_dir_long_syntax(tmp_path: Path) -> None:
    text = """\
    services:
      mail:
        volumes:
          - type: volume
            source: data
            target: /var/mail
          - type: bind
            source: ./docker-data/config
            target: /tmp/docker-mailserver
    """
    assert load(tmp_path, text).dms_config_dir == tmp_path / "docker-data" / "config"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("/var/mail", ("", "/var/mail")),  # anonymous volume
        ("./a:/b", ("./a", "/b")),
        ("./a:/b:ro,z", ("./a", "/b")),
        ("c:/x:/b", ("c:/x", "/b")),  # a Windows drive letter is not a separator
        ("a::b", ("a:", "b")),  # ... nor is any colon after a single letter
        ("${A:-x}:/b", ("${A:-x}", "/b")),  # no split inside ${...}
    ],
)
def test_parse_short_volume(spec: str, expected: tuple[str, str]) -> None:
    assert parse_short_volume(spec) == expected


@pytest.mark.parametrize("spec", ["./a::/b", "./a:/b:ro:x"])
def test_parse_short_volume_errors(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_short_volume(spec)


def test_is_file_path() -> None:
    assert [is_file_path(s) for s in ("./a", "/a", "~/a", "c:\\a", "name", "")] == [True] * 4 + [False] * 2


# --- YAML: yaml/v4 rules and bad input -------------------------------------------------------------


def test_reset_tag_drops_a_value(tmp_path: Path) -> None:
    # loader/reset.go: `!reset` removes the value
    text = "services:\n  mail:\n    environment:\n      A: 1\n      B: !reset x\n"
    assert env(load(tmp_path, text)) == {"A": "1"}


def test_merge_key_explicit_wins(tmp_path: Path) -> None:
    text = """\
    x-env: &env
      A: from-anchor
      B: from-anchor
    services:
      mail:
        environment:
          <<: *env
          A: explicit
    """
    assert env(load(tmp_path, text)) == {"A": "explicit", "B": "from-anchor"}


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    # yaml/v4: mapping key "environment" already defined
    failure = error(tmp_path, "services:\n  mail:\n    environment: {}\n    environment: {}\n")
    assert (
        str(failure) == f'{tmp_path / "compose.yaml"}:4: mapping key "environment" already defined at line 3'
    )


def test_non_string_key_is_an_error(tmp_path: Path) -> None:
    # loader.go convertToStringKeysRecursive: "non-string key"
    failure = error(tmp_path, "services:\n  mail:\n    environment:\n      1: x\n")
    assert failure.message == "non-string key in services.mail.environment"


def test_bad_yaml(tmp_path: Path) -> None:
    failure = error(
        tmp_path,
        f"services:\n  mail:\n    environment:\n      - LDAP_BIND_PW={CANARY}\n     bad: [\n",
    )
    assert failure.where == f"{tmp_path / 'compose.yaml'}:5"
    assert failure.message.startswith("not valid YAML")
    assert CANARY not in str(failure)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    failure = error(tmp_path, "# comment\n- services\n")
    assert str(failure) == f"{tmp_path / 'compose.yaml'}:2: top-level object must be a mapping"


def test_no_services(tmp_path: Path) -> None:
    assert str(error(tmp_path, "volumes: {}\n")) == f"{tmp_path / 'compose.yaml'}:1: no services: section"


def test_empty_file(tmp_path: Path) -> None:
    assert error(tmp_path, "# nothing\n").message == "empty compose file"


def test_missing_compose_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_compose(tmp_path / "compose.yaml", None, {})
    assert str(caught.value) == f"{tmp_path / 'compose.yaml'}: compose file not found"


def test_non_utf8_compose_file(tmp_path: Path) -> None:
    content = b"services:\n  mail:\n    environment:\n      - LDAP_BIND_PW=" + CANARY.encode() + b"\xff\n"
    failure = error(tmp_path, "", files={"compose.yaml": content})
    assert str(failure) == f"{tmp_path / 'compose.yaml'}:4: compose file is not valid UTF-8"


def test_extends_is_reported(tmp_path: Path) -> None:
    text = "services:\n  base: {}\n  mail:\n    extends: base\n    environment: [ACCOUNT_PROVISIONER=LDAP]\n"
    service = load(tmp_path, text)
    assert service.findings[0].where == f"{tmp_path / 'compose.yaml'}:4"
    assert "extends: is not followed" in service.findings[0].message
