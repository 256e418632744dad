"""The fast path of `lookup MAP -`: many keys of one ldap table answered with few searches.

postfix's dict_ldap sends one synchronous search per key (dict_ldap_lookup()). For a batch of
keys this module sends, per search base and key-independent part of the filter, one search for
a whole batch of keys, `(&STATIC(|KEYPART1 KEYPART2 ...))`, and hands each entry back to the keys
whose own filter it matches, evaluated here with the server's matching rules. Each key's own
filter, with the entries that match it in server order, is then given to LdapTable as the known
answer to that search (LdapTable.answers): the key's lookup still runs in full (folding, domain
list, expansion and quoting, result_format, size limit, special/leaf/terminal recursion, errors),
only the network round trip is saved. Recursion searches are cached the same way, within one run.

A key is left to its own search, exactly as postfix sends it, wherever the local verdict could
be wrong:
- the server is not OpenLDAP (back-mdb returns candidates in entry ID order, so the entries of one
  key keep their order inside a batch; other servers promise nothing) or its schema is unreadable;
- a key-dependent assertion is not an equality on a plain attribute type (no options, no subtypes)
  whose EQUALITY rule is caseIgnoreIA5Match, caseExactIA5Match, caseIgnoreMatch or caseExactMatch,
  or its value (or a value of a returned entry) is not printable ASCII without spaces (slapd's
  space and Unicode normalization is not reproduced here); NOT, substrings, extensible match,
  presence, ordering and approximate assertions stay on the server, and a filter whose
  key-dependent part the server must evaluate is sent per key;
- the batch search did not succeed (a size or time limit, a referral, any error: smaller batches,
  then single keys), returned references, or returned an entry no key claims (e.g. an ACL hides
  the attribute the filter matched on);
- the key matches more entries than the table's size_limit (the server decides what happens);
- a returned entry repeats an attribute the filter judges (the entry shows libldap's view of it,
  the first copy's values each time, while the server matched on every copy).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from ldap3.core.exceptions import LDAPException

from ldapdiag.directory import filters as f
from ldapdiag.directory.directory import (
    Directory,
    Entry,
    SearchOutcome,
    answered_event,
    finished_event,
    search_outcome,
)
from ldapdiag.directory.ldap3_filter import SCOPES, SearchSpec, SearchStream
from ldapdiag.directory.problems import DirectoryProblem, from_exception
from ldapdiag.directory.trace import SCOPE_NAMES, TraceEvent
from ldapdiag.lint.schema import Schema
from ldapdiag.postfix.expand import KEY_DOMAIN, KEY_USER, quote_dn_value, quote_filter_value
from ldapdiag.postfix.ldap_table import LdapTable

# Keys per batch search (the lookup's and the audit's). slapd tests each candidate entry against the
# OR's terms one by one, so its time grows with the square of a batch's size. Its CPU time for the
# bench's 10,000 lookup keys: about 0.22 s at 200 keys a batch, 0.16 s at 100; for a 10,000-entry
# audit: 3.4-4.1 s at 200, 2.3-2.9 s at 100 (9 runs each; at 50 no less, and more searches).
BATCH_SIZE = 100
LOOKUP_WINDOW = 8  # `lookup MAP -` (_TablePrefetch.run): batch searches in flight at once
SIZE_LIMIT_EXCEEDED = 4
_IGNORE_CASE = frozenset({"caseignoreia5match", "1.3.6.1.4.1.1466.109.114.2", "caseignorematch", "2.5.13.2"})
_EXACT = frozenset({"caseexactia5match", "1.3.6.1.4.1.1466.109.114.1", "caseexactmatch", "2.5.13.5"})

AnswerKey = tuple[str, int, str, tuple[str, ...]]


_SIMPLE = re.compile(rb"[\x21-\x7e]+")
_SIMPLE_TEXT = re.compile(r"[\x21-\x7e]+")  # the same for a key (a str with surrogate escapes)


def _simple(value: bytes) -> bool:
    """Printable ASCII without spaces: where slapd's normalization is only (maybe) case folding."""
    return _SIMPLE.fullmatch(value) is not None


