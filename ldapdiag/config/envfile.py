"""Read an env file the way docker compose v2 reads `env_file:` entries and the project `.env`.

Mirrors compose-go v2.13 (github.com/compose-spec/compose-go):

- `dotenv/parser.go` (`parser.parse`, `locateKeyName`, `extractVarValue`, `expandEscapes`): the
  statement grammar: comments, blank lines, `export `, `NAME=value` and `NAME: value`, single
  quotes (literal, `\\'` escapes the quote), double quotes (multi-line, `\\n`-style escapes, then
  `${VAR}` expansion), unquoted values (cut at ` #`, trailing whitespace trimmed, then expanded),
  and a bare `NAME` line that inherits from the environment.
- `dotenv/godotenv.go` (`parseWithLookup`, `expandVariables`): a UTF-8 BOM is skipped; `${VAR}`
  looks up the environment first, then the values read so far.
- `template/template.go` (`Substitute`): `$VAR`, `${VAR}`, `${VAR:-d}`, `${VAR-d}`, `${VAR:?m}`,
  `${VAR?m}`, `${VAR:+a}`, `${VAR+a}`, `$$`. compose.py uses the same function for the compose file.

This is an independent implementation written from reading those files, not a copy. Differences
on purpose: line numbers are the line where a statement starts (compose-go's counter drifts), a
non-UTF-8 file is an error (Go passes the bytes through), and a statement without a variable name
(`=value`, or a bare `NAME` on a last line without a newline, which compose-go stores under the
empty name) is skipped with a warning. Error messages never quote a value: the reason of a
`${VAR:?reason}` is shown only when written literally (an expanded one may hold a secret).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ldapdiag.config.origin import Finding, Origin, SourceKind
from ldapdiag.config.settings import Setting
from ldapdiag.errors import InputError

Lookup = Callable[[str], str | None]

# Go's unicode.IsSpace (used to skip blank lines and trim names and unquoted values).
_GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
# parser.go isSpace: a space that is not a line break.
_LINE_SPACE = "\t\v\f\r \x85\xa0"
_EXPORT = re.compile(r"export[\t\n\f\r ]+")  # parser.go exportRegex `^export\s+` (Go \s)
_NAME_PUNCTUATION = "_.-[]"
_ESCAPE = re.compile(r"\\(?:[abcfnrtv$\"\\]|0[0-9]{0,3})")  # parser.go escapeSeqRegex
_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    '"': '"',
    "\\": "\\",
}
_QUOTES = ('"', "'")  # a tuple: `"" in _QUOTES` must be false

# template.go DefaultPattern. Go's (?i) folds [a-z] to also match U+017F and U+212A (not the
# dotted/dotless i that Python's IGNORECASE would add), so the classes are spelled out.
_TEMPLATE_NAME = "[_A-Za-z\u017f\u212a][_A-Za-z0-9\u017f\u212a]*"
_TEMPLATE_SOURCE = (
    r"\$(?:(?P<escaped>\$)|(?P<named>NAME)|\{(?:(?P<braced>NAME(?::?[-+?](?:.*))?)\}|(?P<invalid>)))"
)
_TEMPLATE = re.compile(_TEMPLATE_SOURCE.replace("NAME", _TEMPLATE_NAME))
_OPERATORS = (":?", "?", ":-", "-", ":+", "+")


class TemplateError(Exception):
    """A `${...}` that compose refuses (template.go)."""


class InvalidTemplateError(TemplateError):
    """template.go InvalidTemplateError: a `$` compose cannot read."""


class MissingRequiredError(TemplateError):
    """template.go MissingRequiredError: `${VAR?msg}` / `${VAR:?msg}` on an unset (or empty) VAR."""

    def __init__(self, variable: str, reason: str, reason_is_literal: bool) -> None:
        super().__init__(variable)
        self.variable = variable
        self.reason = reason
        self.reason_is_literal = reason_is_literal

    def describe(self) -> str:
        """template.go's message; a reason built by expansion is left out (it may hold a secret)."""
        text = f"required variable {self.variable} is missing a value"
        return f"{text}: {self.reason}" if self.reason and self.reason_is_literal else text


