"""The audit's offline parts: which filter assertions hold the key, the enumeration filter, cycles."""

from __future__ import annotations

from ldapdiag.audit.checks.loop import cycle
from ldapdiag.audit.enumerate import key_assertions, presence_filter
from ldapdiag.directory import filters as f


def test_key_assertions_become_presence_assertions() -> None:
    node = f.parse("(&(objectClass=inetOrgPerson)(|(mail=%s)(mailAlias=%u@example.org)))")
    keys, other = key_assertions(node)
    assert [(k.attribute, k.template) for k in keys] == [("mail", "%s"), ("mailAlias", "%u@example.org")]
    assert not other
    assert f.encode(presence_filter(node)) == "(&(objectClass=inetOrgPerson)(|(mail=*)(mailAlias=*)))"


def test_key_outside_equality_is_not_enumerated() -> None:
    for text in ("(mail=*@%s)", "(!(mail=%s))", "(mail>=%s)"):
        assert key_assertions(f.parse(text))[1], text
    assert key_assertions(f.parse("(|)")) == ([], False)


def test_cycle_is_named() -> None:
    graph = {"a@x": ("b@x",), "b@x": ("c@x", "a@x"), "c@x": ("c@x",)}
    assert cycle(graph, "a@x") == "a@x -> b@x -> a@x"
    assert cycle({"a@x": ("a@x",)}, "a@x") == "a@x"