@dataclass(frozen=True)
class ServerRules:
    """What the local evaluation needs from the server: its schema, and the types it can judge."""

    schema: Schema
    judged: dict[str, bool] = field(default_factory=dict)  # lowercased type name -> ignore case
    _types: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def read(cls, directory: Directory) -> ServerRules | None:
        """The root DSE and subschema entry (two searches); None when the fast path cannot be exact."""
        root = directory.root_dse()
        if not root.readable or "openldap" not in root.vendor.lower():
            return None
        base = (root.get("subschemaSubentry") or ("cn=Subschema",))[0]
        outcome = directory.search(base, "base", "(objectClass=subschema)", ["attributeTypes"], size_limit=0)
        if not outcome.ok or not outcome.entries:
            return None
        entry = outcome.entries[0]
        schema = Schema.from_descriptions(entry.values("attributeTypes"), ())  # types and rules only
        if not schema.attributes:
            return None
        return cls(schema, _judged(schema))

    def rule(self, attribute: str) -> bool | None:
        """For an attribute description in a filter: ignore case (True), exact (False), or None."""
        if ";" in attribute:
            return None
        return self.judged.get(attribute.lower())

    def type_of(self, name: str) -> str | None:
        """The OID of the attribute type a returned attribute name (options allowed) belongs to."""
        try:
            return self._types[name]
        except KeyError:
            attr = self.schema.attribute(name)
            oid = self._types[name] = attr.oid if attr is not None else None
            return oid


def supertypes(schema: Schema) -> frozenset[str]:
    """OIDs of the attribute types some other type is a subtype of (a search for one returns its
    subtypes too: the server's values cannot be judged here, nor stripped by name)."""
    supers: set[str] = set()
    for attr in {id(a): a for a in schema.attributes.values()}.values():
        current, seen = attr, set()
        while current is not None and current.sup and current.oid not in seen:
            seen.add(current.oid)
            parent = schema.attribute(current.sup)
            if parent is not None:
                supers.add(parent.oid)
            current = parent
    return frozenset(supers)


def _judged(schema: Schema) -> dict[str, bool]:
    """Every name of the attribute types without subtypes whose EQUALITY rule is judged here."""
    types = {id(attr): attr for attr in schema.attributes.values()}.values()
    with_subtypes = supertypes(schema)
    judged: dict[str, bool] = {}
    for attr in types:
        if attr.oid in with_subtypes or attr.oid == "2.5.4.0":  # objectClass
            continue
        rule = (schema.equality(attr.oid) or "").lower()
        if rule in _IGNORE_CASE or rule in _EXACT:
            for name in (attr.oid, *attr.names):
                judged[name.lower()] = rule in _IGNORE_CASE
    return judged


# ---------------------------------------------------------------------------------------------
# splitting a key's filter


class _Plan(NamedTuple):
    """One key's search: its own filter, the part the server judges, the part judged here."""

    base: str
    query: str
    static: tuple[f.Filter, ...]
    local: f.Filter


def _local(node: f.Filter, rules: ServerRules) -> bool:
    """Whether `node` can be judged here: AND/OR of equalities on judged types with simple values."""
    match node:
        case f.And(children) | f.Or(children):
            return bool(children) and all(_local(child, rules) for child in children)
        case f.Equality(attribute, value):
            return rules.rule(attribute) is not None and _simple(value)
    return False


def _split(node: f.Filter, rules: ServerRules) -> tuple[tuple[f.Filter, ...], f.Filter] | None:
    """(server part, local part) with node == AND(server part, local part); None: not batchable."""
    if _local(node, rules):
        return (), node
    if isinstance(node, f.And):
        local = tuple(child for child in node.filters if _local(child, rules))
        static = tuple(child for child in node.filters if not _local(child, rules))
        if local:
            return static, local[0] if len(local) == 1 else f.And(local)
    return None


