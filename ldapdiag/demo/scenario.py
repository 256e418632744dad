"""A scenario folder: the schema, directory and accounts of one realistic setup (see scenarios/README.md)."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import yaml

from ldapdiag.errors import InputError

SCHEMA_MANIFEST = "schema/schemas.txt"
STOCK_SCHEMA_DIRS = (Path("/etc/ldap/schema"), Path("/etc/openldap/schema"))


class ScenarioError(InputError):
    """A scenario folder that cannot be loaded."""


@dataclass(frozen=True)
class Scenario:
    """Everything a throwaway slapd needs to serve one scenario folder."""

    folder: Path
    base: str
    bind_dn: str
    schema_files: tuple[Path, ...]
    bind_password: str = field(repr=False)
    user_passwords: Mapping[str, str] = field(repr=False)

    @property
    def name(self) -> str:
        """The folder's name, e.g. basic-setup."""
        return self.folder.name

    @property
    def directory_ldif(self) -> Path:
        """The entries to load; the first one is the suffix."""
        return self.folder / "directory.ldif"

    @property
    def env_file(self) -> Path:
        """The docker-mailserver environment of this scenario."""
        return self.folder / "mailserver.env"


def load_scenario(folder: Path) -> Scenario:
    """Read and check a scenario folder."""
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise ScenarioError("not a scenario folder (no such directory)", where=str(folder))
    passwords = _read_passwords(folder / "passwords.yaml")
    bind = passwords.get("bind") or {}
    return Scenario(
        folder=folder,
        base=first_dn(folder / "directory.ldif"),
        bind_dn=_required(bind, "dn", folder / "passwords.yaml"),
        schema_files=tuple(schema_files(folder)),
        bind_password=_required(bind, "password", folder / "passwords.yaml"),
        user_passwords=MappingProxyType({str(k): str(v) for k, v in (passwords.get("users") or {}).items()}),
    )


def schema_files(folder: Path) -> Iterator[Path]:
    """The schema LDIF files named by the manifest, resolved, in load order."""
    manifest = folder / SCHEMA_MANIFEST
    if not manifest.is_file():
        raise ScenarioError("missing schema manifest", where=str(manifest))
    listed: set[Path] = set()
    for number, name in _manifest_names(manifest):
        path = _resolve_schema(folder / "schema", name)
        if not path.is_file():
            raise ScenarioError(f"schema {name!r} not found at {path}", f"{manifest}:{number}")
        listed.add(path)
        yield path
    unlisted = sorted(p.name for p in (folder / "schema").glob("*.ldif") if p not in listed)
    if unlisted:
        raise ScenarioError(f"schema files not listed: {', '.join(unlisted)}", str(manifest))


def stock_schema_dir() -> Path:
    """Where slapd's own schema LDIF files live ($LDAPDIAG_SCHEMA_DIR overrides)."""
    override = os.environ.get("LDAPDIAG_SCHEMA_DIR")
    if override:
        return Path(override)
    return next((d for d in STOCK_SCHEMA_DIRS if d.is_dir()), STOCK_SCHEMA_DIRS[0])


def first_dn(ldif: Path) -> str:
    """The DN of the first entry of an LDIF file (read up to that entry only)."""
    try:
        with ldif.open(encoding="utf-8") as stream:
            for line in _unfolded(stream):
                if line.lower().startswith("dn::"):
                    return base64.b64decode(line[4:].strip()).decode("utf-8")
                if line.lower().startswith("dn:"):
                    return line[3:].strip()
    except OSError as err:
        raise ScenarioError(f"cannot read: {err.strerror}", where=str(ldif)) from err
    raise ScenarioError("no entry (no dn: line)", where=str(ldif))


def _manifest_names(manifest: Path) -> Iterator[tuple[int, str]]:
    """(line number, name) for each non-comment line of the schema manifest."""
    for number, raw in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        name = raw.split("#", 1)[0].strip()
        if name:
            yield number, name


def _resolve_schema(local_dir: Path, name: str) -> Path:
    """A local file for names ending in .ldif, else slapd's stock NAME.ldif."""
    if name.endswith(".ldif"):
        return (local_dir / name).resolve()
    return stock_schema_dir() / f"{name}.ldif"


def _unfolded(raw_lines: Iterable[str]) -> Iterator[str]:
    """LDIF lines with continuations joined and comments dropped, one at a time."""
    pending: str | None = None
    in_comment = False
    for raw in raw_lines:
        raw = raw.rstrip("\r\n")
        if raw.startswith(" ") and (in_comment or pending is not None):
            if not in_comment and pending is not None:
                pending += raw[1:]
            continue
        in_comment = raw.startswith("#")
        if not in_comment:
            if pending is not None:
                yield pending
            pending = raw
    if pending is not None:
        yield pending


def _read_passwords(path: Path) -> dict:
    """The parsed passwords.yaml (bind: {dn, password}, users: {uid: password})."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ScenarioError(f"cannot read: {err.strerror}", where=str(path)) from err
    except yaml.YAMLError as err:  # its text may quote a password: name the line only
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ScenarioError("not valid YAML", where=where) from None
    if not isinstance(data, dict):
        raise ScenarioError("expected a mapping with bind: and users:", where=str(path))
    return data


def _required(section: Mapping, key: str, path: Path) -> str:
    """section[key] as a string, or a ScenarioError naming the missing key."""
    value = section.get(key)
    if not value:
        raise ScenarioError(f"bind.{key} is missing", where=str(path))
    return str(value)
