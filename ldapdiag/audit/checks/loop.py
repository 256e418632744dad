"""loop: the alias expansion never ends. cleanup (cleanup_map1n.c) looks each result up again; an
address that maps to itself is kept, but a cycle through other addresses (a -> b -> a) runs into
virtual_alias_recursion_limit and the whole message is deferred: "451 4.6.0 Alias expansion error"
at the end of DATA (virtual_alias.py)."""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.audit.checks.context import CheckContext
from ldapdiag.audit.model import Finding
from ldapdiag.postfix.virtual_alias import fold

NESTING = "unreasonable virtual_alias_maps map nesting"


def check(ctx: CheckContext) -> Iterator[Finding]:
    steps = ctx.outcome.steps
    if ctx.outcome.verdict != "defer" or not any(NESTING in step.detail for step in steps):
        return
    graph = {fold(s.key): s.values for s in steps if s.action == "expand" and s.key is not None}
    yield Finding(
        "loop",
        f"alias expansion never ends: {cycle(graph, fold(ctx.outcome.address))} "
        f"(postfix: {NESTING}; {ctx.outcome.smtp_reply})",
    )


def cycle(graph: dict[str, tuple[str, ...]], start: str) -> str:
    """The first cycle reachable from `start` in the expansion graph, as `a -> b -> a`."""
    path: list[str] = []
    on_path: dict[str, int] = {}

    def walk(node: str) -> list[str] | None:
        if node in on_path:
            return [*path[on_path[node] :], node]
        on_path[node] = len(path)
        path.append(node)
        for target in graph.get(node, ()):
            if fold(target) != node:
                found = walk(fold(target))
                if found:
                    return found
        path.pop()
        del on_path[node]
        return None

    found = walk(start)
    return " -> ".join(found) if found else start