def substitute(template: str, lookup: Lookup, unset: list[str] | None = None) -> str:
    """Expand `$VAR`, `${VAR...}` and `$$` as compose-go's template.Substitute does.

    Names looked up without a default and not found are appended to `unset` (compose warns
    "The X variable is not set. Defaulting to a blank string.").
    """
    errors: list[TemplateError] = []

    def replace(match: re.Match[str]) -> str:
        try:
            return _replace_one(match.group(0), lookup, unset)
        except TemplateError as error:
            errors.append(error)
            return ""

    result = _TEMPLATE.sub(replace, template)
    if errors:
        raise errors[0]
    return result


def _replace_one(matched: str, lookup: Lookup, unset: list[str] | None) -> str:
    """template.go DefaultReplacementAppliedFunc for one match of the pattern."""
    close = _closing_brace(matched)
    head, rest = (matched[: close + 1], matched[close + 1 :]) if close > -1 else (matched, "")
    match = _TEMPLATE.search(head)
    if match is None:
        raise InvalidTemplateError()
    if match["escaped"]:
        return "$"
    name = match["named"] or match["braced"]
    if not name:
        raise InvalidTemplateError()
    if match["braced"]:
        operator = _operator(matched)  # chosen on the whole match, as template.go does
        if operator and operator in name:
            return _apply_operator(name, operator, lookup, unset) + substitute(rest, lookup, unset)
    value = lookup(name)
    if value is None and unset is not None:
        unset.append(name)
    return value or ""


def _closing_brace(text: str) -> int:
    """template.go getFirstBraceClosingIndex (the character after each `{` is skipped)."""
    depth = 0
    index = 0
    while index < len(text):
        if text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
        if text[index] == "{":
            depth += 1
            index += 1
        index += 1
    return -1


def _operator(text: str) -> str | None:
    """template.go getSubstitutionFunctionForTemplate: the operator that occurs first."""
    found = [(text.find(op), order, op) for order, op in enumerate(_OPERATORS) if op in text]
    return min(found)[2] if found else None


def _apply_operator(braced: str, operator: str, lookup: Lookup, unset: list[str] | None) -> str:
    """template.go withDefaultWhenAbsence / withDefaultWhenPresence / withRequired."""
    name, _, argument = braced.partition(operator)
    value = lookup(name)
    strict = operator.startswith(":")
    if operator.endswith("-"):
        if value is None or (strict and value == ""):
            return substitute(argument, lookup, unset)
        return value
    if operator.endswith("+"):
        if value is not None and (not strict or value != ""):
            return substitute(argument, lookup, unset)
        return value or ""
    if value is None or (strict and value == ""):
        reason = substitute(argument, lookup, unset)
        raise MissingRequiredError(name, reason, "$" not in argument)
    return value


def expand_escapes(text: str) -> str:
    """parser.go expandEscapes: `\\n`, `\\t`, ..., `\\0ooo`, and `\\$` (kept as `$$`)."""
    return _ESCAPE.sub(_unescape, text)


def _unescape(match: re.Match[str]) -> str:
    sequence = match.group(0)
    if sequence == "\\$":
        return "$$"
    if sequence[1] == "0":
        # `\0ooo` becomes Go's `\ooo`: exactly three octal digits, at most 0o377.
        digits = sequence[2:]
        if len(digits) == 3 and set(digits) <= set("01234567") and int(digits, 8) <= 0o377:
            return chr(int(digits, 8))
        return sequence
    # `\c` matches escapeSeqRegex but is no Go escape: strconv.UnquoteChar() fails and
    # expandEscapes keeps the match as it is.
    return _SIMPLE_ESCAPES.get(sequence[1], sequence)


