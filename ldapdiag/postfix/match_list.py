"""Postfix string lists: the ldap table's `domain` parameter, virtual_mailbox_domains and friends.

Mirrors util/match_list.c (match_list_init(), match_list_parse(), match_list_match()) with
match_ops.c match_string(), as string_list_init(..., MATCH_FLAG_RETURN, ...) uses them: patterns
are casefolded once, the string at each match; `!` negates; `/file` is read in line (lines that
start with `#` skipped); `type:table` looks the string up (tables opened without case folding);
the first pattern that matches decides; a table error is a lookup problem, not a mismatch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ldapdiag.config.postfix_cf import split_table_list
from ldapdiag.errors import LdapdiagError
from ldapdiag.postfix.keys import casefold
from ldapdiag.postfix.tables import LookupResult, QueryStep, Table

OpenTable = Callable[[str], Table]
ReadFile = Callable[[str], str | None]


class MatchListError(LdapdiagError):
    """A list postfix refuses with a fatal error."""


@dataclass(frozen=True)
class Pattern:
    """One parsed pattern: a casefolded literal, a table, or a file that could not be opened."""

    text: str  # the literal (casefolded), `type:name`, or the unreadable /file
    negate: bool = False
    table: Table | None = None
    unavailable: bool = False


@dataclass(unsafe_hash=True, slots=True)  # never changed once made; not frozen: see postfix/tables.py
class MatchOutcome:
    """match_list_match(): matched or not, the value a table gave, or the lookup problem."""

    matched: bool
    value: str | None = None
    pattern: str | None = None
    error: str | None = None
    steps: list[QueryStep] = field(default_factory=list)


def is_table_pattern(pattern: str) -> bool:
    """MATCH_DICTIONARY(): not a `[...]` literal and contains `:`."""
    return not pattern.startswith("[") and ":" in pattern


class StringList:
    """string_list_init(name, MATCH_FLAG_RETURN, text): patterns in order, the first match decides."""

    def __init__(self, name: str, patterns: list[Pattern], utf8: bool = False) -> None:
        self.name = name
        self.patterns = patterns
        self.utf8 = utf8

    def match(self, string: str) -> MatchOutcome:
        """match_list_match() with match_string()."""
        folded = casefold(string, self.utf8)
        steps: list[QueryStep] = []
        for pattern in self.patterns:
            result = not pattern.negate
            if pattern.unavailable:
                steps.append(
                    QueryStep(
                        self.name,
                        "log",
                        f"warning: nofile:{pattern.text} is unavailable. "
                        f"open file {pattern.text}: No such file or directory",
                    )
                )
                return self._problem(f"nofile:{pattern.text}", steps)
            if pattern.table is not None:
                found = pattern.table.lookup(folded)
                steps += found.steps
                if found.value is not None and found.error is None:
                    return MatchOutcome(result, found.value if result else None, pattern.text, None, steps)
                if found.error is not None:
                    return self._problem(pattern.text, steps)
                continue
            if folded == pattern.text:
                steps.append(
                    QueryStep(
                        self.name,
                        "match",
                        f"{folded!r} matches {'!' if pattern.negate else ''}{pattern.text!r}",
                    )
                )
                return MatchOutcome(result, pattern.text if result else None, pattern.text, None, steps)
        return MatchOutcome(False, None, None, None, steps)

    def _problem(self, table: str, steps: list[QueryStep]) -> MatchOutcome:
        line = f"warning: {self.name}: {table}: table lookup problem"
        steps.append(QueryStep(self.name, "log", line))
        return MatchOutcome(False, None, table, line.removeprefix("warning: "), steps)

    def lookup(self, key: str) -> LookupResult:
        """The list as a table: found (the matched pattern, or the table's value) or not."""
        outcome = self.match(key)
        value = outcome.value if outcome.matched else None
        return LookupResult(key, self.name, value, outcome.error, tuple(outcome.steps))


def parse_string_list(
    name: str, text: str, open_table: OpenTable, read_file: ReadFile, utf8: bool = False
) -> StringList:
    """match_list_init() -> match_list_parse(): the patterns of `text` in order."""
    patterns: list[Pattern] = []
    _parse(name, text, True, patterns, open_table, read_file, utf8)
    return StringList(name, patterns, utf8)


def _parse(
    name: str,
    text: str,
    positive: bool,
    patterns: list[Pattern],
    open_table: OpenTable,
    read_file: ReadFile,
    utf8: bool,
) -> None:
    tokens = split_table_list(text)
    for token in tokens:
        if token.startswith("#"):
            break  # postfix warns "comment at end of line is not supported" and stops here
        match, item = positive, token
        while item.startswith("!"):
            match, item = not match, item[1:]
        if not item:
            raise MatchListError(f"{name}: no pattern after '!'")
        if item.startswith("/"):
            content = read_file(item)
            if content is None:
                patterns.append(Pattern(item, not match, unavailable=True))
                continue
            for line in content.splitlines():
                if not line.startswith("#"):
                    _parse(name, line, match, patterns, open_table, read_file, utf8)
        elif is_table_pattern(item):
            patterns.append(Pattern(item, not match, table=open_table(item)))
        else:
            patterns.append(Pattern(casefold(item, utf8), not match))