_MARK_USER, _MARK_DOMAIN = "zldapdiagmarkuserz", "zldapdiagmarkdomainz"
_MARK_KEY = f"{_MARK_USER}@{_MARK_DOMAIN}"
_MARK_KEY_BYTES = _MARK_KEY.encode()
_MARK_USER_BYTES, _MARK_DOMAIN_BYTES = _MARK_USER.encode(), _MARK_DOMAIN.encode()
_CODES = frozenset("sudSUD%")


class _Planner:
    """One table's filter template, parsed once with a marker key and split into its two parts.

    For a key of printable ASCII without spaces, postfix's quoting (`* ( ) \\` as `\\XX`) makes
    the filter text parse to the marker tree with the marker replaced by the key's parts, so keys
    need no parsing of their own. Templates with `%1`..`%9` are left to per-key searches.
    """

    def __init__(self, table: LdapTable, rules: ServerRules) -> None:
        self.table = table
        self.static: tuple[f.Filter, ...] = ()
        self.signature = ""
        self.local: f.Filter | None = None
        self.whole: str | None = None  # the local part is `(ATTRIBUTE=%s)`: the key is its value
        # When set (lookup_keys()), plan() records each folded key's (base, query) here for
        # LdapTable, which then skips expanding them again (only when they logged no warning).
        self.queries: dict[str, tuple[str, str]] | None = None
        template = table.config.query_filter
        codes = {template[i + 1 : i + 2] for i, char in enumerate(template) if char == "%"}
        if not codes <= _CODES or "zldapdiagmark" in template.lower():
            return
        query = self._expand(_MARK_KEY)
        if query is None:
            return
        try:
            node = f.parse(query)
        except f.FilterSyntaxError:
            return
        split = _split(node, rules) if not isinstance(node, f.EmptyFilter) else None
        if split is None or any("zldapdiagmark" in f.encode(part) for part in split[0]):
            return
        self.static, self.local = split
        self.signature = "".join(f.encode(part) for part in self.static)
        if isinstance(self.local, f.Equality) and self.local.value == _MARK_KEY_BYTES:
            self.whole = self.local.attribute
        context = table.config.context
        if (
            template.count("%") == 1
            and "%s" in template
            and "%" not in table.config.search_base
            and not context.flags & (KEY_DOMAIN | KEY_USER)
            and not context.nparts
        ):  # expand() of any non-empty key: the template around the quoted key, no warning
            before, after = template.split("%s")
            self._around: tuple[str, str] | None = (before, after)
        else:
            self._around = None

    def _expand(self, key: str) -> str | None:
        config = self.table.config
        warnings = config.context.warnings
        before = len(warnings)
        try:
            return config.context.expand(config.query_filter, key, quote=quote_filter_value)
        finally:
            del warnings[before:]  # the lookup itself logs them

    def plan(self, key: str) -> _Plan | None:
        """The search LdapTable sends for `key`, split; None: it sends none, or not batchable."""
        if self.local is None or _SIMPLE_TEXT.fullmatch(key) is None:
            return None
        if self.table.keys.fold:
            key = key.lower()  # casefold() of ASCII text
        config = self.table.config
        around = self._around
        if around is not None:
            query = around[0] + quote_filter_value(key) + around[1]
            if self.queries is not None:
                self.queries[key] = (config.search_base, query)
            return self._plan(config.search_base, query, key)
        context = config.context
        warnings = context.warnings
        before = len(warnings)
        try:
            expanded = context.expand(config.query_filter, key, quote=quote_filter_value)
            if expanded is None:
                return None
            base = config.search_base  # static: what expand() gives once the query expanded
            if "%" in config.search_base:
                expanded_base = context.expand(config.search_base, key, quote=quote_dn_value)
                if expanded_base is None:
                    return None
                base = expanded_base
            if self.queries is not None and len(warnings) == before:
                self.queries[key] = (base, expanded)
        finally:
            del warnings[before:]  # the lookup itself logs them
        return self._plan(base, expanded, key)

    def _plan(self, base: str, query: str, key: str) -> _Plan:
        raw = key.encode()
        assert self.local is not None
        if self.whole is not None:
            local: f.Filter = _equality(self.whole, raw)
        else:
            user, _, domain = key.rpartition("@") if "@" in key else (key, "", "")
            local = _substitute(self.local, user.encode(), domain.encode(), raw)
        return _Plan(base, query, self.static, local)


