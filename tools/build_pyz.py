"""Build dist/ldapdiag.pyz: ldapdiag and its pure-Python dependencies in one file (`make pyz`).

The file runs with nothing but a Python 3.11 (the one in the docker-mailserver v15 image,
Debian 12's `/usr/bin/python3`): no pip, no network, no site-packages (`python3 -I` works).

How: the standard library's `zipapp` (PEP 441). Python imports pure-Python modules straight
from a zip file, so the archive is ldapdiag's sources plus the files of each pure dependency,
copied from the environment this script runs in (the versions the installed package uses, so
both answer the same; no download). Compiled extensions cannot be imported from a zip: the two
compiled dependencies are left out and their features degrade with a one-line message:

- cryptography: certificate facts come from ldapdiag's own DER reader (directory/x509_der.py);
- argon2-cffi: ARGON2I/ARGON2ID password hashes cannot be checked (login says so, exit 2).

PyYAML ships a C accelerator beside its pure-Python code; only the pure part is copied (PyYAML
falls back to it by itself). Each module also gets a `.pyc` compiled by this interpreter next to
its source, which zipimport uses when the magic number matches (and ignores otherwise).

Usage: python tools/build_pyz.py [OUTPUT] (default dist/ldapdiag.pyz).
"""

from __future__ import annotations

import compileall
import re
import shutil
import sys
import tempfile
import zipapp
from importlib import metadata
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]
# distribution name -> why it is in or out of the single file
PURE = ("ldap3", "pyasn1", "click", "tabulate", "PyYAML")
LEFT_OUT = {
    "cryptography": "compiled; certificates are read by ldapdiag/directory/x509_der.py instead",
    "argon2-cffi": "compiled; ARGON2 password hashes cannot be checked in the single file",
}
COMPILED = (".so", ".pyd", ".dll", ".dylib")
INTERPRETER = "/usr/bin/env python3"
# The archive's entry point. `python3 -I` still puts the system's dist-packages on sys.path
# (Debian's python3-cryptography 38 is too old for ldapdiag): the single file uses only the
# standard library and its own copies, whatever the machine has installed.
MAIN = '''"""ldapdiag.pyz: ldapdiag and its pure-Python dependencies (tools/build_pyz.py)."""

import site
import sys

_installed = {*site.getsitepackages(), site.getusersitepackages()}
sys.path[:] = [
    p for p in sys.path if p not in _installed and not p.endswith(("site-packages", "dist-packages"))
]

from ldapdiag.entry import main  # noqa: E402

main()
'''


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0]


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def check_dependencies() -> None:
    """Every runtime requirement (ldapdiag's and the copied ones') is copied or named as left out."""
    known = {_normal(n) for n in (*PURE, *LEFT_OUT)}
    wanted = [_name(r) for r in _project_requirements()]
    for dist in PURE:
        wanted += [_name(r) for r in metadata.requires(dist) or () if "extra ==" not in r]
    unknown = sorted({n for n in wanted if _normal(n) not in known and not _platform_only(n)})
    if unknown:
        sys.exit(f"build_pyz: decide whether these go into the single file: {', '.join(unknown)}")


def _platform_only(name: str) -> bool:
    """click asks for colorama on Windows only."""
    return _normal(name) == "colorama"


def _project_requirements() -> list[str]:
    """`[project] dependencies` of pyproject.toml."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return list(project["dependencies"])


def copy_ldapdiag(staging: Path) -> None:
    """ldapdiag's own package from this checkout (sources only)."""
    shutil.copytree(
        ROOT / "ldapdiag", staging / "ldapdiag", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )


def copy_distribution(name: str, staging: Path) -> None:
    """The installed files of one pure distribution, without compiled extensions or scripts."""
    dist = metadata.distribution(name)
    for file in dist.files or ():
        path = PurePosixPath(str(file))
        if path.parts[0] in ("..", "bin") or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        if path.suffix in COMPILED or path.parts[0] == "_yaml":  # PyYAML's C accelerator and its shim
            continue
        if path.parts[0].endswith(".dist-info") and path.name in ("RECORD", "INSTALLER", "REQUESTED"):
            continue
        source = Path(str(file.locate()))
        target = staging.joinpath(*path.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def build(output: Path) -> Path:
    """Write the single-file build to `output`."""
    check_dependencies()
    with tempfile.TemporaryDirectory(prefix="ldapdiag-pyz-") as tmp:
        staging = Path(tmp) / "app"
        copy_ldapdiag(staging)
        for name in PURE:
            copy_distribution(name, staging)
        compiled = [p for p in staging.rglob("*") if p.suffix in COMPILED]
        if compiled:
            sys.exit(f"build_pyz: compiled files would end up in the single file: {compiled}")
        compileall.compile_dir(staging, quiet=1, legacy=True)
        (staging / "__main__.py").write_text(MAIN, encoding="utf-8")
        output.parent.mkdir(parents=True, exist_ok=True)
        zipapp.create_archive(staging, output, interpreter=INTERPRETER, compressed=True)
    return output


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "dist" / "ldapdiag.pyz"
    built = build(output)
    print(f"built {built} ({built.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