@dataclass(frozen=True)
class _Statement:
    """One `NAME=value` (or bare `NAME`) as compose-go reads it."""

    name: str
    value: str | None  # None: a bare NAME not found in the environment
    line: int
    end_line: int  # line of the closing quote (same as line when not quoted)
    quote: str  # "", "'" or '"'


class _Reader:
    """A cursor over env file text that yields statements (parser.go parser.parse)."""

    def __init__(self, text: str, source: str, environ: Mapping[str, str], known: dict[str, str]):
        self.text = text
        self.source = source
        self.environ = environ
        self.known = known
        self.findings: list[Finding] = []
        self._newlines = [i for i, char in enumerate(text) if char == "\n"]

    def line_of(self, pos: int) -> int:
        return bisect.bisect_left(self._newlines, pos) + 1

    def where(self, line: int) -> str:
        return f"{self.source}:{line}"

    def lookup(self, name: str) -> str | None:
        """godotenv.go expandVariables: the environment first, then the values read so far."""
        value = self.environ.get(name)
        return value if value is not None else self.known.get(name)

    def statements(self) -> list[_Statement]:
        result: list[_Statement] = []
        pos = 0
        closed_quote: _Statement | None = None  # the previous value, when it was quoted
        while (pos := self._statement_start(pos)) >= 0:
            line = self.line_of(pos)
            after_quote = closed_quote if closed_quote and closed_quote.end_line == line else None
            statement, pos = self._statement(pos, line, after_quote)
            closed_quote = statement if statement and statement.quote else None
            if statement is not None:
                result.append(statement)
                if statement.value is not None:
                    self.known[statement.name] = statement.value  # later lines can use it
        return result

    def _statement_start(self, pos: int) -> int:
        """parser.go getStatementStart: skip whitespace, blank lines and `#` comment lines."""
        text = self.text
        while True:
            while pos < len(text) and text[pos] in _GO_SPACE:
                pos += 1
            if pos >= len(text):
                return -1
            if text[pos] != "#":
                return pos
            pos = text.find("\n", pos)
            if pos < 0:
                return -1

    def _statement(
        self, pos: int, line: int, after_quote: _Statement | None
    ) -> tuple[_Statement | None, int]:
        name, pos, separator = self._name(pos, line, after_quote)
        if separator == "":
            self._warn(
                line,
                "a name without '=' on the last line and no newline after it: "
                "compose reads it as a value with no variable name, not as a variable "
                "to take from the environment; add a newline",
            )
            return None, len(self.text)
        if separator == "\n":
            value = self.environ.get(name)
            if after_quote is not None:
                self._warn_after_quote(line, after_quote, name)
            return _Statement(name, value, line, line, ""), pos
        value, quote, pos = self._value(pos, line, name)
        end_line = self.line_of(pos - 1)
        if after_quote is not None:
            self._warn_after_quote(line, after_quote, name)
        if name == "":
            self._warn(
                line,
                "a value with no variable name before '=': compose-go stores it "
                "under an empty name; it is skipped",
            )
            return None, pos
        return _Statement(name, value, line, end_line, quote), pos

    def _name(self, pos: int, line: int, after_quote: _Statement | None) -> tuple[str, int, str]:
        """parser.go locateKeyName: returns the name, where its value starts, and the separator."""
        text = self.text
        if _EXPORT.match(text, pos):
            pos += len("export")
            while pos < len(text) and text[pos] in _LINE_SPACE:
                pos += 1
            if pos >= len(text):
                raise InputError("'export' without a variable name", self.where(line))
        start = pos
        for index in range(start, len(text)):
            char = text[index]
            if char in _LINE_SPACE:
                continue
            if char in "=:\n":
                name = text[start:index].rstrip(_GO_SPACE)
                if " " in name:
                    raise InputError(
                        self._bad_name(after_quote, "a variable name cannot contain a space"),
                        self.where(line),
                    )
                return name, index + 1, char
            if char in _NAME_PUNCTUATION or unicodedata.category(char)[0] in "LN":
                continue
            problem = "names may use letters, digits and _ . - [ ]"
            if after_quote is None:  # else the character may belong to a value
                problem = f"unexpected character {char!r} in a variable name: {problem}"
            raise InputError(self._bad_name(after_quote, problem), self.where(line))
        return "", start, ""

    def _bad_name(self, after_quote: _Statement | None, problem: str) -> str:
        if after_quote is None:
            return problem
        return f"text after the closing quote of {after_quote.name} is read as the next variable: {problem}"

    def _value(self, pos: int, line: int, name: str) -> tuple[str, str, int]:
        """parser.go extractVarValue: returns (value, quote, position after it)."""
        text = self.text
        while pos < len(text) and text[pos] in _LINE_SPACE:
            pos += 1
        if pos < len(text) and text[pos] in _QUOTES:
            return self._quoted(pos, line, name)
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        raw = text[pos:end]
        comment = raw.find(" #")
        if comment >= 0:
            raw = raw[:comment]
        raw = raw.rstrip(_GO_SPACE)
        return self._expand(raw, line, name), "", min(end + 1, len(text))

    def _quoted(self, pos: int, line: int, name: str) -> tuple[str, str, int]:
        text = self.text
        quote = text[pos]
        chars: list[str] = []
        escaped = False
        for index in range(pos + 1, len(text)):
            char = text[index]
            if escaped:
                # `\<quote>` keeps only the quote; any other escape keeps its backslash
                chars.append(char if char == quote else "\\" + char)
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                raw = "".join(chars)
                value = raw if quote == "'" else self._expand(expand_escapes(raw), line, name)
                return value, quote, index + 1
            else:
                chars.append(char)
        label = name or "a value"
        raise InputError(
            f"unterminated quoted value: the {quote} that opens {label} is never closed", self.where(line)
        )

    def _expand(self, raw: str, line: int, name: str) -> str:
        unset: list[str] = []
        try:
            value = substitute(raw, self.lookup, unset)
        except MissingRequiredError as error:
            raise InputError(f"{error.describe()} (in the value of {name})", self.where(line)) from None
        except TemplateError:
            raise InputError(
                f"invalid interpolation format in the value of {name}: write '$$' for a literal '$'",
                self.where(line),
            ) from None
        for variable in dict.fromkeys(unset):
            self._warn(
                line, f"the {variable} variable is not set; compose substitutes a blank string in {name}"
            )
        return value

    def _warn(self, line: int, message: str) -> None:
        self.findings.append(Finding("warning", self.where(line), message))

    def _warn_after_quote(self, line: int, after_quote: _Statement, name: str) -> None:
        self._warn(
            line,
            f"text after the closing quote of {after_quote.name} is read by compose "
            f"as another variable, {name}",
        )


