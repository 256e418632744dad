"""Read one service of a compose file the way docker compose v2 does.

Mirrors compose-go v2.13 (github.com/compose-spec/compose-go) and the YAML library it uses
(go.yaml.in/yaml/v4). Each rule names its source:

- `cli/options.go` WithEnvFiles / WithDotEnv: the project `.env` beside the compose file, skipped
  when COMPOSE_DISABLE_ENV_FILE is true; the process environment wins over it (`Mapping.Merge`).
- `loader/loader.go` loadYamlFile: the top level must be a mapping; every string in the file is
  interpolated (`interpolation/interpolation.go`, `template/template.go`) before anything else.
  Mapping keys are not interpolated and must be strings (`convertToStringKeysRecursive`).
- yaml/v4 `resolve.go`: which plain scalars are strings (YAML 1.2 style: `yes`, `on` stay strings;
  `012` is octal, `1_000` is 1000) and `fmt.Sprint` for how a number or boolean reaches the
  environment (`types/mapping.go` mappingValue). Duplicate keys are an error; `<<` merges.
- `loader/reset.go`: a value tagged `!reset` is dropped.
- `types/mapping.go` MappingWithEquals.DecodeMapstructure: `environment:` as a list
  (`KEY=VALUE`, `KEY`) or a mapping (`KEY: value`, `KEY:` null).
- `types/project.go` WithServicesEnvironmentResolved / loadEnvFile, `transform/envfile.go`:
  `env_file:` entries, read in order into one map, then `environment:` wins; a `KEY` without a
  value takes the project environment's value, and when it has none the variable is left unset
  even if an env file set it.
- `format/volume.go` ParseVolume, `paths/resolve.go`, `paths/home.go`: volume syntax, relative
  paths against the compose file's directory, and `~`.

Left out: several compose files and override merging, `extends:`, `include:`, several YAML
documents in one file, `volumes_from:`, named volumes bound with `driver_opts`, and the schema
validation. A plain scalar that looks like a date (`2024-01-31`) is kept as text; yaml/v4 makes
it a time value, which compose would print differently or reject.
"""

from __future__ import annotations

import math
import os
import posixpath
import re
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from ldapdiag.config.envfile import (
    MissingRequiredError,
    TemplateError,
    parse_env_file,
    read_utf8,
    substitute,
    value_findings,
)
from ldapdiag.config.origin import Finding, Origin
from ldapdiag.config.settings import Setting, is_secret_variable
from ldapdiag.errors import InputError

DMS_CONFIG_TARGET = "/tmp/docker-mailserver"

_PLAIN = "tag:ldapdiag:plain"  # an untagged plain scalar, typed later by yaml/v4's rules
_STR = "tag:yaml.org,2002:str"
_YAML_TAG_PREFIX = "tag:yaml.org,2002:"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_SPECIAL = {
    "true": "true", "True": "true", "TRUE": "true",
    "false": "false", "False": "false", "FALSE": "false",
    ".nan": "NaN", ".NaN": "NaN", ".NAN": "NaN",
    ".inf": "+Inf", ".Inf": "+Inf", ".INF": "+Inf",
    "+.inf": "+Inf", "+.Inf": "+Inf", "+.INF": "+Inf",
    "-.inf": "-Inf", "-.Inf": "-Inf", "-.INF": "-Inf",
    "-0": "-0", "-0.0": "-0",
}  # fmt: skip
_GO_INT = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)")
_YAML_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?")
_GO_BOOL = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
            "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}  # fmt: skip
_GO_SPACE = "\t\n\v\f\r \x85\xa0"
_MAX_NODE_VISITS = 100_000


@dataclass(frozen=True)
class ComposeService:
    """One compose service as the container would get it."""

    name: str
    compose_file: Path
    settings: tuple[Setting, ...]  # env_file entries first, then environment: (which wins)
    findings: tuple[Finding, ...]
    hostname: Setting | None  # compose `hostname:`
    domainname: Setting | None  # compose `domainname:`
    dms_config_dir: Path | None  # host directory mounted at /tmp/docker-mailserver