def _equality(attribute: str, value: bytes) -> f.Equality:
    """f.Equality(attribute, value) for an attribute the marker tree's parse already checked."""
    node = object.__new__(f.Equality)
    object.__setattr__(node, "attribute", attribute)
    object.__setattr__(node, "value", value)
    return node


def _substitute(node: f.Filter, user: bytes, domain: bytes, whole: bytes | None = None) -> f.Filter:
    """The marker tree's local part for one key (`whole`: the key itself, what %s gives)."""
    kind = type(node)  # the tree holds these classes themselves (filters.py has no subclasses of them)
    if kind is f.Equality:
        value = node.value  # type: ignore[attr-defined]
        if b"zldapdiagmark" not in value:
            return node
        if whole is None:
            whole = user + b"@" + domain if domain else user
        value = value.replace(_MARK_KEY_BYTES, whole).replace(_MARK_USER_BYTES, user)
        return _equality(node.attribute, value.replace(_MARK_DOMAIN_BYTES, domain))  # type: ignore[attr-defined]
    if kind is f.And or kind is f.Or:
        children = node.filters  # type: ignore[attr-defined]
        return _branch(kind, tuple([_substitute(child, user, domain, whole) for child in children]))
    return node


def _branch(kind: type[f.And] | type[f.Or], children: tuple[f.Filter, ...]) -> f.Filter:
    """kind(children) for children made from a checked tree (no second check of each child)."""
    node = object.__new__(kind)
    object.__setattr__(node, "filters", children)
    return node


# ---------------------------------------------------------------------------------------------
# judging entries


class _Values:
    """An entry's values of the judged types: normalized simple values, and whether any is not simple."""

    def __init__(self, entry: Entry, rules: ServerRules, types: dict[str, bool]) -> None:
        self.values: dict[str, set[bytes]] = {}
        self.unsure: set[str] = set()
        seen: set[str] = set()
        for name, raw in entry.raw:
            oid = rules.type_of(name)
            if oid is None or oid not in types:
                continue
            if name.lower() in seen:  # a repeated attribute: Entry shows libldap's view, not what
                self.unsure.add(oid)  # the server matched (directory.libldap_view)
            seen.add(name.lower())
            bucket = self.values.setdefault(oid, set())
            for value in raw:
                if not _simple(value):
                    self.unsure.add(oid)
                else:
                    bucket.add(value.lower() if types[oid] else value)


def _verdict(node: f.Filter, values: _Values, rules: ServerRules) -> bool | None:
    """Kleene logic: True, False, or None (cannot tell here)."""
    match node:
        case f.Equality(attribute, value):
            oid = rules.type_of(attribute)
            ignore = rules.rule(attribute)
            wanted = value.lower() if ignore else value
            if oid is not None and wanted in values.values.get(oid, ()):
                return True
            return None if oid in values.unsure else False
        case f.And(children):
            verdicts = [_verdict(child, values, rules) for child in children]
            return False if False in verdicts else (True if all(verdicts) else None)
        case f.Or(children):
            verdicts = [_verdict(child, values, rules) for child in children]
            return True if True in verdicts else (False if all(v is False for v in verdicts) else None)
    return None


