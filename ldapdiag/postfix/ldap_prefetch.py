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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from ldapdiag.directory import filters as f
from ldapdiag.directory.directory import Directory, Entry, SearchOutcome
from ldapdiag.directory.ldap3_filter import SearchSpec
from ldapdiag.directory.problems import DirectoryProblem
from ldapdiag.lint.schema import Schema
from ldapdiag.postfix.expand import quote_dn_value, quote_filter_value
from ldapdiag.postfix.keys import casefold
from ldapdiag.postfix.ldap_table import LdapTable

BATCH_SIZE = 200  # keys per batch search
WINDOW = 4  # batch searches in flight on the connection at once (Directory.search_many)
SIZE_LIMIT_EXCEEDED = 4
_IGNORE_CASE = frozenset({"caseignoreia5match", "1.3.6.1.4.1.1466.109.114.2", "caseignorematch", "2.5.13.2"})
_EXACT = frozenset({"caseexactia5match", "1.3.6.1.4.1.1466.109.114.1", "caseexactmatch", "2.5.13.5"})

AnswerKey = tuple[str, int, str, tuple[str, ...]]


_SIMPLE = re.compile(rb"[\x21-\x7e]+")


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


def _judged(schema: Schema) -> dict[str, bool]:
    """Every name of the attribute types without subtypes whose EQUALITY rule is judged here."""
    types = {id(attr): attr for attr in schema.attributes.values()}.values()
    with_subtypes = set()
    for attr in types:
        seen: set[str] = set()
        current = attr
        while current is not None and current.sup and current.oid not in seen:
            seen.add(current.oid)
            parent = schema.attribute(current.sup)
            if parent is not None:
                with_subtypes.add(parent.oid)
            current = parent
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


@dataclass(frozen=True)
class _Plan:
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
        if self.local is None or not _simple(key.encode("utf-8", "surrogateescape")):
            return None
        if self.table.keys.fold:
            key = casefold(key, self.table.keys.utf8)
        config = self.table.config
        query = self._expand(key)
        if query is None:
            return None
        base: str | None = config.search_base  # static: what expand() gives once the query expanded
        if "%" in config.search_base:
            warnings = config.context.warnings
            before = len(warnings)
            try:
                base = config.context.expand(config.search_base, key, quote=quote_dn_value)
            finally:
                del warnings[before:]
            if base is None:
                return None
        user, _, domain = key.rpartition("@") if "@" in key else (key, "", "")
        local = _substitute(self.local, user.encode(), domain.encode())
        return _Plan(base, query, self.static, local)


def _equality(attribute: str, value: bytes) -> f.Equality:
    """f.Equality(attribute, value) for an attribute the marker tree's parse already checked."""
    node = object.__new__(f.Equality)
    object.__setattr__(node, "attribute", attribute)
    object.__setattr__(node, "value", value)
    return node


def _substitute(node: f.Filter, user: bytes, domain: bytes) -> f.Filter:
    """The marker tree's local part for one key."""
    match node:
        case f.Equality(attribute, value):
            if b"zldapdiagmark" not in value:
                return node
            whole = user + b"@" + domain if domain else user
            value = value.replace(_MARK_KEY.encode(), whole)
            return _equality(
                attribute, value.replace(_MARK_USER.encode(), user).replace(_MARK_DOMAIN.encode(), domain)
            )
        case f.And(children):
            return f.And(tuple(_substitute(child, user, domain) for child in children))
        case f.Or(children):
            return f.Or(tuple(_substitute(child, user, domain) for child in children))
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


def _leaves(node: f.Filter) -> Iterator[f.Equality]:
    if isinstance(node, f.Equality):
        yield node
    elif isinstance(node, f.And | f.Or):
        for child in node.filters:
            yield from _leaves(child)


# ---------------------------------------------------------------------------------------------
# the batches