# --- YAML, typed the way yaml/v4 types it ---------------------------------------------------


class _Loader(yaml.SafeLoader):
    """PyYAML's composer with plain scalars left untyped (PyYAML follows YAML 1.1, yaml/v4 not)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        return super().resolve(kind, value, implicit)


def _plain_scalar(text: str) -> tuple[str | None, bool]:
    """yaml/v4 resolve() for an untagged plain scalar, printed as fmt.Sprint would.

    Returns (text compose uses, whether YAML calls it a string); None is YAML null.
    """
    if text in _NULLS:
        return None, False
    if text in _SPECIAL:
        return _SPECIAL[text], False
    if text[:1] == "." and _DOT_FLOAT.fullmatch(text):
        return _number_or_string(text, float(text))
    if text[:1] and text[0] in "+-0123456789":
        plain = text.replace("_", "")
        number = _go_int(plain)
        if number is not None:
            return str(number), False
        if _YAML_FLOAT.fullmatch(plain):
            return _number_or_string(text, float(plain))
    return text, True


def _number_or_string(text: str, number: float) -> tuple[str, bool]:
    """A float that overflows is a parse error in Go, and the scalar stays a string."""
    return (_go_float(number), False) if math.isfinite(number) else (text, True)


def _go_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64), then ParseUint: Go literal syntax, leading 0 is octal."""
    match = _GO_INT.fullmatch(text)
    if match is None:
        return None
    sign, digits = match.groups()
    prefix = digits[:2].lower()
    if prefix in ("0x", "0b", "0o"):
        value = int(digits[2:], {"0x": 16, "0b": 2, "0o": 8}[prefix])
    else:
        value = int(digits, 8 if digits.startswith("0") else 10)
    value = -value if sign == "-" else value
    if -(2**63) <= value < 2**63 or (not sign and 0 <= value < 2**64):
        return value
    return None


def _go_float(number: float) -> str:
    """fmt.Sprint(float64): shortest digits, exponent form from 1e+06 and below 1e-04."""
    if number == 0:
        return "-0" if math.copysign(1, number) < 0 else "0"
    sign = "-" if number < 0 else ""
    digits_tuple, exponent = Decimal(repr(abs(number))).normalize().as_tuple()[1:]
    digits = "".join(map(str, digits_tuple))
    point = len(digits) + int(exponent)  # digits before the decimal point
    if point - 1 < -4 or point - 1 >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        power = point - 1
        return f"{sign}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


@dataclass(frozen=True)
class _Scalar:
    text: str | None  # what compose uses (interpolated when a string); None is null
    line: int
    is_string: bool
    written: str  # as written in the file
    unset: tuple[str, ...] = ()  # variables interpolation found unset


@dataclass(frozen=True)
class _Map:
    items: dict[str, tuple[int, _Tree]]  # key -> (line of the key, value)
    line: int


@dataclass(frozen=True)
class _Seq:
    items: tuple[_Tree, ...]
    line: int


_Tree = _Scalar | _Map | _Seq


