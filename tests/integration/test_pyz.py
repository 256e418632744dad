"""The single-file build answers exactly as the installed package does (issue 13).

`make pyz` builds ldapdiag.pyz once per session; the file is copied into a fresh directory and
run by Debian's own interpreter, isolated (`/usr/bin/python3 -I`: no site-packages, no user
site, no PYTHON* variables), as `docker exec mailserver python3 /tmp/ldapdiag.pyz` runs it in the
DMS v15 image. Each command's stdout, stderr and exit code must equal the installed console
script's, against the suite's basic-setup slapd.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ldapdiag.config.load import load_config
from ldapdiag.config.sources import SourceOptions
from ldapdiag.demo import RunningDirectory
from tests.ldap_server import BASIC_SETUP, requires_slapd
from tests.unit.test_from_files import write_container_copy

ROOT = Path(__file__).resolve().parents[2]
DEBIAN_PYTHON = Path("/usr/bin/python3")
INSTALLED = Path(sys.executable).parent / "ldapdiag"

pytestmark = [
    requires_slapd,
    pytest.mark.skipif(
        shutil.which("make") is None, reason="make is not installed (./bootstrap test installs it)"
    ),
    pytest.mark.skipif(not DEBIAN_PYTHON.is_file(), reason="/usr/bin/python3 is not installed"),
]


@pytest.fixture(scope="module")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`make pyz` into a build directory, then the file alone in a fresh directory."""
    built = tmp_path_factory.mktemp("build") / "ldapdiag.pyz"
    subprocess.run(
        ["make", "-s", "-C", str(ROOT), "pyz", f"PYZ={built}", f"PYTHON={sys.executable}"],
        check=True,
        capture_output=True,
    )
    fresh = tmp_path_factory.mktemp("fresh") / "ldapdiag.pyz"
    shutil.copy(built, fresh)
    yield fresh


def _environment(tmp: Path) -> dict[str, str]:
    """No inherited LDAP* or LDAPDIAG* settings; HOME in a throwaway place."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LDAP", "PYTHON"))}
    env["HOME"] = str(tmp)
    return env


def _run(command: list[str], cwd: Path, **extra_env: str) -> tuple[object, str, int]:
    env = {**_environment(cwd), **extra_env}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    return _comparable(done.stdout), done.stderr, done.returncode


def _comparable(stdout: str) -> object:
    """The JSON document without what differs between any two runs: operation durations, and
    the order of `check`'s trace (its components are checked in parallel)."""
    if not stdout.startswith(("{", "[")):
        return stdout
    document = json.loads(stdout, object_hook=lambda d: {k: v for k, v in d.items() if k != "duration_ms"})
    if isinstance(document, dict) and isinstance(document.get("trace"), list):
        document["trace"] = sorted(document["trace"], key=lambda event: json.dumps(event, sort_keys=True))
    return document


def _config(directory: RunningDirectory, *extra: str) -> list[str]:
    return [
        "--no-env",
        "--env-file",
        str(BASIC_SETUP / "mailserver.env"),
        "--set",
        f"LDAP_SERVER_HOST={directory.ldap_url}",
        "--set",
        "OVERRIDE_HOSTNAME=mail.example.org",
        *extra,
    ]


def _cases(directory: RunningDirectory, password: Path) -> dict[str, list[str]]:
    assert directory.ca_file is not None
    return {
        "version": ["--version"],
        "check": ["check", "--format", "json", *_config(directory)],
        "check-starttls": [
            "check",
            "--format",
            "json",
            "--ca-file",
            str(directory.ca_file),
            *_config(directory, "--set", "LDAP_START_TLS=yes", "--set", "DOVECOT_TLS=yes"),
        ],
        "resolve": [
            "resolve",
            "--format",
            "json",
            "info@example.org",
            "nobody@example.org",
            "someone@example.com",
            *_config(directory),
        ],
        "login": [
            "login",
            "alice@example.org",
            "--password-file",
            str(password),
            "--format",
            "json",
            *_config(directory),
        ],
    }


CASES = ["version", "check", "check-starttls", "resolve", "login"]


@pytest.mark.parametrize("case", CASES)
def test_pyz_answers_as_the_installed_package(
    case: str, pyz: Path, basic_setup_directory: RunningDirectory, tmp_path: Path
) -> None:
    password = tmp_path / "pw"
    password.write_text("alice-in-wonderland\n")
    args = _cases(basic_setup_directory, password)[case]
    from_pyz = _run([str(DEBIAN_PYTHON), "-I", str(pyz), *args], pyz.parent)
    installed = _run([str(INSTALLED), *args], tmp_path)
    assert "Traceback" not in from_pyz[1]
    assert from_pyz == installed
    if case == "version":
        assert str(from_pyz[0]).startswith("ldapdiag, version ")
    if case == "check-starttls":  # the certificate facts come from the pure-Python reader in the pyz
        assert isinstance(from_pyz[0], dict)
        certificate = from_pyz[0]["components"][0]["tls"]["certificate"]
        assert certificate["subject"].startswith("OU=") and certificate["names"] == ["localhost", "127.0.0.1"]


def test_pyz_has_no_compiled_code(pyz: Path) -> None:
    """Nothing the bare interpreter could not import from a zip."""
    import zipfile

    names = zipfile.ZipFile(pyz).namelist()
    assert "ldapdiag/cli.py" in names and "ldap3/__init__.py" in names and "yaml/__init__.py" in names
    assert not [n for n in names if n.endswith((".so", ".pyd"))]
    assert not [n for n in names if n.startswith(("cryptography/", "argon2/", "_cffi"))]


def test_pyz_inside_a_container_reads_its_files(
    pyz: Path, basic_setup_directory: RunningDirectory, tmp_path: Path
) -> None:
    """`docker exec mailserver python3 /tmp/ldapdiag.pyz resolve ...`: no option, the container's files."""
    options = SourceOptions(
        env_files=(BASIC_SETUP / "mailserver.env",),
        use_environment=False,
        sets=(f"LDAP_SERVER_HOST={basic_setup_directory.ldap_url}", "OVERRIDE_HOSTNAME=mail.example.org"),
    )
    root = tmp_path / "container"
    write_container_copy(load_config(options, {}), root)
    args = ["resolve", "--format", "json", "info@example.org", "nobody@example.org"]
    from_pyz = _run([str(DEBIAN_PYTHON), "-I", str(pyz), *args], pyz.parent, LDAPDIAG_ROOT=str(root))
    installed = _run([str(INSTALLED), *args, "--from-files", str(root)], tmp_path)
    assert (
        from_pyz[1]
        .splitlines()[0]
        .startswith(
            f"ldapdiag: inside a docker-mailserver container: reading the files DMS generated under {root} "
        )
    )
    assert (from_pyz[0], from_pyz[2]) == (installed[0], installed[2])
    assert isinstance(from_pyz[0], list) and [a["verdict"] for a in from_pyz[0]] == ["deliver", "reject"]