def _equalities(node: f.Filter) -> tuple[f.Equality, ...]:
    """_leaves() of a key's local filter; without a walk for one equality or an AND/OR of them
    (then the node's own `filters` tuple itself: `leaves is node.filters` tells that case)."""
    kind = type(node)
    if kind is f.Equality:
        return (node,)  # type: ignore[return-value]
    if (kind is f.Or or kind is f.And) and all(type(leaf) is f.Equality for leaf in node.filters):  # type: ignore[attr-defined]
        return node.filters  # type: ignore[attr-defined,no-any-return]
    return tuple(_leaves(node))


def _leaves(node: f.Filter) -> Iterator[f.Equality]:
    if isinstance(node, f.Equality):
        yield node
    elif isinstance(node, f.And | f.Or):
        for child in node.filters:
            yield from _leaves(child)


# ---------------------------------------------------------------------------------------------
# the batches


class BatchSearch(Protocol):
    """The settings a batch is searched with, as LdapTableConfig names them (the audit's dovecot
    batches bring their own: audit/batch.py)."""

    @property
    def attributes(self) -> Sequence[str]: ...
    @property
    def scope(self) -> int | str: ...
    @property
    def timeout(self) -> int: ...
    @property
    def dereference(self) -> int: ...
    @property
    def size_limit(self) -> int: ...


