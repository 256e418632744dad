"""The container image and host conveniences (issue 13): one console script, shell completion, no colour.

No container runtime is needed: the Dockerfile is read, not built. Completion runs through
click's own mechanism, and once through a real bash with the generated script sourced.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LDAPDIAG = Path(sys.executable).parent / "ldapdiag"


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, `\\` continuations joined."""
    logical, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        logical.append(pending.strip())
        pending = ""
    return [(word.upper(), rest.strip()) for word, _, rest in (line.partition(" ") for line in logical)]


def test_the_image_runs_the_console_script() -> None:
    instructions = dockerfile_instructions((ROOT / "Dockerfile").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    entrypoints = [json.loads(args) for name, args in instructions if name == "ENTRYPOINT"]
    assert len(entrypoints) == 1, "one ENTRYPOINT, in exec form"
    assert entrypoints[0] == ["ldapdiag"]
    assert project["scripts"]["ldapdiag"] == "ldapdiag.entry:main"
    # the installed package's console script is the same entry point
    (installed,) = metadata.entry_points(group="console_scripts", name="ldapdiag")
    assert installed.value == project["scripts"]["ldapdiag"]
    # a slim Python 3.11 on Debian 12, as in the DMS v15 image; everything `pip install .` reads is copied
    assert instructions[0] == ("FROM", "python:3.11-slim-bookworm")
    copied = " ".join(args for name, args in instructions if name == "COPY")
    for needed in ("pyproject.toml", project["readme"], "ldapdiag"):
        assert needed in copied.split()
    assert any(name == "RUN" and "pip install ." in args for name, args in instructions)


def test_the_single_file_runs_the_same_function() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import build_pyz
    finally:
        sys.path.remove(str(ROOT / "tools"))
    assert "from ldapdiag.entry import main" in build_pyz.MAIN


def _complete(shell: str, words: str = "", cword: int = 0) -> str:
    env = {**os.environ, "_LDAPDIAG_COMPLETE": f"{shell}_{'source' if not words else 'complete'}"}
    if words:
        env |= {"COMP_WORDS": words, "COMP_CWORD": str(cword)}
    done = subprocess.run([str(LDAPDIAG)], env=env, capture_output=True, text=True, timeout=30, check=True)
    return done.stdout


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _ldapdiag_completion ldapdiag"),
        ("zsh", "#compdef ldapdiag"),
        ("fish", "complete --no-files --command ldapdiag"),
    ],
)
def test_completion_scripts(shell: str, marker: str) -> None:
    assert marker in _complete(shell)


def test_completion_answers_commands_options_and_choices() -> None:
    assert "plain,resolve" in _complete("bash", "ldapdiag res", 1).splitlines()
    assert "plain,--client" in _complete("bash", "ldapdiag resolve --cl", 2).splitlines()
    assert _complete("bash", "ldapdiag resolve --client ", 3).splitlines() == [
        "plain,external",
        "plain,mynetworks",
    ]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_completion_in_a_real_bash() -> None:
    script = (
        'eval "$(_LDAPDIAG_COMPLETE=bash_source ldapdiag)"; '
        "COMP_WORDS=(ldapdiag lo); COMP_CWORD=1; _ldapdiag_completion ldapdiag; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    env = {**os.environ, "PATH": f"{LDAPDIAG.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert done.stdout.split() == ["login", "lookup"], done.stderr


def _under_a_terminal(args: list[str]) -> bytes:
    """Everything a command writes when stdout and stderr are a terminal."""
    main, secondary = os.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "LDAPDIAG_ROOT")} | {"TERM": "xterm"}
    process = subprocess.Popen(args, stdin=secondary, stdout=secondary, stderr=secondary, env=env)
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the terminal's last writer exited
            break
        if not data:
            break
        chunks.append(data)
    process.wait(timeout=30)
    os.close(main)
    return b"".join(chunks)


def test_no_colour_even_on_a_terminal() -> None:
    """The README says ldapdiag prints no colour at all, so NO_COLOR and pipes need no special case."""
    assert (
        _under_a_terminal([sys.executable, "-c", "import sys; print(sys.stdout.isatty())"]).strip() == b"True"
    )
    config = ["--no-env", "--set", "ACCOUNT_PROVISIONER=LDAP", "--set", "LDAP_SERVER_HOST=ldap://ldap"]
    config += ["--set", "OVERRIDE_HOSTNAME=mail.example.org"]
    for args in (["--help"], ["resolve", "--help"], ["config", *config], ["lint", *config]):
        output = _under_a_terminal([str(LDAPDIAG), *args])
        assert output and b"\x1b" not in output, args