@dataclass
class _TreeBuilder:
    """yaml nodes -> plain values, interpolated (loader.go loadYamlFile + interpolation.go)."""

    source: str
    environment: Mapping[str, str]
    _active: set[int] = field(default_factory=set)
    _visits: int = 0

    def where(self, node: yaml.Node) -> str:
        return f"{self.source}:{node.start_mark.line + 1}"

    def build(self, node: yaml.Node, path: str) -> _Tree | None:
        if node.tag == "!reset":
            return None
        if id(node) in self._active:
            raise InputError(f"recursive YAML alias in {path}", self.where(node))
        self._visits += 1
        if self._visits > _MAX_NODE_VISITS:  # loader/reset.go defaultMaxNodeVisits
            raise InputError(
                f"compose file exceeds maximum node visit limit ({_MAX_NODE_VISITS})", self.source
            )
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.ScalarNode):
                return self._scalar(node, path)
            if isinstance(node, yaml.SequenceNode):
                built = (self.build(child, f"{path}.[]") for child in node.value)
                return _Seq(tuple(item for item in built if item is not None), _line(node))
            return self._mapping(node, path)
        finally:
            self._active.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode, path: str) -> _Scalar:
        if node.tag == _PLAIN or (node.tag.startswith(_YAML_TAG_PREFIX) and node.tag != _STR):
            text, is_string = _plain_scalar(node.value)
        else:  # quoted, block, !!str, or a tag yaml/v4 does not resolve
            text, is_string = node.value, True
        unset: list[str] = []
        if is_string and text is not None:
            text = self._interpolate(text, node, path, unset)
        return _Scalar(text, _line(node), is_string, node.value, tuple(dict.fromkeys(unset)))

    def _interpolate(self, text: str, node: yaml.Node, path: str, unset: list[str]) -> str:
        try:
            return substitute(text, self.environment.get, unset)
        except MissingRequiredError as error:
            raise InputError(f"{error.describe()} (in {path})", self.where(node)) from None
        except TemplateError:
            message = f"invalid interpolation format for {path}: write '$$' for a literal '$'"
            raise InputError(message, self.where(node)) from None

    def _mapping(self, node: yaml.MappingNode, path: str) -> _Map:
        items: dict[str, tuple[int, _Tree]] = {}
        seen: dict[str, int] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            if key is None:
                merges.append(value_node)
                continue
            if key in seen:
                message = f'mapping key "{key}" already defined at line {seen[key]}'
                raise InputError(message, self.where(key_node))
            seen[key] = _line(key_node)
            value = self.build(value_node, f"{path}.{key}" if path else key)
            if value is not None:
                items[key] = (_line(key_node), value)
        for merge in merges:
            for source in self._merge_sources(merge, path):
                for key, item in source.items.items():
                    items.setdefault(key, item)
        return _Map(items, _line(node))

    def _key(self, node: yaml.Node, path: str) -> str | None:
        """A mapping key as a string; None for the merge key `<<`."""
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _PLAIN and node.value == "<<":
                return None
            if node.tag != _PLAIN or _plain_scalar(node.value)[1]:
                return node.value
        raise InputError(f"non-string key in {path or 'the top level'}", self.where(node))

    def _merge_sources(self, node: yaml.Node, path: str) -> list[_Map]:
        """yaml/v4 merge: a mapping, or a list of mappings where the first one wins."""
        built = self.build(node, path)
        sources = built.items if isinstance(built, _Seq) else (built,)
        if not all(isinstance(source, _Map) for source in sources):
            message = "map merge requires a mapping or a list of mappings as the value"
            raise InputError(message, self.where(node))
        return [source for source in sources if isinstance(source, _Map)]


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _load_tree(text: str, source: str, environment: Mapping[str, str]) -> _Map:
    """Parse and interpolate the compose file (loader.go loadYamlFile)."""
    try:
        documents = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        raise InputError(f"not valid YAML: {error.problem or error.context}", where) from None
    except yaml.YAMLError as error:
        raise InputError(f"not valid YAML: {error}", source) from None
    documents = [document for document in documents if document is not None]
    if not documents:
        raise InputError("empty compose file", source)
    if len(documents) > 1:
        message = "several YAML documents in one compose file are not supported"
        raise InputError(message, f"{source}:{_line(documents[1])}")
    tree = _TreeBuilder(source, environment).build(documents[0], "")
    if not isinstance(tree, _Map):
        raise InputError("top-level object must be a mapping", f"{source}:{_line(documents[0])}")
    return tree


# --- project environment ----------------------------------------------------------------------


