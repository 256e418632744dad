"""DMS environment variables with their provenance, layered the way ldapdiag's sources override each other."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from ldapdiag.config.origin import Origin

_SECRET_NAME = re.compile(r"(_PW|PASSWORD|PASSWD|DNPASS|SECRET)$")


def is_secret_variable(name: str) -> bool:
    """True for variables that hold a password (LDAP_BIND_PW, DOVECOT_DNPASS, SASLAUTHD_LDAP_PASSWORD...)."""
    return bool(_SECRET_NAME.search(name.upper()))


@dataclass(frozen=True)
class Setting:
    """One variable as the container would see it, and where its value came from."""

    name: str
    value: str
    origin: Origin

    @property
    def secret(self) -> bool:
        return is_secret_variable(self.name)

    @property
    def exported(self) -> bool:
        """Whether the variable is in the container's environment (DMS's own defaults are not)."""
        return self.origin.kind not in ("default", "derived")


class Settings(Mapping[str, Setting]):
    """An immutable name -> Setting mapping; later layers override earlier ones."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Setting] | None = None) -> None:
        self._items: dict[str, Setting] = dict(items or {})

    def __getitem__(self, name: str) -> Setting:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        shown = {n: ("********" if s.secret else s.value) for n, s in self._items.items()}
        return f"Settings({shown!r})"

    def value(self, name: str, default: str | None = None) -> str | None:
        """The value of `name`, or `default` when it is not set at all."""
        setting = self._items.get(name)
        return setting.value if setting is not None else default

    def layered(self, settings: Iterable[Setting]) -> Settings:
        """A copy with `settings` applied on top (last one wins)."""
        merged = dict(self._items)
        for setting in settings:
            merged[setting.name] = setting
        return Settings(merged)

    def without(self, names: Iterable[str]) -> Settings:
        """A copy without the given variables."""
        dropped = set(names)
        return Settings({n: s for n, s in self._items.items() if n not in dropped})
