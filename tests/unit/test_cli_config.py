"""`ldapdiag config` and the CLI contract: exit codes, one-line errors, secrets never printed."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from ldapdiag import __version__, help_text
from ldapdiag.cli import main

CANARY = "CANARY-pw-5b1c9e"
SEED = Path(__file__).parent.parent / "data" / "seed"


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def canary_env(tmp_path: Path) -> Path:
    path = tmp_path / "mailserver.env"
    secret = tmp_path / "secret"
    secret.write_text(CANARY + "\n")
    path.write_text(
        "ACCOUNT_PROVISIONER=LDAP\n"
        "LDAP_SERVER_HOST=ldap://ldap.example.org\n"
        "LDAP_SEARCH_BASE=dc=example,dc=org\n"
        "LDAP_BIND_DN=cn=admin,dc=example,dc=org\n"
        f"LDAP_BIND_PW__FILE={secret}\n"
        f"DOVECOT_DNPASS={CANARY}\n"
        "ENABLE_SASLAUTHD=1\n"
        f"SASLAUTHD_LDAP_BIND_DN=cn=sasl,dc=example,dc=org\n"
        f"RELAY_PASSWORD={CANARY}\n"
        "LDAP_QUERY_FILTER_USER=(mail=%s)\n"
    )
    return path


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and __version__ in out


def test_help_lists_every_command_with_a_summary() -> None:
    code, out, _ = run("--help")
    assert code == 0
    for command in main.list_commands(None):  # type: ignore[arg-type]
        line = next(line for line in out.splitlines() if line.strip().startswith(command + " "))
        assert len(line.split(None, 1)[1]) > 10


def test_python_dash_m_works() -> None:
    done = subprocess.run([sys.executable, "-m", "ldapdiag", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and __version__ in done.stdout


def _console_script(
    args: list[str],
    after: str = "",
    columns: int = 80,
    module: str = "entry",
    stdout: int | None = subprocess.PIPE,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """What the `ldapdiag` console script (entry.main; or cli.main) does with these arguments."""
    code = (
        f"import sys; sys.argv = ['ldapdiag', *{args!r}]\n"
        f"from ldapdiag.{module} import main\ntry: main()\nfinally: {after or 'pass'}"
    )
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run(
        [sys.executable, "-c", code],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=preexec_fn,
    )


CLICKS_IMPORTED = "sys.stderr.write(' '.join(m for m in sys.modules if m.startswith('click')))"


def test_the_console_script_answers_version_as_click_does_without_importing_click() -> None:
    """entry.py prints `--version` itself (issue 9, startup); click's version option has the last word."""
    done = _console_script(["--version"], CLICKS_IMPORTED)
    clicks = _console_script(["--version"], module="cli")
    assert (
        (done.returncode, done.stdout)
        == (clicks.returncode, clicks.stdout)
        == (0, f"ldapdiag, version {__version__}\n")
    )
    assert done.stderr == ""  # no click module was imported


@pytest.mark.parametrize("option", ["--help", "-h"])
def test_the_console_script_answers_help_as_click_does_without_importing_click(option: str) -> None:
    """entry.py prints help_text.MAIN_HELP; LDAPDIAG_UPDATE_HELP=1 rewrites it from click's rendering."""
    clicks = _console_script([option], module="cli")
    assert clicks.returncode == 0 and clicks.stdout.startswith("Usage: ldapdiag [OPTIONS] COMMAND")
    if os.environ.get("LDAPDIAG_UPDATE_HELP") == "1":
        kept = Path(help_text.__file__)
        head = kept.read_text(encoding="utf-8").split("MAIN_HELP = ")[0]
        kept.write_text(f'{head}MAIN_HELP = """\\\n{clicks.stdout}"""\n', encoding="utf-8")
        importlib.reload(help_text)
    assert clicks.stdout == help_text.MAIN_HELP, (
        "stale: LDAPDIAG_UPDATE_HELP=1 rewrites ldapdiag/help_text.py"
    )
    done = _console_script([option], CLICKS_IMPORTED)
    assert (done.returncode, done.stdout, done.stderr) == (0, clicks.stdout, "")