def dms_target(name: str) -> str:
    """Where DMS v15 writes the variable `name` (for messages)."""
    if name.startswith("LDAP_QUERY_FILTER_"):
        table = {
            "USER": "users",
            "GROUP": "groups",
            "ALIAS": "aliases",
            "DOMAIN": "domains",
            "SENDERS": "senders",
        }.get(name.removeprefix("LDAP_QUERY_FILTER_"))
        if table:
            return f"query_filter of ldap-{table}.cf"
    if name.startswith("SASLAUTHD_LDAP_"):
        return f"ldap_{name.removeprefix('SASLAUTHD_LDAP_').lower()} of saslauthd.conf"
    if name.startswith("DOVECOT_"):
        return f"{name.removeprefix('DOVECOT_').lower()} of dovecot-ldap.conf.ext"
    if name.startswith("LDAP_"):
        return name.removeprefix("LDAP_").lower()
    return ""


def value_findings(name: str, value: str, where: str, *, stray_quotes: bool) -> list[Finding]:
    """Warnings for quote characters and whitespace that would reach DMS's config literally.

    `stray_quotes`: also flag a quote character in the middle (for text that was not quoted).
    Messages name the variable and never contain its value.
    """
    target = dms_target(name)
    writes = f"DMS writes it into {target} as is" if target else "DMS uses it as is"
    problems: list[str] = []
    if value[:1] in _QUOTES and len(value) > 1 and value[-1] == value[0]:
        problems.append(f"is wrapped in literal {value[0]!r} quotes")
    else:
        if value[:1] in _QUOTES:
            problems.append(f"starts with a literal {value[0]!r}")
        if value[-1:] in _QUOTES and len(value) > 1:
            problems.append(f"ends with a literal {value[-1]!r}")
    middle = sorted({char for char in value[1:-1] if char in _QUOTES})
    if stray_quotes and middle:
        problems.append("contains a literal " + " and ".join(repr(char) for char in middle))
    if value != value.strip(_GO_SPACE):
        problems.append("has leading or trailing whitespace")
    return [Finding("warning", where, f"{name} {problem}; {writes}") for problem in problems]


