"""Where a value came from, and the findings made while reading configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SourceKind = Literal[
    "default",  # DMS v15 built-in default or template
    "env-file",  # --env-file, or a compose env_file: entry
    "compose",  # a compose service's environment: / hostname: / domainname:
    "environment",  # the process environment
    "set",  # --set KEY=VALUE
    "file",  # a real configuration file (--from-files, --dms-config)
    "derived",  # computed by DMS from other values (e.g. DOMAINNAME from the hostname)
]


@dataclass(frozen=True)
class Origin:
    """Provenance of one value: which source, where in it, and through which DMS variable."""

    kind: SourceKind
    location: str = ""
    variable: str = ""

    def describe(self) -> str:
        """A short human description, e.g. `mailserver.env:12 (LDAP_BIND_DN)`."""
        if self.kind == "default":
            text = f"default ({self.location})" if self.location else "default"
        elif self.kind == "set":
            text = "--set"
        elif self.kind == "environment":
            text = "environment"
        else:
            text = self.location or self.kind
        if self.variable and self.kind != "default":
            text += f" ({self.variable})"
        elif self.variable:
            text += f" via {self.variable}"
        return text


DEFAULT = Origin("default")

Level = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Finding:
    """Something noticed while reading configuration (never contains a secret value)."""

    level: Level
    where: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.level}: {self.where}: {self.message}" if self.where else f"{self.level}: {self.message}"
        )