def project_environment(
    compose_dir: Path, environ: Mapping[str, str]
) -> tuple[dict[str, str], list[Finding]]:
    """The variables interpolation sees: `.env` beside the compose file, overlaid by `environ`.

    Mirrors cli/options.go WithEnvFiles (COMPOSE_DISABLE_ENV_FILE) and WithDotEnv.
    """
    disabled = environ.get("COMPOSE_DISABLE_ENV_FILE")
    if disabled is not None:
        if disabled not in _GO_BOOL:
            raise InputError("COMPOSE_DISABLE_ENV_FILE is not a boolean", "environment")
        if _GO_BOOL[disabled]:
            return dict(environ), []
    dotenv = compose_dir / ".env"
    if not dotenv.is_file():
        return dict(environ), []
    settings, findings = parse_env_file(dotenv, environ, value_warnings=False)
    return {**{s.name: s.value for s in settings}, **environ}, findings


# --- one service ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _EnvEntry:
    name: str
    value: str | None  # None: listed without a value
    line: int
    scalar: _Scalar


@dataclass(frozen=True)
class _EnvFileEntry:
    path: str
    required: bool
    line: int


class _ServiceReader:
    """Builds a ComposeService from the interpolated tree of one compose file."""

    def __init__(self, path: Path, tree: _Map, environment: dict[str, str], home: str | None):
        self.path = path
        self.tree = tree
        self.environment = environment
        self.home = home
        self.services = _services(tree, path)

    def where(self, line: int) -> str:
        return f"{self.path}:{line}"

    def read(self, name: str) -> ComposeService:
        line, service = self.services[name]
        findings: list[Finding] = []
        entries = self._environment_entries(service, findings)
        values = {e.name: e.value for e in entries if e.value is not None}
        file_settings = self._env_files(service, values, findings)
        settings = self._combine(file_settings, entries, findings)
        hostname = self._string_setting(service, "hostname", findings)
        domainname = self._string_setting(service, "domainname", findings)
        config_dir = self._config_dir(service, findings)
        findings.extend(self._unsupported(service, line))
        return ComposeService(
            name, self.path, tuple(settings), tuple(findings), hostname, domainname, config_dir
        )

    def _note_unset(self, scalar: _Scalar, findings: list[Finding]) -> None:
        for variable in scalar.unset:
            message = f"the {variable} variable is not set; compose substitutes a blank string"
            findings.append(Finding("warning", self.where(scalar.line), message))

    def _environment_entries(self, service: _Map, findings: list[Finding]) -> list[_EnvEntry]:
        """types/mapping.go MappingWithEquals.DecodeMapstructure, then Resolve for bare KEYs."""
        item = service.items.get("environment")
        if item is None:
            return []
        line, node = item
        if isinstance(node, _Scalar) and node.text is None:
            return []
        if isinstance(node, _Seq):
            raw = [self._list_entry(element) for element in node.items]
        elif isinstance(node, _Map):
            raw = [self._map_entry(key, element) for key, element in node.items.items()]
        else:
            raise InputError("environment: must be a list or a mapping", self.where(line))
        entries = []
        for entry in raw:
            self._note_unset(entry.scalar, findings)
            value = entry.value
            if value is None:
                value = self.environment.get(entry.name)
            entries.append(_EnvEntry(entry.name, value, entry.line, entry.scalar))
        return entries

    def _list_entry(self, element: _Tree) -> _EnvEntry:
        if not isinstance(element, _Scalar) or element.text is None:
            raise InputError("an environment: list item must be KEY=VALUE or KEY", self.where(element.line))
        name, equals, value = element.text.partition("=")
        if name and name[-1] in _GO_SPACE:
            message = f"environment variable {name.rstrip(_GO_SPACE)} is declared with a trailing space"
            raise InputError(message, self.where(element.line))
        return _EnvEntry(name, value if equals else None, element.line, element)

    def _map_entry(self, key: str, element: tuple[int, _Tree]) -> _EnvEntry:
        line, node = element
        if not isinstance(node, _Scalar):
            raise InputError(
                f"environment: {key} must be a string, a number, a boolean or null", self.where(line)
            )
        return _EnvEntry(key, node.text, line, node)

    def _env_files(self, service: _Map, values: dict[str, str], findings: list[Finding]) -> list[Setting]:
        """types/project.go WithServicesEnvironmentResolved + loadEnvFile, in order."""
        lookup = ChainMap(self.environment, values)  # project environment, then environment:
        known = dict(values)
        settings: dict[str, Setting] = {}
        for entry in self._env_file_entries(service, findings):
            path = self.resolve_path(entry.path)
            if not path.exists():
                if entry.required:
                    raise InputError(f"env file {path} not found", self.where(entry.line))
                continue
            file_settings, file_findings = parse_env_file(path, lookup, prior=known)
            findings.extend(file_findings)
            for setting in file_settings:
                settings.pop(setting.name, None)
                settings[setting.name] = setting
                known[setting.name] = setting.value
        return list(settings.values())

    def _env_file_entries(self, service: _Map, findings: list[Finding]) -> list[_EnvFileEntry]:
        """transform/envfile.go: a string, a list of strings, or a list of {path, required}."""
        item = service.items.get("env_file")
        if item is None:
            return []
        line, node = item
        if isinstance(node, _Scalar) and node.text is None:
            return []
        elements = node.items if isinstance(node, _Seq) else (node,)
        entries = []
        for element in elements:
            if isinstance(element, _Map):
                entries.append(self._env_file_mapping(element, findings))
            elif isinstance(element, _Scalar) and element.text is not None:
                self._note_unset(element, findings)
                entries.append(_EnvFileEntry(element.text, True, element.line))
            else:
                raise InputError("env_file: entries must be paths or {path, required}", self.where(line))
        return entries

    def _env_file_mapping(self, element: _Map, findings: list[Finding]) -> _EnvFileEntry:
        path = _scalar_text(element.items.get("path"))
        if path is None:
            raise InputError("env_file: an entry without path:", self.where(element.line))
        for key in ("path", "required", "format"):
            if isinstance(scalar := element.items.get(key, (0, None))[1], _Scalar):
                self._note_unset(scalar, findings)
        required_text = _scalar_text(element.items.get("required"))
        if required_text is not None and required_text not in _GO_BOOL:
            raise InputError("env_file: required: must be true or false", self.where(element.line))
        file_format = _scalar_text(element.items.get("format"))
        if file_format not in (None, "", ".env"):
            raise InputError(f"unsupported env_file format {file_format!r}", self.where(element.line))
        required = True if required_text is None else _GO_BOOL[required_text]
        return _EnvFileEntry(path, required, element.line)

    def _combine(
        self, file_settings: list[Setting], entries: list[_EnvEntry], findings: list[Finding]
    ) -> list[Setting]:
        """environment: wins over env_file (Mapping.OverrideBy); a KEY left unset hides both."""
        listed = {entry.name for entry in entries}
        combined = [s for s in file_settings if s.name not in listed]
        from_files = {s.name: s for s in file_settings}
        chosen: dict[str, Setting] = {}
        lines: dict[str, int] = {}
        for entry in entries:
            where = self.where(entry.line)
            if entry.name in lines:
                message = f"{entry.name} is set again; this line wins over line {lines[entry.name]}"
                findings.append(Finding("info", where, message))
            lines[entry.name] = entry.line
            chosen.pop(entry.name, None)
            if entry.value is None:
                findings.append(self._unset_finding(entry, from_files.get(entry.name)))
                continue
            findings.extend(self._entry_findings(entry))
            origin = Origin("compose", location=where, variable=entry.name)
            chosen[entry.name] = Setting(entry.name, entry.value, origin)
        return combined + list(chosen.values())

    def _unset_finding(self, entry: _EnvEntry, hidden: Setting | None) -> Finding:
        message = (
            f"{entry.name} is listed without a value and is not set in the environment "
            "or .env; compose leaves it unset"
        )
        if hidden is None:
            return Finding("info", self.where(entry.line), message)
        message += f", which also drops the value from {hidden.origin.location}"
        return Finding("warning", self.where(entry.line), message)

    def _entry_findings(self, entry: _EnvEntry) -> list[Finding]:
        where = self.where(entry.line)
        assert entry.value is not None
        findings = value_findings(entry.name, entry.value, where, stray_quotes=True)
        scalar = entry.scalar
        if not scalar.is_string and scalar.text is not None and scalar.text != scalar.written:
            if is_secret_variable(entry.name):
                detail = "compose passes it in another form"
            else:
                detail = f"compose passes {scalar.text!r} (written {scalar.written!r})"
            message = f"{entry.name} is a YAML number, not a string: {detail}; quote it"
            findings.append(Finding("warning", where, message))
        return findings

    def _string_setting(self, service: _Map, key: str, findings: list[Finding]) -> Setting | None:
        item = service.items.get(key)
        if item is None:
            return None
        line, node = item
        if not isinstance(node, _Scalar):
            raise InputError(f"{key}: must be a string", self.where(line))
        if node.text is None:
            return None
        self._note_unset(node, findings)
        return Setting(key, node.text, Origin("compose", location=self.where(line), variable=key))

    def _config_dir(self, service: _Map, findings: list[Finding]) -> Path | None:
        """The host directory of the mount at /tmp/docker-mailserver (format/volume.go)."""
        item = service.items.get("volumes")
        if item is None or not isinstance(item[1], _Seq):
            return None
        for element in item[1].items:
            source, target, is_bind = self._volume(element, findings)
            if target is None or posixpath.normpath(target) != DMS_CONFIG_TARGET:
                continue
            if is_bind and source:
                return self.resolve_path(source)
            message = (
                f"{DMS_CONFIG_TARGET} is a named or anonymous volume, not a host "
                "directory; its files cannot be read from here"
            )
            findings.append(Finding("info", self.where(element.line), message))
            return None
        return None

    def _volume(self, element: _Tree, findings: list[Finding]) -> tuple[str, str | None, bool]:
        """(source, target, is a bind mount) of one volumes: item, short or long syntax."""
        if isinstance(element, _Scalar) and element.text is not None:
            self._note_unset(element, findings)
            try:
                source, target = parse_short_volume(element.text)
            except ValueError as error:
                raise InputError(f"invalid volume spec: {error}", self.where(element.line)) from None
            return source, target, is_file_path(source)
        if isinstance(element, _Map):
            kind = _scalar_text(element.items.get("type"))
            source = _scalar_text(element.items.get("source")) or ""
            return source, _scalar_text(element.items.get("target")), kind == "bind"
        return "", None, False

    def resolve_path(self, text: str) -> Path:
        """paths/resolve.go absPath: `~` is $HOME, a relative path is against the compose dir."""
        if text.startswith("~") and self.home is not None:
            text = os.path.join(self.home, text[1:].lstrip("/"))
        if os.path.isabs(text):
            return Path(text)
        return Path(os.path.normpath(os.path.join(self.path.parent, text)))

    def _unsupported(self, service: _Map, line: int) -> list[Finding]:
        findings = []
        if "extends" in service.items:
            message = "extends: is not followed; variables the extended service sets are missing here"
            findings.append(Finding("warning", self.where(service.items["extends"][0]), message))
        if "include" in self.tree.items:
            message = "include: is not followed; only this file's services are read"
            findings.append(Finding("warning", self.where(self.tree.items["include"][0]), message))
        return findings