@dataclass
class _TablePrefetch:
    """Prefetching for one table (`table`: planning its keys) over one connected Directory."""

    search: BatchSearch
    directory: Directory
    rules: ServerRules
    answers: dict[AnswerKey, SearchOutcome]
    queries: dict[str, tuple[str, str]] | None = None  # _Planner.queries
    table: LdapTable | None = None

    def run(self, keys: Sequence[str], size: int = BATCH_SIZE, window: int = LOOKUP_WINDOW) -> None:
        """Batch searches for these keys (`size` keys each, `window` in flight), their answers known."""
        batches, _planned = self.plan(keys, size)
        outcomes = self.directory.search_many([self._request(plans) for plans in batches], window)
        for plans, outcome in zip(batches, outcomes, strict=True):
            self._judge(plans, outcome)

    def plan(self, keys: Sequence[str], size: int) -> tuple[list[list[_Plan]], list[_Plan | None]]:
        """The batches for these keys, and each key's plan (None: no plan, or answered already)."""
        assert self.table is not None  # only the table's own prefetch plans
        attributes = tuple(self.search.attributes)
        scope = self.search.scope
        answers = self.answers
        groups: dict[str, dict[str, _Plan]] = {}
        planner = _Planner(self.table, self.rules)
        planner.queries = self.queries
        plan_of = planner.plan
        planned: list[_Plan | None] = []
        for key in keys:
            plan = plan_of(key)
            if plan is None or (plan.base, scope, plan.query, attributes) in answers:
                planned.append(None)
                continue
            planned.append(plan)
            plans = groups.get(plan.base)
            if plans is None:
                plans = groups[plan.base] = {}
            plans[plan.query] = plan
        batches = [
            batch[start : start + size]
            for batch in (list(plans.values()) for plans in groups.values() if len(plans) > 1)
            for start in range(0, len(batch), size)
        ]  # one query alone: its own search is as fast
        return batches, planned

    def _request(self, plans: list[_Plan]) -> SearchSpec:
        """The batch search for these keys: `(&STATIC(|KEYPART...))` and the attributes to judge by."""
        config = self.search
        first = plans[0]
        either = f.Or(tuple(plan.local for plan in plans))
        node = f.And((*first.static, either)) if first.static else either
        wanted = list(config.attributes)
        lowered = {name.lower() for name in wanted}
        seen: set[str] = set()
        for plan in plans:
            local = plan.local
            for leaf in _equalities(local):
                name = leaf.attribute  # type: ignore[attr-defined]
                if name in seen:
                    continue
                seen.add(name)
                if name.lower() not in lowered:
                    lowered.add(name.lower())
                    wanted.append(name)
        return SearchSpec(first.base, config.scope, node, wanted, 0, config.timeout, config.dereference)

    def _batch(self, plans: list[_Plan]) -> None:
        """One search for these keys; smaller batches after a size limit; nothing known on anything else."""
        spec = self._request(plans)
        outcome = self.directory.search(
            spec.base,
            spec.scope,
            spec.node,
            spec.attributes,
            size_limit=spec.size_limit,
            time_limit=spec.time_limit,
            deref=spec.deref,  # type: ignore[arg-type]
        )
        self._judge(plans, outcome)

    def _judge(self, plans: list[_Plan], outcome: SearchOutcome) -> None:
        """A batch's answer: known answers for its keys, or smaller batches after a size limit."""
        if outcome.result_code == SIZE_LIMIT_EXCEEDED and len(plans) > 1:
            half = len(plans) // 2
            self._batch(plans[:half])
            self._batch(plans[half:])
            return
        if outcome.result_code != 0 or outcome.references or outcome.referrals:
            return
        self._assign(plans, outcome)

    def _assign(self, plans: list[_Plan], outcome: SearchOutcome) -> None:
        """Each key's entries, in server order; unknown verdicts leave the key to its own search."""
        config = self.search
        rules = self.rules
        types: dict[str, bool] = {}
        names: set[str] = set()
        for plan in plans:
            local = plan.local
            for leaf in _equalities(local):
                if leaf.attribute in names:  # type: ignore[attr-defined]
                    continue
                names.add(leaf.attribute)  # type: ignore[attr-defined]
                oid = rules.type_of(leaf.attribute)  # type: ignore[attr-defined]
                ignore = rules.rule(leaf.attribute)  # type: ignore[attr-defined]
                if oid is not None and ignore is not None:
                    types[oid] = ignore
        index: dict[tuple[str, bytes], list[int]] = {}
        unsure: dict[str, list[int]] = {}
        judged = [_Values(entry, rules, types) for entry in outcome.entries]
        for position, values in enumerate(judged):
            for oid, bucket in values.values.items():
                for value in bucket:
                    index.setdefault((oid, value), []).append(position)
            for oid in values.unsure:
                unsure.setdefault(oid, []).append(position)
        claimed: set[int] = set()
        found: dict[str, list[int]] = {}
        oids: dict[str, str] = {}
        for plan in plans:
            local = plan.local
            if not unsure and type(local) is f.Equality:
                # _verdict() of one equality, no entry unsure: True exactly for the entries whose
                # normalized values hold the key's (the index), False for every other entry.
                oid = oids.get(local.attribute)
                if oid is None:
                    oid = oids[local.attribute] = rules.type_of(local.attribute) or ""
                hits = index.get((oid, local.value.lower() if types.get(oid) else local.value), [])
                claimed.update(hits)
                found[plan.query] = hits
                continue
            candidates: set[int] = set()
            leaves = _equalities(local)
            for leaf in leaves:
                oid = self.rules.type_of(leaf.attribute) or ""
                value = leaf.value.lower() if types.get(oid) else leaf.value
                candidates.update(index.get((oid, value), ()))
                candidates.update(unsure.get(oid, ()))
            if not unsure and type(local) is f.Or and leaves is local.filters:  # an OR of equalities only
                # _verdict() of an OR of equalities, no entry unsure: True exactly for the entries
                # the index gives for one of them (the candidates), False for every other entry.
                claimed.update(candidates)
                found[plan.query] = sorted(candidates)
                continue
            matched: list[int] = []
            for position in sorted(candidates):
                verdict = _verdict(plan.local, judged[position], self.rules)
                if verdict is None:
                    claimed.update(candidates)
                    break
                if verdict:
                    matched.append(position)
            else:
                claimed.update(matched)
                found[plan.query] = matched
        if len(claimed) != len(outcome.entries):
            return  # an entry no key's filter matches here: something the server sees and we do not
        attributes = tuple(config.attributes)
        scope, size_limit, answers, entries = config.scope, config.size_limit, self.answers, outcome.entries
        none = SearchOutcome(
            entries=(), references=(), result_code=0, result_name=outcome.result_name, message=outcome.message
        )  # frozen: every key without entries shares it
        for plan in plans:
            positions = found.get(plan.query)
            if positions is None or (size_limit and len(positions) > size_limit):
                continue
            answers[(plan.base, scope, plan.query, attributes)] = (
                with_changes(none, entries=tuple([entries[at] for at in positions])) if positions else none
            )


