"""Golden outputs of the readable renderings, and `--explain` keeping secrets out.

Each case runs ldapdiag for real (click's runner) against the suite's basic-setup slapd
(scenarios/basic-setup, tests/ldap_server.py) and compares stdout, with the volatile parts
normalized (the slapd's port, temporary paths, the checkout's path), to tests/golden/NAME.txt.
slapd is reached through a relay on a 5-digit port (Relay): the widths never depend on its port.
Any difference fails with a diff. `LDAPDIAG_UPDATE_GOLDEN=1` rewrites the files instead
(see tests/golden/README.md); read the diff before committing them.

The secrets test runs every `--explain` command with a bind password read from a
LDAP_BIND_PW__FILE and a user password from --password-file, once with the real ones and once
with canaries, and checks that neither (nor a password hash of the directory) appears anywhere.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ldapdiag.cli import main
from ldapdiag.demo import RunningDirectory
from tests.ldap_server import BASIC_SETUP, requires_slapd
from tests.relay import Relay

pytestmark = requires_slapd

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
REPO = Path(__file__).resolve().parents[2]
UPDATE = os.environ.get("LDAPDIAG_UPDATE_GOLDEN") == "1"
ALICE_PASSWORD = "alice-in-wonderland"
WIDTH = 100

# name -> (command line after `ldapdiag`, without the configuration options); {pw}: alice's password file
CASES: dict[str, list[str]] = {
    "resolve": ["resolve", "info@example.org", "nobody@example.org", "someone@example.com"],
    "resolve-explain": ["resolve", "info@example.org", "nobody@example.org", "--explain"],
    "send-as": ["send-as", "alice@example.org", "alice@example.org", "bob@example.org", "info@example.org"],
    "send-as-explain": ["send-as", "alice@example.org", "bob@example.org", "--explain"],
    # dovecot SASL (no saslauthd): the passdb lookup that gives postfix its sasl_username comes first
    "send-as-explain-dovecot": [
        "send-as",
        "alice@example.org",
        "bob@example.org",
        "--set",
        "ENABLE_SASLAUTHD=0",
        "--explain",
    ],
    "login": ["login", "alice@example.org", "--password-file", "{pw}"],
    "login-explain": ["login", "alice@example.org", "--password-file", "{pw}", "--explain"],
    "login-explain-no-password": ["login", "dave@example.org", "--explain"],
    "user-explain": ["user", "alice@example.org", "--explain"],
    "lookup-explain": ["lookup", "virtual_alias_maps", "team@example.org", "nobody@example.org", "--explain"],
    "check": ["check"],
}


def config_args(directory: RunningDirectory, env_file: Path = BASIC_SETUP / "mailserver.env") -> list[str]:
    return [
        "--no-env",
        "--env-file",
        str(env_file),
        "--set",
        f"LDAP_SERVER_HOST={directory.ldap_url}",
        "--set",
        "OVERRIDE_HOSTNAME=mail.example.org",
    ]


def run(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, args)
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.stdout, result.stderr


def normalize(text: str, directory: RunningDirectory, tmp_path: Path) -> str:
    """Ports, temporary paths and the checkout's path replaced by fixed names."""
    text = text.replace(str(tmp_path), "TMP").replace(str(REPO), "REPO")
    text = text.replace(str(directory.ca_file.parent.parent), "SLAPD") if directory.ca_file else text
    return re.sub(r"(127\.0\.0\.1|localhost):\d+", r"\1:PORT", text)


def too_wide(text: str) -> list[str]:
    """Lines of the --explain part over WIDTH columns that hold more than one unbreakable word."""
    _, _, explain = text.partition("\n--explain:")
    bad = []
    for line in explain.splitlines():
        words = line.strip().removeprefix("$ ").removesuffix(" \\").split(" ")
        if len(line) > WIDTH and len(words) > 1 and not _one_unit(words):
            bad.append(line)
    return bad


def _one_unit(words: list[str]) -> bool:
    """An option with its value (`-b DN`), or one labelled value (`filter (...)`): cannot break."""
    return len(words) == 2 and (words[0].startswith("-") or words[0] in ("filter", "base", "bind"))