def _scalar_text(item: tuple[int, _Tree] | None) -> str | None:
    if item is None or not isinstance(item[1], _Scalar):
        return None
    return item[1].text


def _services(tree: _Map, path: Path) -> dict[str, tuple[int, _Map]]:
    item = tree.items.get("services")
    if item is None:
        raise InputError("no services: section", f"{path}:{tree.line}")
    line, node = item
    if not isinstance(node, _Map) or not node.items:
        raise InputError("services: must be a mapping of service names", f"{path}:{line}")
    services = {}
    for name, (service_line, service) in node.items.items():
        if isinstance(service, _Scalar) and service.text is None:
            service = _Map({}, service_line)
        if not isinstance(service, _Map):
            raise InputError(f"service {name} must be a mapping", f"{path}:{service_line}")
        services[name] = (service_line, service)
    return services


def parse_short_volume(spec: str) -> tuple[str, str]:
    """format/volume.go ParseVolume: (source, target) of `SOURCE:TARGET[:OPTIONS]` or `TARGET`."""
    if len(spec) <= 2:
        return "", spec
    sections: list[str] = []
    buffer: list[str] = []
    depth = 0
    for index in range(len(spec) + 1):
        char = spec[index] if index < len(spec) else None
        if char == "$" and spec[index + 1 : index + 2] == "{":
            depth += 1
        elif char == "}" and depth > 0:
            depth -= 1
        elif char == ":" and len(buffer) == 1 and buffer[0].isalpha():
            pass  # a Windows drive letter
        elif char in (":", None) and depth == 0:
            if not buffer:
                raise ValueError("empty section between colons")
            if len(sections) == 3:
                raise ValueError("too many colons")
            sections.append("".join(buffer))
            buffer = []
            continue
        buffer.append(char or "")
    if len(sections) == 1 and depth == 0:
        return "", sections[0]  # an anonymous volume: the only section is the target
    return (sections[0] if sections else ""), (sections[1] if len(sections) > 1 else "")


