"""Strict reading of a YAML document from its nodes, so every problem names its FILE:LINE.

PyYAML's composer keeps the position (`start_mark`) of every node; values are read from the
nodes, never from `safe_load`'s plain objects. Unknown keys, duplicate keys, wrong types and
anchors are errors. Messages never quote a value (a mistyped key could hold a password), and a
YAML syntax error is reported by PyYAML's problem text and position only, without its excerpt.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

STR_TAG = "tag:yaml.org,2002:str"
INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"
BOOL_TAG = "tag:yaml.org,2002:bool"
NULL_TAG = "tag:yaml.org,2002:null"


@dataclass(frozen=True)
class YamlProblem:
    """One problem in an expectation file."""

    where: str  # FILE:LINE
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class Reader:
    """Reads typed values from the nodes of one file, collecting problems instead of raising."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.problems: list[YamlProblem] = []

    def where(self, node: Node) -> str:
        return f"{self.display}:{node.start_mark.line + 1}"

    def problem(self, node: Node, message: str) -> None:
        self.problems.append(YamlProblem(self.where(node), message))

    # --- containers -------------------------------------------------------------------------

    def mapping(
        self, node: Node, what: str, known: tuple[str, ...], hints: dict[str, str] | None = None
    ) -> dict[str, Node] | None:
        """The key -> value nodes of a mapping; unknown or duplicate keys are problems."""
        if not isinstance(node, MappingNode):
            self.problem(node, f"{what}: expected a mapping (key: value lines), found {_kind(node)}")
            return None
        result: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag not in (STR_TAG, INT_TAG, BOOL_TAG):
                self.problem(key_node, f"{what}: keys must be plain words")
                continue
            key = str(key_node.value)
            if key in result:
                self.problem(key_node, f"{what}: duplicate key {key!r}")
            elif key not in known:
                hint = (hints or {}).get(key) or _did_you_mean(key, known)
                self.problem(key_node, f"{what}: unknown key {key!r}{hint}")
            else:
                result[key] = value_node
        return result

    def sequence(self, node: Node, what: str) -> list[Node]:
        """The item nodes of a list (a problem, and no items, for anything else)."""
        if isinstance(node, ScalarNode) and node.tag == NULL_TAG:
            return []
        if not isinstance(node, SequenceNode):
            self.problem(node, f"{what}: expected a list (lines starting with '- '), found {_kind(node)}")
            return []
        return list(node.value)

    # --- scalars ----------------------------------------------------------------------------

    def string(self, node: Node, what: str, *, empty: bool = False) -> str | None:
        """A string; numbers are taken as written (`uid: 5000` is "5000"). Booleans and null are not."""
        if not isinstance(node, ScalarNode):
            self.problem(node, f"{what}: expected a string, found {_kind(node)}")
            return None
        if node.tag not in (STR_TAG, INT_TAG, FLOAT_TAG):
            self.problem(node, f'{what}: expected a string, found {_kind(node)} (quote it: "...")')
            return None
        if not node.value and not empty:
            self.problem(node, f"{what}: must not be empty")
            return None
        return str(node.value)

    def boolean(self, node: Node, what: str) -> bool | None:
        """true or false."""
        if isinstance(node, ScalarNode) and node.tag == BOOL_TAG:
            return node.value.lower() in ("true", "yes", "on", "y")
        self.problem(node, f"{what}: expected true or false, found {_kind(node)}")
        return None

    def integer(self, node: Node, what: str) -> int | None:
        """A whole number."""
        if isinstance(node, ScalarNode) and node.tag == INT_TAG:
            try:
                return int(node.value, 0)
            except ValueError:
                pass
        self.problem(node, f"{what}: expected a whole number, found {_kind(node)}")
        return None

    def strings(self, node: Node, what: str) -> Iterator[tuple[Node, str]]:
        """(node, string) for each item of a list of strings."""
        for item in self.sequence(node, what):
            value = self.string(item, f"{what} item")
            if value is not None:
                yield item, value


def load_root(path: Path, display: str) -> tuple[Node | None, list[YamlProblem]]:
    """The root node of the file's only document, or the problems that prevent reading it."""
    where = f"{display}:1"
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None, [YamlProblem(display, "no such file")]
    except IsADirectoryError:
        return None, [YamlProblem(display, "is a directory, not an expectation file")]
    except OSError as error:
        return None, [YamlProblem(display, f"cannot read: {error.strerror}")]
    except UnicodeDecodeError:
        return None, [YamlProblem(display, "not UTF-8 text")]
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = f"{display}:{mark.line + 1}" if mark is not None else where
        return None, [YamlProblem(line, f"not valid YAML: {error.problem or error.context}")]
    except yaml.YAMLError:
        return None, [YamlProblem(where, "not valid YAML")]
    documents = [d for d in documents if d is not None]
    if not documents:
        return None, [YamlProblem(where, "empty file: expected a mapping with expectations")]
    if len(documents) > 1:
        second = documents[1]
        return None, [
            YamlProblem(f"{display}:{second.start_mark.line + 1}", "only one YAML document allowed")
        ]
    aliases = [e for e in yaml.parse(text, Loader=yaml.SafeLoader) if isinstance(e, yaml.AliasEvent)]
    message = "YAML aliases (*name) are not supported: write the value out"
    problems = [YamlProblem(f"{display}:{e.start_mark.line + 1}", message) for e in aliases]
    return documents[0], problems


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return {
        NULL_TAG: "nothing (null)",
        BOOL_TAG: "a boolean",
        INT_TAG: "a number",
        FLOAT_TAG: "a number",
        STR_TAG: "a string",
    }.get(node.tag, f"a {node.tag.rsplit(':', 1)[-1]} value")


def _did_you_mean(key: str, known: tuple[str, ...]) -> str:
    import difflib

    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known: {', '.join(known)})"
