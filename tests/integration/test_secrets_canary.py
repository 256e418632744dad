"""No secret ever leaves ldapdiag: canary passwords and hashes never show in any output.

A copy of scenarios/basic-setup whose every secret is a canary (the bind password, each user's
password, the userPassword hashes stored in the directory) is served by a throwaway slapd. Every
command runs against it in every output format (JUnit file included), with `--explain` where the
command has it and LDAPDIAG_DEBUG=1, all Python logging captured at DEBUG level, in two wirings:
`shared` (one bind password in the env file: every bind succeeds, so every success path runs) and
`separate` (postfix's from LDAP_BIND_PW__FILE, dovecot's and saslauthd's own, wrong, passwords:
every bind-failure path runs). No canary, nor its base64, hex or URL-encoded form, may appear in
stdout, stderr, the JUnit file or a log record.
tests/differential/test_dovecot_canary.py covers more password schemes for `login` alone.

The subprocess part: `ldapdiag demo --keep` on the canary scenario; while it serves, no canary is
in the argv, process title or environment of ldapdiag or of any process it started (slapd).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from ldapdiag.cli import main
from ldapdiag.demo import RunningDirectory, serve_scenario
from tests.ldap_server import BASIC_SETUP, missing_ldap_tools

pytestmark = pytest.mark.skipif(missing_ldap_tools() is not None, reason="slapd is not installed")

ROOT = Path(__file__).resolve().parents[2]
BIND_PW = "CANARY-bind-pw-4e1f9a"  # the directory's bind password (postfix, dovecot, saslauthd)
DOVECOT_PW = "CANARY-dovecot-dnpass-77b2"  # `separate` wiring: dovecot's own (wrong) bind password
SASL_PW = "CANARY-saslauthd-pw-c03d"  # `separate` wiring: saslauthd's own (wrong) bind password
WRONG_PW = "CANARY-wrong-user-pw-5a6e"  # a login with a wrong password
USER_PW = {
    "alice": "CANARY-alice-pw-19c0",
    "bob": "CANARY-bob-pw-2d8e",
    "carol": "CANARY-carol-pw-3f41",
    "dave": "CANARY-dave-pw-4b7a",
}
SALT = b"\x9c\x11canary"


def ssha(password: str) -> str:
    """RFC 2307 {SSHA}: base64(sha1(password + salt) + salt)."""
    digest = hashlib.sha1(password.encode() + SALT).digest()
    return "{SSHA}" + base64.b64encode(digest + SALT).decode()


def sha(password: str) -> str:
    """{SHA}: base64(sha1(password))."""
    return "{SHA}" + base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()


# What the directory stores for each account (the admin's hash makes the bind password work).
STORED = {
    "cn=admin,ou=users,dc=example,dc=org": ssha(BIND_PW),
    "uid=alice,ou=users,dc=example,dc=org": ssha(USER_PW["alice"]),
    "uid=bob,ou=users,dc=example,dc=org": sha(USER_PW["bob"]),
    "uid=carol,ou=users,dc=example,dc=org": ssha(USER_PW["carol"]),
    "uid=dave,ou=users,dc=example,dc=org": "{PLAIN}" + USER_PW["dave"],  # plaintext: itself a canary
}


def encodings(secret: str) -> set[str]:
    """The forms a leaked secret might take: as is, base64, hex (both cases), URL-encoded."""
    raw = secret.encode()
    forms = {secret, base64.b64encode(raw).decode().rstrip("="), raw.hex(), raw.hex().upper()}
    forms.add(urllib.parse.quote(secret, safe=""))
    return {form for form in forms if len(form) >= 8}


def hash_forms(stored: str) -> set[str]:
    """A stored hash: whole, without its {SCHEME}, and its decoded bytes in hex."""
    body = stored.split("}", 1)[1]
    forms = {stored, body}
    try:
        decoded = base64.b64decode(body, validate=True)
    except ValueError:
        decoded = b""
    if decoded:
        forms |= {decoded.hex(), decoded.hex().upper()}
    return {form for form in forms if len(form) >= 8}


CANARIES: dict[str, set[str]] = {
    "bind password": encodings(BIND_PW),
    "dovecot bind password": encodings(DOVECOT_PW),
    "saslauthd bind password": encodings(SASL_PW),
    "wrong user password": encodings(WRONG_PW),
    **{f"{uid}'s password": encodings(pw) for uid, pw in USER_PW.items()},
    **{f"hash of {dn.split(',')[0]}": hash_forms(value) for dn, value in STORED.items()},
}


def leaks(text: str) -> list[str]:
    """Which canaries `text` contains (a secret's name and the form found)."""
    return [f"{name}: {form!r}" for name, forms in CANARIES.items() for form in forms if form in text]


# ---------------------------------------------------------------------------------------------
# the canary scenario


def write_scenario(folder: Path) -> Path:
    """scenarios/basic-setup with canary secrets, in folder/canary."""
    target = folder / "canary"
    shutil.copytree(BASIC_SETUP, target)
    ldif = (target / "directory.ldif").read_text()
    out, current = [], None
    for line in ldif.splitlines():
        if line.startswith("dn: "):
            current = line[4:]
        if line.startswith("userPassword: "):
            line = f"userPassword: {STORED[current]}"
        out.append(line)
    (target / "directory.ldif").write_text("\n".join(out) + "\n")
    users = "\n".join(f"  {uid}: {pw}" for uid, pw in USER_PW.items())
    (target / "passwords.yaml").write_text(
        f"bind:\n  dn: cn=admin,ou=users,dc=example,dc=org\n  password: {BIND_PW}\nusers:\n{users}\n"
    )
    env = (
        (target / "mailserver.env").read_text().replace("LDAP_BIND_PW=mypassword", f"LDAP_BIND_PW={BIND_PW}")
    )
    assert BIND_PW in env
    (target / "mailserver.env").write_text(env)
    return target


@pytest.fixture(scope="module")
def canary_scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scenario(tmp_path_factory.mktemp("scenarios"))


@pytest.fixture(scope="module")
def canary_directory(canary_scenario: Path) -> Iterator[RunningDirectory]:
    with serve_scenario(canary_scenario) as directory:
        yield directory


@dataclass(frozen=True)
class Wiring:
    """The configuration options of one wiring (env file and --set)."""

    name: str
    options: tuple[str, ...]


@pytest.fixture(scope="module", params=["shared", "separate"])
def wiring(
    request: pytest.FixtureRequest,
    canary_scenario: Path,
    canary_directory: RunningDirectory,
    tmp_path_factory: pytest.TempPathFactory,
) -> Wiring:
    folder = tmp_path_factory.mktemp(f"wiring-{request.param}")
    env = (canary_scenario / "mailserver.env").read_text()
    if request.param == "separate":
        secret = folder / "bind.pw"
        secret.write_text(BIND_PW + "\n")
        env = env.replace(f"LDAP_BIND_PW={BIND_PW}", f"LDAP_BIND_PW__FILE={secret}")
        env += f"DOVECOT_DNPASS={DOVECOT_PW}\nSASLAUTHD_LDAP_PASSWORD={SASL_PW}\n"
    env_file = folder / "mailserver.env"
    env_file.write_text(env)
    options = (
        "--no-env",
        "--env-file",
        str(env_file),
        "--set",
        f"LDAP_SERVER_HOST={canary_directory.ldap_url}",
        "--set",
        "OVERRIDE_HOSTNAME=mail.example.org",
    )
    return Wiring(request.param, options)


# ---------------------------------------------------------------------------------------------
# every command, every format


def has_option(command: str, option: str) -> bool:
    """Whether `ldapdiag COMMAND --help` lists the option (e.g. --explain, added command by command)."""
    result = CliRunner().invoke(main, [command, "--help"])
    return option in result.output


# (command, arguments, formats, takes a password): ca-file and format are added per run.
COMMANDS: list[tuple[str, tuple[str, ...], tuple[str, ...], bool]] = [
    ("config", (), ("text", "json"), False),
    ("check", (), ("table", "json"), False),
    ("lookup", ("users", "alice@example.org", "nobody@example.org"), ("text", "json"), False),
    ("lookup", ("senders", "info@example.org"), ("text", "json"), False),
    ("resolve", ("info@example.org", "nobody@example.org", "team@example.org"), ("table", "json"), False),
    ("send-as", ("alice@example.org", "alice@example.org", "bob@example.org"), ("table", "json"), False),
    ("login", ("alice@example.org",), ("text", "json"), True),
    ("login", ("dave.davis@example.org",), ("text", "json"), True),
    ("user", ("alice@example.org",), ("text", "json"), False),
    ("lint", ("--server",), ("standard", "parsable", "github", "json"), False),
    ("run", (), ("text", "json"), False),
    ("audit", (), ("text", "json"), False),  # issue 10's audit command, when present
]
CONNECTING = {"check", "lookup", "resolve", "send-as", "login", "user", "lint", "run", "audit"}
DEBUG_FLAGS = ("--explain", "--verbose", "--debug")  # whichever a command has


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str
    files: str
    logs: str


def run_cli(args: list[str], stdin: str | None, caplog: pytest.LogCaptureFixture) -> Outcome:
    """Run ldapdiag in-process with LDAPDIAG_DEBUG=1 and every logger at DEBUG."""
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        result = CliRunner().invoke(main, args, input=stdin, env={"LDAPDIAG_DEBUG": "1"})
    logs = "\n".join(f"{r.name}: {r.getMessage()} {r.args!r}" for r in caplog.records)
    return Outcome(result.exit_code, result.stdout, result.stderr, "", logs)


@pytest.mark.parametrize(("command", "arguments", "formats", "password"), COMMANDS, ids=lambda v: str(v))
def test_no_canary_in_any_output(
    command: str,
    arguments: tuple[str, ...],
    formats: tuple[str, ...],
    password: bool,
    wiring: Wiring,
    canary_scenario: Path,
    canary_directory: RunningDirectory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if not has_option(command, "--format"):
        pytest.skip(f"ldapdiag has no {command} command yet")
    flags = [flag for flag in DEBUG_FLAGS if has_option(command, flag)]
    ran = 0
    for output in formats:
        for secret_input in ("file", "stdin") if password else (None,):
            for login_pw in (USER_PW["alice"], WRONG_PW) if password else (None,):
                args = [command, *arguments, "--format", output, *flags, *wiring.options]
                if command in CONNECTING:
                    args += ["--ca-file", str(canary_directory.ca_file)]
                stdin = None
                if login_pw is not None and secret_input == "file":
                    secret = tmp_path / "user.pw"
                    secret.write_text(login_pw + "\n")
                    args += ["--password-file", str(secret)]
                elif login_pw is not None:
                    args.append("--password-stdin")
                    stdin = login_pw + "\n"
                junit = tmp_path / f"junit-{output}.xml"
                if command == "run":
                    args += ["--junit", str(junit), str(canary_scenario / "expect.yaml")]
                outcome = run_cli(args, stdin, caplog)
                assert outcome.exit_code in (0, 1, 2), (args, outcome.stderr)
                assert "Traceback" not in outcome.stderr and "internal error" not in outcome.stderr, args
                files = junit.read_text() if junit.exists() else ""
                if command == "run":
                    assert "<testsuite" in files
                for where, text in (
                    ("stdout", outcome.stdout),
                    ("stderr", outcome.stderr),
                    ("junit", files),
                    ("logging", outcome.logs),
                ):
                    assert leaks(text) == [], f"{shlex_join(args)}: canary in {where}"
                ran += 1
    assert ran


def shlex_join(args: list[str]) -> str:
    import shlex

    return shlex.join(args)


def test_canaries_reach_the_engines(
    wiring: Wiring, canary_directory: RunningDirectory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The test can fail: the canaries really are read and used. With alice's canary password her
    SMTP AUTH (saslauthd binds as her entry) succeeds, with a wrong one it fails; in `separate`,
    saslauthd's own wrong canary bind password makes its search fail."""
    outputs = {}
    for pw in (USER_PW["alice"], WRONG_PW):
        secret = tmp_path / "pw"
        secret.write_text(pw + "\n")
        args = ["login", "alice@example.org", "--password-file", str(secret)]
        args += [*wiring.options, "--ca-file", str(canary_directory.ca_file)]
        outputs[pw] = run_cli(args, None, caplog).stdout
    smtp = {pw: text.split("SMTP AUTH", 1)[1] for pw, text in outputs.items()}
    if wiring.name == "shared":
        assert "result: OK" in smtp[USER_PW["alice"]], outputs
        assert "invalid credentials" in smtp[WRONG_PW], outputs
    else:
        assert "result: OK" not in smtp[USER_PW["alice"]], outputs
        assert "cn=admin" in smtp[USER_PW["alice"]], outputs  # the bind as saslauthd's DN fails
    # and leaks() finds a canary where there is one
    assert leaks(f"x {base64.b64encode(BIND_PW.encode()).decode()} y")
    assert leaks(STORED["uid=alice,ou=users,dc=example,dc=org"].split("}", 1)[1])


# ---------------------------------------------------------------------------------------------
# argv, process titles and environments of ldapdiag and what it starts


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def _process_text(pid: int) -> str:
    """argv, process title (comm) and environment of a process."""
    parts = []
    for name in ("cmdline", "comm", "environ"):
        try:
            parts.append(
                (Path("/proc") / str(pid) / name).read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            )
        except OSError:
            continue
    return "\n".join(parts)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_no_canary_in_argv_or_titles_of_started_processes(canary_scenario: Path, tmp_path: Path) -> None:
    """`ldapdiag demo --keep`: ldapdiag and the slapd it starts carry no secret in argv or title."""
    ldapdiag = Path(sys.executable).with_name("ldapdiag")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LDAP_", "DOVECOT", "SASLAUTHD"))}
    env["LDAPDIAG_SCENARIOS"] = str(canary_scenario.parent)
    log = tmp_path / "demo.out"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [str(ldapdiag), "demo", "canary", "--keep"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # Ctrl-C works (see below)
        )
    try:
        deadline = time.monotonic() + 120
        while b"Ctrl-C" not in log.read_bytes() and demo.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert demo.poll() is None, log.read_text(errors="replace")
        pids = _descendants(demo.pid)
        commands = {pid: _process_text(pid) for pid in pids}
        assert any("slapd" in text for text in commands.values()), commands  # the demo's slapd
        for pid, text in commands.items():
            assert leaks(text) == [], f"process {pid}: {text[:200]}"
    finally:  # a suite started in the background of a shell ignores SIGINT; the demo must not
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
    output = log.read_text(errors="replace")
    assert "ldapdiag demo: scenario canary" in output
    assert leaks(output) == []


def test_only_the_demo_starts_processes() -> None:
    """Outside ldapdiag/demo no module starts a process (so no other argv can carry a secret)."""
    pattern = re.compile(r"\b(subprocess|os\.exec\w*|os\.spawn\w*|os\.system|os\.popen|pty\.spawn)\b")
    starting = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "ldapdiag").rglob("*.py")
        if "demo" not in path.relative_to(ROOT / "ldapdiag").parts and pattern.search(path.read_text())
    ]
    assert starting == []