@pytest.mark.parametrize("option", ["--version", "--help"])
@pytest.mark.parametrize("stdout", ["closed", "broken pipe"])
def test_the_console_script_meets_a_missing_stdout_as_click_does(option: str, stdout: str) -> None:
    """No stdout: nothing printed, exit 0; a pipe nobody reads: exit 1; never a traceback."""
    codes = {}
    for module in ("entry", "cli"):
        if stdout == "closed":
            done = _console_script([option], module=module, stdout=None, preexec_fn=lambda: os.close(1))
        else:
            read, write = os.pipe()
            os.close(read)  # nobody will read: the first write meets EPIPE
            done = _console_script([option], module=module, stdout=write)
            os.close(write)
        codes[module] = (done.returncode, done.stderr)
    assert codes["entry"] == codes["cli"]
    assert codes["entry"][1] == ""


@pytest.mark.parametrize(
    ("args", "columns"),
    [(["--version", "--help"], 80), (["--help"], 60), (["-h"], 79), (["config", "--version"], 80)],
)
def test_the_console_script_hands_every_other_command_line_to_click(args: list[str], columns: int) -> None:
    done = _console_script(args, CLICKS_IMPORTED, columns)
    clicks = _console_script(args, module="cli", columns=columns)
    assert (done.returncode, done.stdout) == (clicks.returncode, clicks.stdout)
    assert "click.core" in done.stderr.split()


@pytest.mark.parametrize("output_format", ["text", "json"])
def test_config_never_prints_the_canary(canary_env: Path, output_format: str) -> None:
    code, out, err = run(
        "config",
        "--no-env",
        "--env-file",
        str(canary_env),
        "--format",
        output_format,
        "--set",
        "OVERRIDE_HOSTNAME=mail.example.org",
    )
    assert code in (0, 1)
    assert CANARY not in out and CANARY not in err
    assert "********" in out


def test_config_json_names_origins(canary_env: Path) -> None:
    _, out, _ = run(
        "config",
        "--no-env",
        "--env-file",
        str(canary_env),
        "--format",
        "json",
        "--set",
        "OVERRIDE_HOSTNAME=mail.example.org",
    )
    document = json.loads(out)
    users = next(f for f in document["files"] if f["path"] == "/etc/postfix/ldap-users.cf")
    query_filter = next(s for s in users["settings"] if s["key"] == "query_filter")
    assert query_filter["value"] == "(mail=%s)"
    assert query_filter["origin"] == f"{canary_env}:10 (LDAP_QUERY_FILTER_USER)"
    assert document["hostname"] == {"value": "mail.example.org", "origin": "--set (OVERRIDE_HOSTNAME)"}
    assert document["domainname"]["value"] == "example.org"


def test_config_text_shows_files_and_origins(canary_env: Path) -> None:
    code, out, _ = run(
        "config", "--no-env", "--env-file", str(canary_env), "--set", "OVERRIDE_HOSTNAME=mail.example.org"
    )
    assert code == 0
    assert "### /etc/postfix/ldap-users.cf" in out
    assert "### /etc/saslauthd.conf" in out
    line = next(line for line in out.splitlines() if line.startswith("query_filter = (mail=%s)"))
    assert line.endswith(f"# <- {canary_env}:10 (LDAP_QUERY_FILTER_USER)")


def test_environment_is_read_unless_no_env(canary_env: Path) -> None:
    env = {"LDAP_QUERY_FILTER_USER": "(uid=%u)", "OVERRIDE_HOSTNAME": "mail.example.org"}
    _, out, _ = run("config", "--env-file", str(canary_env), "--format", "json", env=env)
    users = next(f for f in json.loads(out)["files"] if f["path"] == "/etc/postfix/ldap-users.cf")
    assert next(s for s in users["settings"] if s["key"] == "query_filter")["value"] == "(uid=%u)"


def test_seed_example_reports_dms_startup_error() -> None:
    code, _, err = run(
        "config",
        "--no-env",
        "--env-file",
        str(SEED / "really-simple.env"),
        "--set",
        "OVERRIDE_HOSTNAME=mail.example.org",
    )
    assert code == 1
    assert "LDAP_SERVER_HOST must include the URI scheme" in err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("ACCOUNT_PROVISIONER=SQL\n", "ACCOUNT_PROVISIONER"),
        ("LDAP_SERVER_HOST=ldap://x\n", "ACCOUNT_PROVISIONER is FILE"),
        ("ENABLE_LDAP=1\n", "ENABLE_LDAP=1 is the pre-v13 name"),
    ],
)
def test_bad_provisioner_is_one_line_exit_2(tmp_path: Path, content: str, expected: str) -> None:
    env = tmp_path / "bad.env"
    env.write_text(content)
    code, out, err = run("config", "--no-env", "--env-file", str(env))
    assert code == 2
    assert expected in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out