def with_changes(outcome: SearchOutcome, **changes: object) -> SearchOutcome:
    """dataclasses.replace(outcome, **changes), without its per-call cost (frozen, no slots, no
    __post_init__): the answers of a batch are made by the ten thousand."""
    copy = object.__new__(SearchOutcome)
    copy.__dict__.update(outcome.__dict__)
    copy.__dict__.update(changes)
    return copy


# ---------------------------------------------------------------------------------------------
# what lookup_keys() calls


def ldap_tables(table: object) -> list[LdapTable]:
    """The ldap tables of a table or table list (TableList.tables), in order."""
    if isinstance(table, LdapTable):
        return [table]
    return [t for t in getattr(table, "tables", ()) if isinstance(t, LdapTable)]


PUMP = 16  # lookups between two looks at a stream's answers (and refills of its window)


class _Streamed:
    """One table's batch searches, read between its lookups: the server answers while keys are
    looked up, and each key waits for its own batch only (Prefetcher with a single ldap table).

    Its connection serves nothing else until every batch is answered: a key whose answer is not
    known (it sends its own search) first waits for all of them. Traced as search_many() traces
    them; faults are not logged (the keys' own searches decide what the directory answers).
    """

    def __init__(
        self, prefetch: _TablePrefetch, batches: list[list[_Plan]], planned: list[_Plan | None], start: int
    ) -> None:
        assert prefetch.table is not None  # a table's own prefetch (Prefetcher)
        self.prefetch = prefetch
        self.table = prefetch.table
        self.batches = batches
        self.directory = directory = prefetch.directory
        self.session = directory.connect()
        self.specs = [prefetch._request(plans) for plans in batches]
        self.stream: SearchStream | None = SearchStream(self.session.connection, self.specs, LOOKUP_WINDOW)
        self.texts = self.stream.texts  # each filter's text, once sent
        self.began = time.monotonic()
        self.start = start
        self.done = [False] * len(batches)
        self.deferred: list[tuple[list[_Plan], SearchOutcome]] = []  # split after the stream ended
        self.scope, self.attributes = prefetch.search.scope, tuple(prefetch.search.attributes)
        number = {(plan.base, plan.query): at for at, plans in enumerate(batches) for plan in plans}
        self.batch_of = [-1 if plan is None else number.get((plan.base, plan.query), -1) for plan in planned]
        self.planned = planned

    def before(self, index: int) -> None:
        """Before keys[index] is looked up: its batch answered; everything answered if it must search."""
        position = index - self.start
        number = self.batch_of[position] if 0 <= position < len(self.batch_of) else -1
        if number >= 0:
            while not self.done[number] and self.stream is not None:
                self._step(block=True)
            plan = self.planned[position]
            if (
                plan is not None
                and (plan.base, self.scope, plan.query, self.attributes) in self.prefetch.answers
            ):
                if position % PUMP == 0 and self.stream is not None:
                    self._step(block=False)  # keep the server busy
                return
        self.drain()

    def drain(self) -> None:
        """Every batch answered (or given up), the split ones searched again: the connection is free."""
        while self.stream is not None:
            self._step(block=True)
        deferred, self.deferred = self.deferred, []
        faults = self.directory.trace.faults
        mark = faults.mark()
        try:
            for plans, outcome in deferred:
                self.prefetch._judge(plans, outcome)
        except DirectoryProblem:
            self.table.connection.reset()  # the next lookup connects again
        finally:
            del faults.faults[mark:]

    def _step(self, block: bool) -> None:
        stream = self.stream
        assert stream is not None
        session = self.session
        try:
            finished = stream.step(block)
        except (LDAPException, OSError) as error:
            problem = from_exception(error, session.url, "search", session.operation_timeout)
            for position in range(len(self.specs)):
                if not self.done[position]:
                    self.directory.trace.add(
                        finished_event(self._event(position), self.began, problem.kind.value)
                    )
            session.closed = True
            self.stream = None
            self.done = [True] * len(self.done)
            self.deferred = []  # their keys search on their own, on the next connection
            self.table.connection.reset()  # the next lookup connects again, as after search_many()
            return
        for position, result in finished:
            spec = self.specs[position]
            outcome = search_outcome(
                result.result,
                result.entries,
                result.references,
                spec.base,
                session.url,
                self.directory.policy,
            )
            self.directory.trace.add(answered_event(self._event(position), self.began, outcome))
            plans = self.batches[position]
            if outcome.result_code == SIZE_LIMIT_EXCEEDED and len(plans) > 1:
                self.deferred.append((plans, outcome))  # smaller batches once the stream is done
            else:
                self.prefetch._judge(plans, outcome)
            self.done[position] = True
        if stream.done:
            self.stream = None

    def _event(self, position: int) -> TraceEvent:
        spec = self.specs[position]
        return TraceEvent(
            self.directory.component,
            "search",
            self.session.url,
            0.0,
            base=spec.base,
            scope=SCOPE_NAMES[SCOPES[spec.scope]],
            filter=self.texts[position] or f.encode(spec.node),
            attributes=tuple(spec.attributes),
        )


