"""ldap_prefetch.py without a server: each key's batch part and the answers handed back to keys.

The fast path of `lookup MAP -` is checked against real searches in
tests/integration/test_lookup_fast_path.py; these tests pin the parts a large directory rarely
reaches: the key part of a key ending in `@` (ldap_table(5): `%s` is replaced by the input key,
so `(mail=%s)` for `postmaster@` asks for `postmaster@`, never `postmaster`), the expansions
handed to LdapTable, and the shortcut for one-equality keys against the general evaluation.
"""

from __future__ import annotations

import random

from ldapdiag.config.postfix_cf import parse_postfix_cf
from ldapdiag.directory import filters as f
from ldapdiag.directory.directory import Entry, SearchOutcome
from ldapdiag.lint.schema import Schema
from ldapdiag.postfix.expand import quote_filter_value
from ldapdiag.postfix.keys import KeyPolicy
from ldapdiag.postfix.ldap_config import read_ldap_table
from ldapdiag.postfix.ldap_prefetch import ServerRules, _judged, _Plan, _Planner, _TablePrefetch
from ldapdiag.postfix.ldap_table import LdapTable

# attribute types as OpenLDAP 2.5's core.schema and cosine.schema publish them
TYPES = [
    "( 0.9.2342.19200300.100.1.3 NAME ( 'mail' 'rfc822Mailbox' ) EQUALITY caseIgnoreIA5Match "
    "SUBSTR caseIgnoreIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{256} )",
    "( 0.9.2342.19200300.100.1.1 NAME ( 'uid' 'userid' ) EQUALITY caseIgnoreMatch "
    "SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
]


def _rules() -> ServerRules:
    schema = Schema.from_descriptions(TYPES, ())
    return ServerRules(schema, _judged(schema))


def _table(query_filter: str) -> LdapTable:
    text = "server_host = ldap://h\nsearch_base = dc=x\nresult_attribute = mail\n"
    text += f"query_filter = {query_filter}\n"
    return LdapTable(read_ldap_table(parse_postfix_cf(text, "/t.cf")), None, keys=KeyPolicy())  # type: ignore[arg-type]


def test_a_key_ending_in_at_is_asked_for_whole() -> None:
    planner = _Planner(_table("(&(objectClass=PostfixBookMailAccount)(mail=%s))"), _rules())
    plan = planner.plan("Postmaster@")
    assert plan is not None
    assert plan.query == "(&(objectClass=PostfixBookMailAccount)(mail=postmaster@))"
    assert plan.local == f.Equality("mail", b"postmaster@")
    nested = _Planner(_table("(|(mail=%s)(uid=%u))"), _rules()).plan("postmaster@")
    assert nested is not None
    assert nested.local == f.Or((f.Equality("mail", b"postmaster@"), f.Equality("uid", b"postmaster")))


def test_recorded_expansions_are_the_tables_own() -> None:
    table = _table("(&(uid=%u)(|(mail=%s)(mail=%d)))")
    planner = _Planner(table, _rules())
    planner.queries = {}
    keys = ["a@b.example", "x@", "A*(B)\\@c", "no-domain", "@lead", "z@y@x"]
    for key in keys:
        planner.plan(key)
    context = table.config.context
    for key, (base, query) in planner.queries.items():
        assert base == table.config.search_base
        assert query == context.expand(table.config.query_filter, key, quote=quote_filter_value), key
    assert set(planner.queries) == {"a@b.example", "a*(b)\\@c", "z@y@x"}  # the others: no query
    assert not context.warnings


def _outcome(entries: list[Entry]) -> SearchOutcome:
    return SearchOutcome(tuple(entries), (), 0, "success", "")


def test_one_equality_shortcut_answers_like_the_general_evaluation() -> None:
    rng = random.Random(4)
    rules = _rules()
    table = _table("(mail=%s)")
    for _round in range(30):
        values = [f"u{rng.randrange(12)}@x" for _ in range(rng.randrange(1, 10))]
        entries = [
            Entry(f"cn=e{n},dc=x", (("mail", (value.encode(), value.upper().encode())),))
            for n, value in enumerate(values)
        ]
        keys = sorted({f"u{rng.randrange(14)}@x" for _ in range(8)})
        shortcut: dict[object, SearchOutcome] = {}
        general: dict[object, SearchOutcome] = {}
        for answers, wrap in ((shortcut, lambda node: node), (general, lambda node: f.And((node,)))):
            plans = [
                _Plan("dc=x", f"(mail={key})", (), wrap(f.Equality("mail", key.encode()))) for key in keys
            ]
            _TablePrefetch(table.config, None, rules, answers)._assign(plans, _outcome(entries))  # type: ignore[arg-type]
        assert shortcut.keys() == general.keys()
        for key, answer in shortcut.items():
            assert answer.entries == general[key].entries
            assert (answer.result_code, answer.result_name, answer.message) == (0, "success", "")