def test_missing_env_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.env"
    code, _, err = run("config", "--no-env", "--env-file", str(missing))
    assert code == 2 and str(missing) in err and len(err.strip().splitlines()) == 1


def test_set_refuses_passwords() -> None:
    code, _, err = run("config", "--no-env", "--set", f"LDAP_BIND_PW={CANARY}")
    assert code == 2 and CANARY not in err and "LDAP_BIND_PW__FILE" in err


def test_set_garbage_is_not_echoed() -> None:
    code, _, err = run("config", "--no-env", "--set", CANARY)
    assert code == 2 and CANARY not in err


def _container_root(tmp_path: Path) -> Path:
    """A minimal container copy for --from-files: main.cf naming one LDAP table, dovecot wiring."""
    root = tmp_path / "root"
    (root / "etc/postfix").mkdir(parents=True)
    (root / "etc/dovecot").mkdir(parents=True)
    (root / "etc/postfix/main.cf").write_text(
        "myhostname = mail.example.org\nvirtual_mailbox_maps = ldap:/etc/postfix/ldap-users.cf\n"
    )
    (root / "etc/postfix/ldap-users.cf").write_text("server_host = ldap://ldap\nquery_filter = (mail=%s)\n")
    (root / "etc/dovecot/dovecot.conf").write_text(
        "userdb {\n  driver = ldap\n  args = /etc/dovecot/dovecot-ldap.conf.ext\n}\n"
    )
    (root / "etc/dovecot/dovecot-ldap.conf.ext").write_text("uris = ldap://ldap\nbase = dc=x\n")
    return root


BAD_INPUTS = {
    # name: (how to break it, the file:line the error must name)
    "env-unterminated-quote": ("env", b'ACCOUNT_PROVISIONER=LDAP\nLDAP_BIND_DN="cn=admin\n', "x.env:2"),
    "env-non-utf8": ("env", b"ACCOUNT_PROVISIONER=LDAP\nLDAP_BIND_DN=caf\xe9\n", "x.env:2"),
    "compose-bad-yaml": ("compose", b"services:\n  mail:\n    environment: [a\n", "compose.yaml:"),
    "postfix-non-utf8": ("postfix", b"server_host = ldap://ldap\nsearch_base = dc=\xff\n", "ldap-users.cf:2"),
}
# Files the component itself refuses: the configuration loads (the other components are fine),
# `config` says so as an error finding with the component's own text, and exits 1.
REFUSED_FILES = {
    "dovecot-unknown-key": (
        "etc/dovecot/dovecot-ldap.conf.ext",
        b"uris = ldap://ldap\nno_such_setting = 1\n",
        "dovecot's auth process refuses this file: ldap /etc/dovecot/dovecot-ldap.conf.ext: Error in "
        "configuration file /etc/dovecot/dovecot-ldap.conf.ext line 2: Unknown setting: no_such_setting",
    ),
    "postfix-missing-equals": (
        "etc/postfix/ldap-users.cf",
        b"server_host = ldap://ldap\nquery_filter\n",
        "postfix refuses this file: /etc/postfix/ldap-users.cf, line 2: missing '=' after attribute name: "
        '"query_filter"',
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_naming_file_and_line(tmp_path: Path, case: str) -> None:
    kind, content, where = BAD_INPUTS[case]
    if kind == "env":
        (tmp_path / "x.env").write_bytes(content)
        args = ["--env-file", str(tmp_path / "x.env")]
    elif kind == "compose":
        (tmp_path / "compose.yaml").write_bytes(content)
        args = ["--compose", str(tmp_path / "compose.yaml")]
    else:
        root = _container_root(tmp_path)
        target = "etc/dovecot/dovecot-ldap.conf.ext" if kind == "dovecot" else "etc/postfix/ldap-users.cf"
        (root / target).write_bytes(content)
        args = ["--from-files", str(root)]
    code, out, err = run("config", "--no-env", *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert where in err
    assert "Traceback" not in out + err


@pytest.mark.parametrize("case", sorted(REFUSED_FILES))
def test_a_file_its_component_refuses_is_an_error_finding(tmp_path: Path, case: str) -> None:
    target, content, message = REFUSED_FILES[case]
    root = _container_root(tmp_path)
    (root / target).write_bytes(content)
    code, out, err = run("config", "--no-env", "--from-files", str(root))
    assert code == 1
    assert message in err
    assert "Traceback" not in out + err