@dataclass
class _TablePrefetch:
    """Prefetching for one table over one connected Directory."""

    table: LdapTable
    directory: Directory
    rules: ServerRules
    answers: dict[AnswerKey, SearchOutcome]

    def run(self, keys: Sequence[str]) -> None:
        config = self.table.config
        attributes = tuple(config.attributes)
        groups: dict[str, dict[str, _Plan]] = {}
        planner = _Planner(self.table, self.rules)
        for key in keys:
            plan = planner.plan(key)
            if plan is None or (plan.base, config.scope, plan.query, attributes) in self.answers:
                continue
            groups.setdefault(plan.base, {})[plan.query] = plan
        batches = [
            batch[start : start + BATCH_SIZE]
            for batch in (list(plans.values()) for plans in groups.values() if len(plans) > 1)
            for start in range(0, len(batch), BATCH_SIZE)
        ]  # one query alone: its own search is as fast
        outcomes = self.directory.search_many([self._request(plans) for plans in batches], WINDOW)
        for plans, outcome in zip(batches, outcomes, strict=True):
            self._judge(plans, outcome)

    def _request(self, plans: list[_Plan]) -> SearchSpec:
        """The batch search for these keys: `(&STATIC(|KEYPART...))` and the attributes to judge by."""
        config = self.table.config
        first = plans[0]
        either = f.Or(tuple(plan.local for plan in plans))
        node = f.And((*first.static, either)) if first.static else either
        wanted = list(config.attributes)
        lowered = {name.lower() for name in wanted}
        for plan in plans:
            for leaf in _leaves(plan.local):
                if leaf.attribute.lower() not in lowered:
                    lowered.add(leaf.attribute.lower())
                    wanted.append(leaf.attribute)
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
        config = self.table.config
        types: dict[str, bool] = {}
        for plan in plans:
            for leaf in _leaves(plan.local):
                oid = self.rules.type_of(leaf.attribute)
                ignore = self.rules.rule(leaf.attribute)
                if oid is not None and ignore is not None:
                    types[oid] = ignore
        index: dict[tuple[str, bytes], list[int]] = {}
        unsure: dict[str, list[int]] = {}
        judged = [_Values(entry, self.rules, types) for entry in outcome.entries]
        for position, values in enumerate(judged):
            for oid, bucket in values.values.items():
                for value in bucket:
                    index.setdefault((oid, value), []).append(position)
            for oid in values.unsure:
                unsure.setdefault(oid, []).append(position)
        claimed: set[int] = set()
        found: dict[str, list[int]] = {}
        for plan in plans:
            candidates: set[int] = set()
            for leaf in _leaves(plan.local):
                oid = self.rules.type_of(leaf.attribute) or ""
                value = leaf.value.lower() if types.get(oid) else leaf.value
                candidates.update(index.get((oid, value), ()))
                candidates.update(unsure.get(oid, ()))
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
        for plan in plans:
            positions = found.get(plan.query)
            if positions is None or (config.size_limit and len(positions) > config.size_limit):
                continue
            entries = tuple(outcome.entries[position] for position in positions)
            self.answers[(plan.base, config.scope, plan.query, attributes)] = SearchOutcome(
                entries=entries,
                references=(),
                result_code=0,
                result_name=outcome.result_name,
                message=outcome.message,
            )


# ---------------------------------------------------------------------------------------------
# what lookup_keys() calls


def ldap_tables(table: object) -> list[LdapTable]:
    """The ldap tables of a table or table list (TableList.tables), in order."""
    if isinstance(table, LdapTable):
        return [table]
    return [t for t in getattr(table, "tables", ()) if isinstance(t, LdapTable)]


class Prefetcher:
    """Fills each ldap table's known answers once the table has connected (its first lookup did)."""

    def __init__(self, table: object, keys: Sequence[str]) -> None:
        self.keys = keys
        self.pending = ldap_tables(table) if len(keys) > 2 else []
        self._rules: dict[int, ServerRules | None] = {}
        for ldap_table in self.pending:
            ldap_table.answers = {}  # also caches identical searches (recursion) within the run

    def before(self, index: int) -> None:
        """Call before looking up keys[index]: prefetch the keys from here on for connected tables."""
        for table in list(self.pending):
            directory = table.connection.get()
            session = directory.session
            if session is None or session.closed:
                continue
            self.pending.remove(table)
            self._prefetch(table, directory, self.keys[index:])

    def _prefetch(self, table: LdapTable, directory: Directory, keys: Sequence[str]) -> None:
        faults = directory.trace.faults
        mark = faults.mark()
        try:
            if id(directory) not in self._rules:
                self._rules[id(directory)] = ServerRules.read(directory)
            rules = self._rules[id(directory)]
            answers = table.answers
            usable = table.config.timeout > 0 and _plain_attributes(table)
            if rules is not None and answers is not None and usable:
                _TablePrefetch(table, directory, rules, answers).run(keys)
        except DirectoryProblem:
            table.connection.reset()  # the next lookup connects again and meets the problem itself
        finally:
            del faults.faults[mark:]  # the keys' own searches decide what the directory answers


def _plain_attributes(table: LdapTable) -> bool:
    """Result attributes postfix asks for by name (not none, all, operational, or no attributes)."""
    attributes = table.config.attributes
    return bool(attributes) and not any(name in ("*", "+", "1.1") for name in attributes)
