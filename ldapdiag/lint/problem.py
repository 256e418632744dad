"""The value every lint rule yields: one LintProblem (after yamllint's LintProblem).

`where` names what the user edits: the env file or compose line that set the value
(`mailserver.env:12`), else the variable (`LDAP_QUERY_FILTER_USER`), else the configuration file
and line (`/etc/postfix/ldap-users.cf:4`). Messages never contain a password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Level = Literal["error", "warning", "info"]
LEVELS: tuple[Level, ...] = ("error", "warning", "info")
Component = Literal["postfix", "dovecot", "saslauthd", "dms", "server"]

_FILE_LINE = re.compile(r"^(?P<file>.+?):(?P<line>[0-9]+)$")


@dataclass(frozen=True)
class LintProblem:
    """One finding: how bad, which rule, which component, where, what, and how to fix it."""

    level: Level
    code: str  # the rule, e.g. "postfix-placeholder"
    component: Component
    where: str  # file:line, a variable, or a configuration file
    message: str
    hint: str = ""  # how to fix it
    setting: str = ""  # the setting it concerns, e.g. "query_filter of /etc/postfix/ldap-users.cf"

    @property
    def file(self) -> str | None:
        """The file part of `where` when it is `file:line`."""
        match = _FILE_LINE.match(self.where)
        return match.group("file") if match else None

    @property
    def line(self) -> int | None:
        """The line part of `where` when it is `file:line`."""
        match = _FILE_LINE.match(self.where)
        return int(match.group("line")) if match else None

    def sort_key(self) -> tuple[object, ...]:
        """Files first (by name and line), then variables and settings, errors before warnings."""
        file = self.file
        return (
            file is None,
            file or self.where,
            self.line or 0,
            LEVELS.index(self.level),
            self.code,
            self.message,
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "level": self.level,
            "code": self.code,
            "component": self.component,
            "where": self.where,
            "file": self.file,
            "line": self.line,
            "setting": self.setting,
            "message": self.message,
            "hint": self.hint,
        }
