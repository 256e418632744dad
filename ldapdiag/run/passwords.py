"""A login expectation's password, read only when its check runs; never part of any message.

`password_file`: the whole file, one trailing newline removed (as `ldapdiag login --password-file`
reads it); with `password_key`, the file is YAML and the key a dotted path to the value
(`users.alice` in a scenario's passwords.yaml). `password_env`: an environment variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from ldapdiag.run.model import PasswordSource


class PasswordUnavailable(Exception):
    """The password cannot be read; the message names where it was looked for, not a value."""


def read_password(source: PasswordSource, base_dir: Path, environ: Mapping[str, str]) -> str:
    """The password `source` names."""
    if source.env is not None:
        value = environ.get(source.env)
        if value is None:
            raise PasswordUnavailable(f"environment variable {source.env} is not set")
        return value
    assert source.file is not None
    path = Path(source.file).expanduser()
    path = path if path.is_absolute() else base_dir / path
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise PasswordUnavailable(f"password file {source.file} does not exist") from None
    except OSError as error:
        raise PasswordUnavailable(f"cannot read password file {source.file}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise PasswordUnavailable(f"password file {source.file} is not UTF-8 text") from None
    if source.key is None:
        return text[:-1] if text.endswith("\n") else text
    return _yaml_value(text, source.file, source.key)


def _yaml_value(text: str, file: str, key: str) -> str:
    """The string at the dotted `key` of a YAML document (errors never quote the file's content)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise PasswordUnavailable(f"password file {file} is not valid YAML") from None
    node: object = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise PasswordUnavailable(f"password file {file} has no key {key}")
        node = node[part]
    if isinstance(node, bool) or not isinstance(node, str | int):
        raise PasswordUnavailable(f"password file {file}: {key} is not a string")
    return str(node)