def _statement_findings(statement: _Statement, where: str) -> list[Finding]:
    findings = []
    if statement.value is not None:
        findings = value_findings(statement.name, statement.value, where, stray_quotes=statement.quote == "")
    if statement.end_line > statement.line:
        findings.append(
            Finding(
                "warning",
                where,
                f"{statement.name} spans lines "
                f"{statement.line}-{statement.end_line}: its {statement.quote} "
                f"closes only on line {statement.end_line}, so the line breaks "
                "are part of its value",
            )
        )
    return findings


def parse_env_text(
    text: str,
    source: str,
    environ: Mapping[str, str],
    kind: SourceKind = "env-file",
    *,
    prior: Mapping[str, str] | None = None,
    value_warnings: bool = True,
) -> tuple[list[Setting], list[Finding]]:
    """Read env file text as compose-go's dotenv parser does (godotenv.go parseWithLookup).

    `environ` answers bare `NAME` lines and is looked up first by `${VAR}`; `prior` holds values
    already set (earlier env files, the service's `environment:`), looked up after it.
    `value_warnings=False` leaves out the warnings about quotes and whitespace in values (for the
    project `.env`, whose variables only feed interpolation).
    """
    reader = _Reader(text.removeprefix("\ufeff"), source, environ, dict(prior or {}))
    settings: dict[str, Setting] = {}
    findings: list[Finding] = []
    for statement in reader.statements():
        where = reader.where(statement.line)
        if value_warnings:
            findings.extend(_statement_findings(statement, where))
        if statement.value is None:
            continue
        if statement.name in settings:
            findings.append(
                Finding(
                    "info",
                    where,
                    f"{statement.name} is set again; this line "
                    f"wins over {settings[statement.name].origin.location}",
                )
            )
        origin = Origin(kind, location=where, variable=statement.name)
        settings[statement.name] = Setting(statement.name, statement.value, origin)
    return list(settings.values()), reader.findings + findings


def parse_env_file(
    path: Path,
    environ: Mapping[str, str],
    kind: SourceKind = "env-file",
    *,
    prior: Mapping[str, str] | None = None,
    value_warnings: bool = True,
) -> tuple[list[Setting], list[Finding]]:
    """Read an env file as docker compose v2 does (compose-go dotenv/env.go GetEnvFromFile)."""
    text = read_utf8(path, "env file")
    return parse_env_text(text, str(path), environ, kind, prior=prior, value_warnings=value_warnings)


def read_utf8(path: Path, what: str) -> str:
    """The text of `path`; InputError (naming the path or the bad line) when it cannot be read."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} not found", str(path)) from None
    except IsADirectoryError:
        raise InputError(f"{what} is a directory", str(path)) from None
    except OSError as error:
        raise InputError(f"cannot read {what}: {error.strerror}", str(path)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InputError(f"{what} is not valid UTF-8", f"{path}:{line}") from None


__all__ = [
    "InvalidTemplateError",
    "MissingRequiredError",
    "TemplateError",
    "dms_target",
    "expand_escapes",
    "parse_env_file",
    "parse_env_text",
    "read_utf8",
    "substitute",
    "value_findings",
]
