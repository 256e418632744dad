"""Rendering of `--explain`: the LDAP queries in order, readable in 100 columns, or JSON.

Lines stay within WIDTH columns: commands break between their words (an option stays with its
value) with sh's `\\` continuation, long filters break between two components (`)(`); only a
single word longer than the line (a filter without such a break, a long DN) runs over.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ldapdiag.explain import commands
from ldapdiag.explain.model import Lookup, Query

WIDTH = 100
Y_NOTE = (
    "ldapsearch -y sends the file's whole content as the password: write it without a trailing "
    "newline (DMS strips newlines from *__FILE files; ldapsearch does not)"
)


# ------------------------------------------------------------------------------------------------
# JSON


def query_json(query: Query) -> dict[str, object]:
    """One search: where it went, what it asked, what came back, the ldapsearch to repeat it."""
    wire = query.wire
    command = commands.ldapsearch(query, query.password_file)
    return {
        "table": query.table,
        "server": query.server,
        "start_tls": wire.policy.start_tls if wire is not None else None,
        "bind_dn": _bind_dn(query),
        "base": query.base,
        "scope": query.scope,
        "filter": query.filter,
        "attributes": list(query.attributes),
        "result": query.result,
        "entries": list(query.entries),
        "values": list(query.values),
        "notes": list(query.notes),
        "ldapsearch": " ".join(command) if command is not None else None,
    }


def lookup_json(lookup: Lookup) -> dict[str, object]:
    """One lookup of a component with its searches, in the order they were sent."""
    return {
        "component": lookup.component,
        "source": lookup.source,
        "key": lookup.key,
        "answer": lookup.answer,
        "notes": list(lookup.notes),
        "reproduce": [" ".join(units) for units in lookup.reproduce],
        "queries": [query_json(query) for query in lookup.queries],
    }


def explain_json(lookups: Sequence[Lookup]) -> list[dict[str, object]]:
    """The `explain` list of one JSON object."""
    return [lookup_json(lookup) for lookup in lookups]


def with_explain(document: str, explain: Sequence[Sequence[Lookup]]) -> str:
    """A command's JSON list with an `explain` list added to each object (other fields unchanged)."""
    objects = json.loads(document)
    for item, lookups in zip(objects, explain, strict=True):
        item["explain"] = explain_json(lookups)
    return json.dumps(objects, indent=2) + "\n"


def _bind_dn(query: Query) -> str | None:
    if query.wire is None:
        return None
    bind = query.wire.policy.bind
    return None if bind.method == "none" or bind.anonymous else bind.dn


# ------------------------------------------------------------------------------------------------
# text


def command_lines(units: Sequence[str], indent: int, width: int = WIDTH) -> list[str]:
    """A shell command over several lines: `$ ` first, breaks between units with ` \\`."""
    lines: list[str] = []
    line = " " * indent + "$ " + units[0]
    for unit in units[1:]:
        if len(line) + 1 + len(unit) + 2 > width:
            lines.append(line + " \\")
            line = " " * (indent + 4) + unit
        else:
            line += " " + unit
    lines.append(line)
    return lines


def filter_pieces(text: str, room: int) -> list[str]:
    """A filter cut after `)` where a `(` follows, each piece at most `room` wide when possible."""
    if len(text) <= room:
        return [text]
    cuts = [i + 1 for i in range(len(text) - 1) if text[i] == ")" and text[i + 1] == "("]
    pieces: list[str] = []
    start = 0
    last = 0
    for cut in [*cuts, len(text)]:
        if cut - start > room and last > start:
            pieces.append(text[start:last])
            start = last
        last = cut
    pieces.append(text[start:])
    return pieces


def _field(label: str, value: str, indent: int) -> list[str]:
    head = " " * indent + f"{label:<7}"
    room = WIDTH - len(head)
    pieces = filter_pieces(value, room) if label == "filter" else [value]
    return [head + pieces[0]] + [" " * len(head) + piece for piece in pieces[1:]]


def _wrapped(prefix: str, text: str, indent: int) -> list[str]:
    """Prose wrapped at word boundaries, continuation lines indented under the text."""
    words = text.split(" ")
    first = " " * indent + prefix
    lines: list[str] = []
    line = first + words[0]
    for word in words[1:]:
        if len(line) + 1 + len(word) > WIDTH:
            lines.append(line)
            line = " " * len(first) + word
        else:
            line += " " + word
    lines.append(line)
    return lines


def _query_lines(query: Query, number: str, indent: int) -> list[str]:
    wire = query.wire
    lines = _wrapped(f"{number} ", f"search by {query.table}" if query.table else "search", indent)
    inner = indent + len(number) + 1
    if wire is None:
        lines += _field("server", "(not sent)", inner)
    else:
        how = " (StartTLS)" if wire.policy.start_tls else ""
        lines += _field("server", f"{wire.event.server}{how}", inner)
        dn = _bind_dn(query)
        bind = "none" if wire.policy.bind.method == "none" else dn or "anonymous"
        lines += _field("bind", bind, inner)
    lines += _field("base", f"{query.base or '(root)'}   scope {query.scope}", inner)
    lines += _field("filter", query.filter if query.filter is not None else "(empty)", inner)
    lines += _field("attrs", ",".join(query.attributes) or "(all)", inner)
    count = len(query.entries)
    lines += _field("result", f"{query.result}, {count} entr{'y' if count == 1 else 'ies'}", inner)
    lines += [" " * (inner + 7) + dn for dn in query.entries]
    for label, items in (("values", query.values), ("notes", query.notes)):
        for index, item in enumerate(items):
            lines += _wrapped(f"{label if index == 0 else '':<7}", item, inner)
    command = commands.ldapsearch(query, query.password_file)
    if command is not None:
        lines += command_lines(command, inner)
    return lines


def lookup_lines(lookup: Lookup, number: int, indent: int = 0) -> list[str]:
    """One lookup: who asks what, the answer, the program-level command, then each search."""
    head = f"{number}. "
    lines = _wrapped(
        head, f"{lookup.component}: {lookup.source}: key {lookup.key!r} -> {lookup.answer}", indent
    )
    inner = indent + len(head)
    for note in lookup.notes:
        lines += _wrapped("", note, inner)
    for units in lookup.reproduce:
        lines += command_lines(units, inner)
    for index, query in enumerate(lookup.queries, start=1):
        lines += _query_lines(query, f"{number}.{index}", inner)
    return lines


def explain_text(lookups: Sequence[Lookup], title: str = "", indent: int = 0) -> str:
    """The numbered lookups of one object (an address, a sender, a login, a key)."""
    lines = [" " * indent + title] if title else []
    if not lookups:
        lines.append(" " * (indent + 2) + "no LDAP query")
    for number, lookup in enumerate(lookups, start=1):
        lines += lookup_lines(lookup, number, indent + 2)
    return "\n".join(lines) + "\n"


def explain_section(sections: Sequence[tuple[str, Sequence[Lookup]]]) -> str:
    """The whole `--explain` part after a command's normal output."""
    text = "\n--explain: the LDAP queries, in the order each component sends them\n"
    for title, lookups in sections:
        text += "\n" + explain_text(lookups, title)
    if " -y " in text:
        text += "\n" + "\n".join(_wrapped("note: ", Y_NOTE, 0)) + "\n"
    return text