def is_file_path(source: str) -> bool:
    """format/volume.go isFilePath: a bind mount source rather than a volume name."""
    if source[:1] in (".", "/", "~") or source.startswith("\\\\"):
        return bool(source)
    return len(source) >= 2 and source[0].isalpha() and source[1] == ":"


# --- entry point ------------------------------------------------------------------------------


def load_compose(path: Path, service: str | None, environ: Mapping[str, str]) -> ComposeService:
    """Read one service's container environment as `docker compose config` would resolve it.

    `service=None` picks the one service whose environment sets ACCOUNT_PROVISIONER=LDAP.
    """
    text = read_utf8(path, "compose file")
    environment, dotenv_findings = project_environment(path.parent, environ)
    tree = _load_tree(text, str(path), environment)
    reader = _ServiceReader(path, tree, environment, environ.get("HOME"))
    if service is not None:
        if service not in reader.services:
            names = ", ".join(reader.services)
            raise InputError(f"no service {service!r}; the services are: {names}", str(path))
        chosen = reader.read(service)
    else:
        chosen = _pick_ldap_service(reader, path)
    return replace(chosen, findings=tuple(dotenv_findings) + chosen.findings)


def _pick_ldap_service(reader: _ServiceReader, path: Path) -> ComposeService:
    loaded: dict[str, ComposeService] = {}
    failures: list[InputError] = []
    for name in reader.services:
        try:
            loaded[name] = reader.read(name)
        except InputError as error:
            failures.append(error)
    ldap = [name for name, s in loaded.items() if _value(s, "ACCOUNT_PROVISIONER") == "LDAP"]
    if len(ldap) == 1:
        return loaded[ldap[0]]
    names = ", ".join(reader.services)
    if ldap:
        message = f"several services set ACCOUNT_PROVISIONER=LDAP: {', '.join(ldap)}; name one"
        raise InputError(message, str(path))
    if failures:
        raise failures[0]
    old = [name for name, s in loaded.items() if _value(s, "ENABLE_LDAP") == "1"]
    hint = f" ({', '.join(old)} set ENABLE_LDAP=1, its old name)" if old else ""
    message = f"no service sets ACCOUNT_PROVISIONER=LDAP{hint}; the services are: {names}; name one"
    raise InputError(message, str(path))


def _value(service: ComposeService, name: str) -> str | None:
    for setting in service.settings:
        if setting.name == name:
            return setting.value
    return None