@pytest.fixture(scope="module")
def golden_directory(basic_setup_directory: RunningDirectory) -> Iterator[RunningDirectory]:
    """The suite's basic-setup slapd, reached through a Relay on a 5-digit port."""
    relay = Relay(basic_setup_directory.ldap_url, five_digit_port=True)
    try:
        yield dataclasses.replace(basic_setup_directory, ldap_url=relay.url)
    finally:
        relay.kill()


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_output(name: str, golden_directory: RunningDirectory, tmp_path: Path) -> None:
    assert len(golden_directory.ldap_url.rsplit(":", 1)[1]) == 5
    password = tmp_path / "alice.pw"
    password.write_text(ALICE_PASSWORD)
    args = [arg.format(pw=password) for arg in CASES[name]]
    code, stdout, _ = run([*args, *config_args(golden_directory)])
    actual = f"$ ldapdiag {' '.join(CASES[name])}\n(exit {code})\n" + normalize(
        stdout, golden_directory, tmp_path
    )
    assert too_wide(stdout) == []
    path = GOLDEN / f"{name}.txt"
    if UPDATE:
        path.write_text(actual)
        return
    assert path.is_file(), f"{path} is missing: run with LDAPDIAG_UPDATE_GOLDEN=1 (tests/golden/README.md)"
    expected = path.read_text()
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True), actual.splitlines(keepends=True), str(path), "actual"
        )
    )
    assert actual == expected, f"rendering changed (LDAPDIAG_UPDATE_GOLDEN=1 to accept):\n{diff}"


EXPLAIN_RUNS = [
    ["resolve", "info@example.org", "nobody@example.org"],
    ["send-as", "alice@example.org", "bob@example.org"],
    ["login", "alice@example.org", "--password-file", "{pw}"],
    ["user", "alice@example.org"],
    ["lookup", "aliases", "info@example.org"],
]


@pytest.mark.parametrize("canary", [False, True], ids=["real-secrets", "canaries"])
def test_explain_never_shows_secrets(
    canary: bool, basic_setup_directory: RunningDirectory, tmp_path: Path
) -> None:
    bind_password = "CANARY-bind-pw-91e4" if canary else basic_setup_directory.password_file.read_text()
    user_password = "CANARY-user-pw-5c2d" if canary else ALICE_PASSWORD
    bind_file = tmp_path / "bind.pw"
    bind_file.write_text(bind_password + "\n")
    user_file = tmp_path / "user.pw"
    user_file.write_text(user_password)
    env = [
        line
        for line in (BASIC_SETUP / "mailserver.env").read_text().splitlines()
        if "LDAP_BIND_PW=" not in line
    ]
    env_file = tmp_path / "mailserver.env"
    env_file.write_text("\n".join([*env, f"LDAP_BIND_PW__FILE={bind_file}"]) + "\n")
    hashes = re.findall(r"^userPassword: (\S+)", (BASIC_SETUP / "directory.ldif").read_text(), re.M)
    secrets = [bind_password, user_password, *hashes]
    outputs = []
    for command in EXPLAIN_RUNS:
        args = [arg.format(pw=user_file) for arg in command]
        for output_format in ([], ["--format", "json"]):
            _, stdout, stderr = run(
                [*args, "--explain", *output_format, *config_args(basic_setup_directory, env_file)]
            )
            outputs.append(stdout + stderr)
            assert "--explain:" in stdout or '"explain"' in stdout
    text = "\n".join(outputs)
    assert [secret for secret in secrets if secret in text] == []
    # dovecot and saslauthd read the bind password from the file, so their ldapsearch names it;
    # DMS leaves postfix's maps the template's password: their bind fails, no search is sent
    assert "Unable to bind to server" in text
    if not canary:  # (with the canary, every bind fails: nothing is searched)
        assert f"-y {bind_file}" in text
    assert f'-p "$(cat {user_file})"' in text


def test_explained_ldapsearch_commands_find_the_same_entries(
    basic_setup_directory: RunningDirectory, tmp_path: Path
) -> None:
    """Each ldapsearch --explain prints, pasted into sh (the placeholder replaced by the bind
    password file), finds the DNs the explanation lists; a key with a quote tests the quoting."""
    import json

    from tests.ldap_server import dns_of, paste_explained

    keys = ["team@example.org", "o'brien@example.org", "info@example.org"]
    args = ["lookup", "virtual_alias_maps", *keys, "--explain", "--format", "json"]
    _, stdout, _ = run([*args, *config_args(basic_setup_directory)])
    queries = [q for item in json.loads(stdout) for lookup in item["explain"] for q in lookup["queries"]]
    assert len(queries) == 5 and any("'" in q["filter"] for q in queries)
    for query in queries:
        result = paste_explained(query["ldapsearch"], basic_setup_directory)
        assert result.returncode == 0, f"{query['ldapsearch']}: {result.stderr}"
        assert dns_of(result.stdout) == query["entries"], query["ldapsearch"]