class Prefetcher:
    """Fills each ldap table's known answers once the table has connected (its first lookup did)."""

    def __init__(self, table: object, keys: Sequence[str]) -> None:
        self.keys = keys
        self.pending = ldap_tables(table) if len(keys) > 2 else []
        self._rules: dict[int, ServerRules | None] = {}
        self._streams: list[_Streamed] = []
        self._single = len(self.pending) == 1  # its connection serves no other table's lookups
        for ldap_table in self.pending:
            ldap_table.answers = {}  # also caches identical searches (recursion) within the run
            ldap_table.queries = {}  # each planned key's expanded base and filter

    def before(self, index: int) -> None:
        """Call before looking up keys[index]: prefetch the keys from here on for connected tables."""
        if self.pending:
            for table in list(self.pending):
                directory = table.connection.get()
                session = directory.session
                if session is None or session.closed:
                    continue
                self.pending.remove(table)
                self._prefetch(table, directory, index)
        for streamed in self._streams:
            streamed.before(index)

    def _prefetch(self, table: LdapTable, directory: Directory, start: int) -> None:
        faults = directory.trace.faults
        mark = faults.mark()
        keys = self.keys[start:]
        try:
            if id(directory) not in self._rules:
                self._rules[id(directory)] = ServerRules.read(directory)
            rules = self._rules[id(directory)]
            answers = table.answers
            usable = table.config.timeout > 0 and _plain_attributes(table)
            if rules is None or answers is None or not usable:
                return
            prefetch = _TablePrefetch(table.config, directory, rules, answers, table.queries, table)
            if not self._single or table.config.special_attributes:  # recursion sends searches
                prefetch.run(keys)
                return
            batches, planned = prefetch.plan(keys, BATCH_SIZE)
            if batches:
                self._streams.append(_Streamed(prefetch, batches, planned, start))
        except DirectoryProblem:
            table.connection.reset()  # the next lookup connects again and meets the problem itself
        finally:
            del faults.faults[mark:]  # the keys' own searches decide what the directory answers


def _plain_attributes(table: LdapTable) -> bool:
    """Result attributes postfix asks for by name (not none, all, operational, or no attributes)."""
    attributes = table.config.attributes
    return bool(attributes) and not any(name in ("*", "+", "1.1") for name in attributes)
