"""Batched searches for a chunk of audited addresses: the answers postfix's and dovecot's own
searches will get, fetched for many keys at once and put into the run's search cache.

postfix (dict_ldap_lookup()) and dovecot (db_ldap_request_search()) each send one search per
key; an audit asks ~5 per address. Before a chunk of addresses is resolved, this module predicts
the keys the engines will ask (the address, its domain and `@domain`; for virtual_alias_maps, the
targets the aliases found so far expand to; dovecot's LMTP user name, the IMAP login and the name
pass_attrs renames it to), groups their searches into `(&STATIC(|KEYPART1 ...))` searches with the
lookup fast path (postfix/ldap_prefetch.py: split, batch, assignment by local matching under the
server's EQUALITY rules, abandoned wherever that could be wrong) and stores each key's own answer
in the run's LRU (cache.py) under the exact search the engine sends: (connection, base, scope,
filter text, attributes, size limit, deref). The engines then run unchanged: a search whose
answer is cached is answered from it, any other is sent as before. A wrong guess of a key costs
a slot in a batch, never a wrong answer; dovecot's "LDAP search returned multiple entries" still
comes from the entries the server returns for that filter (dovecot_search() decides). Searches that
differ in their attributes at most share their batches (a table file opened twice by postfix;
dovecot's passdb and userdb with one filter): the batch asks for the attributes of all of them.

Entries come back with the attributes the key's own search asks for and no other (the batch also
asks for the attributes it matches on: those are removed again). Where that cannot be exact (an
asked attribute type has subtypes, all attributes are asked) the table or userdb is not batched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from ldapdiag.audit.cache import Lru
from ldapdiag.directory import filters as f
from ldapdiag.directory.directory import Directory, Entry, SearchOutcome, WireSearch
from ldapdiag.directory.problems import DirectoryProblem
from ldapdiag.dovecot.auth_request import AuthRequest, ldap_escape
from ldapdiag.dovecot.ldap_fields import parse_attrs
from ldapdiag.dovecot.lmtp import lmtp_username
from ldapdiag.dovecot.settings import LdapSettings
from ldapdiag.postfix.ldap_prefetch import (
    _MARK_DOMAIN,
    _MARK_USER,
    BATCH_SIZE,
    AnswerKey,
    ServerRules,
    _leaves,
    _Plan,
    _Planner,
    _split,
    _substitute,
    _TablePrefetch,
    supertypes,
    with_changes,
)
from ldapdiag.postfix.ldap_table import LdapTable

if TYPE_CHECKING:
    from ldapdiag.audit.engine import AuditEngine

CHUNK = 250  # addresses resolved per round of batch searches
WINDOW = 4  # batch searches in flight at once (Directory.search_many, where it has it; 8 cost more CPU)
TABLE_ANSWERS = 4096  # known answers kept per postfix table (BoundedAnswers)
ALIAS_LEVELS = 2  # rounds of alias targets fetched ahead (deeper ones are searched one by one)
TARGETS_PER_ROUND = 2000  # alias/group targets fetched ahead per round (they must stay in the caches)


@dataclass(frozen=True)
class _Search:
    """How one component sends its searches: the arguments that make the run's cache key."""

    scope: str | int
    attributes: tuple[str, ...]
    size_limit: int | None  # as passed to Directory.search() (None: the policy's)
    deref: int | None
    effective_size_limit: int  # what the server is sent
    time_limit: int
    effective_deref: int


@dataclass(frozen=True)
class _BatchSearch:
    """A component's search settings under the names ldap_prefetch.BatchSearch reads."""

    attributes: tuple[str, ...]
    scope: int | str
    timeout: int
    dereference: int
    size_limit: int


class ChunkPrefetch:
    """Fills the run's search cache for a chunk of addresses before they are audited."""

    def __init__(self, engine: AuditEngine) -> None:
        self.engine = engine
        self._rules: dict[int, ServerRules | None] = {}
        self._markers: dict[tuple[str, str, bool, bool], _Marker | None] = {}
        self._supertypes: dict[int, frozenset[str]] = {}  # id(ServerRules) -> supertype OIDs
        self.disabled = False
        # an alias's or a group's targets are fetched ahead for virtual_alias_maps' tables only:
        # cleanup asks them again (virtual alias expansion is recursive); the mailbox map is asked
        # for the addresses smtpd receives, not for the targets (measured: 169 of 12,396 target keys)
        self._alias_tables = frozenset(engine.table_specs("virtual_alias_maps"))
        self._rename_attribute = engine.login_rename[0] if engine.login_rename else None

    # -- the round for one chunk -----------------------------------------------------------------

    def prefetch(self, addresses: Sequence[str]) -> int:
        """Batch the searches the audit of the first addresses will send; returns how many of them.

        Fewer than all when their alias and group targets would not fit the caches (a chunk of
        groups with many members each): the caller audits those, then asks again for the rest.
        """
        if self.disabled or not addresses:
            return len(addresses)
        try:
            return self._round(addresses)
        except DirectoryProblem:
            self.disabled = True  # the engines' own searches meet the problem and report it
            return len(addresses)

    def _round(self, addresses: Sequence[str]) -> int:
        count = len(addresses)
        while True:
            keys = _first_keys(addresses[:count])
            targets = self._postfix(keys)
            if len(targets) <= TARGETS_PER_ROUND or count == 1:
                break
            count = (count + 1) // 2  # the first level is known now: asking again costs no search
        chosen = addresses[:count]
        recipients = set(chosen) | targets
        seen = set(keys)
        for _level in range(ALIAS_LEVELS):
            fresh = [key for key in _first_keys(sorted(targets)) if key not in seen]
            if not fresh or len(recipients) > 2 * TARGETS_PER_ROUND:
                break
            seen.update(fresh)
            targets = self._postfix(fresh, self._alias_tables)
            recipients.update(targets)
        self._dovecot(sorted(recipients), chosen)
        return count

    # -- postfix ---------------------------------------------------------------------------------

    def _postfix(self, keys: Sequence[str], specs: frozenset[str] | None = None) -> set[str]:
        """Every connected ldap table's answers for `keys` (`specs`: only the tables of these
        specs); returns the addresses found in them.

        Tables that send their searches alike share their batches: each search is sent once and
        its answer stored in every table that will send it (a file opened twice: as a map of
        virtual_alias_maps, and as a match list of virtual_alias_domains, $virtual_alias_maps)."""
        found: set[str] = set()
        shared: dict[tuple[object, ...], tuple[Directory, ServerRules, _Search, list[_Plan], _Stores]] = {}
        for table in self._ldap_tables(specs):
            directory = table.connection.get()
            rules = self._server(directory)
            config = table.config
            if rules is None or config.timeout <= 0 or not self._plain(config.attributes, rules):
                continue
            planner = _Planner(table, rules)
            plans = [plan for plan in map(planner.plan, keys) if plan is not None]
            how = _Search(
                config.scope,
                tuple(config.attributes),
                config.size_limit,
                config.dereference,
                config.size_limit,
                config.timeout,
                config.dereference,
            )
            if not isinstance(table.answers, BoundedAnswers):
                table.answers = BoundedAnswers(TABLE_ANSWERS)  # type: ignore[assignment]
                table.results = Lru(TABLE_ANSWERS)
            alike = (directory.policy.connection_key(), how, id(rules))
            _, _, _, shared_plans, stores = shared.setdefault(alike, (directory, rules, how, [], _Stores()))
            shared_plans.extend(plans)
            stores.add(_AnswerStore(table.answers, how), plans)  # type: ignore[arg-type]
        for directory, rules, how, plans, stores in shared.values():
            for outcome in self._batches(directory, rules, how, plans, stores).values():
                found.update(_addresses(outcome.entries))
        return found

    def _ldap_tables(self, specs: frozenset[str] | None = None) -> list[LdapTable]:
        """The ldap tables postfix has opened (of `specs`) whose connection is up (their first
        lookup made it)."""
        tables = []
        for (spec, _fold), table in list(self.engine.factory._opened.items()):
            if not isinstance(table, LdapTable) or (specs is not None and spec not in specs):
                continue
            directory = table.connection.get()
            if directory.session is not None and not directory.session.closed:
                tables.append(table)
        return tables

    # -- dovecot ---------------------------------------------------------------------------------

    def _dovecot(self, recipients: Sequence[str], logins: Sequence[str]) -> None:
        """LMTP's userdb lookups of the recipients; IMAP logins (passdb, renamed userdb) of `logins`."""
        auth = self.engine.auth
        if auth is None:
            return
        try:
            ldap, directory = auth._prepare()
        except Exception:
            return
        if directory.session is None or directory.session.closed:
            return
        rules = self._server(directory)
        if rules is None:
            return
        delimiter = auth.settings("lmtp").recipient_delimiter
        unknown = [address for address in recipients if not self.engine.lmtp_known(address)]
        lmtp = {lmtp_username(address, delimiter) for address in unknown}
        userdb_names = sorted((("lmtp", name) for name in lmtp), key=_by_local_part)
        userdb = self._dovecot_store(directory, ldap, parse_attrs(ldap.user_attrs).attributes or ())
        if self._rename_attribute is None:
            self._dovecot_batches(
                directory, rules, [(userdb, self._dovecot_plans(ldap, rules, userdb_names, True))]
            )
            return
        pass_attrs = parse_attrs(ldap.pass_attrs, skip_field="password" if ldap.auth_bind else None)
        passdb = self._dovecot_store(directory, ldap, pass_attrs.attributes or ())
        login_plans = self._dovecot_plans(ldap, rules, [("imap", name) for name in logins], False)
        # The name pass_attrs renames a login to is known once the passdb has answered; its local
        # part is the usual one (uid=user). Asked beside the LMTP names (alice@example.org next to
        # alice) and the passdb's (the same filter: the same searches), an entry all of them find
        # is sent once. The names renamed otherwise get batches of their own afterwards.
        guesses = [("imap", name.partition("@")[0]) for name in logins]
        names = sorted(userdb_names + guesses, key=_by_local_part)
        userdb_plans = self._dovecot_plans(ldap, rules, names, True)
        self._dovecot_batches(directory, rules, [(userdb, userdb_plans), (passdb, login_plans)])
        answers = (passdb.get(plan.base, plan.query) for plan in login_plans)
        renamed = {
            value
            for answer in answers
            if answer is not None and len(answer.entries) == 1
            for value in answer.entries[0].values(self._rename_attribute)
        }
        renamed_names = [("imap", name) for name in sorted(renamed)]
        self._dovecot_batches(
            directory, rules, [(userdb, self._dovecot_plans(ldap, rules, renamed_names, True))]
        )

    def _dovecot_plans(
        self, ldap: LdapSettings, rules: ServerRules, names: Iterable[tuple[str, str]], userdb: bool
    ) -> list[_Plan]:
        """The searches dovecot sends for these (service, name)s (lookups._search()).

        Each name's base and filter are guessed from one expansion of a marker name (per template,
        with and without a domain); a name that needs escaping is left out. A wrong guess only
        misses: the answer stored is the one for the filter text it is stored under."""
        template = ldap.user_filter if userdb else ldap.pass_filter
        plans: list[_Plan] = []
        for service, name in names:
            user, at, domain = name.partition("@")
            if not _SIMPLE_NAME.fullmatch(user) or (at and not _SIMPLE_NAME.fullmatch(domain)):
                continue
            marker = self._marker(ldap, service, template, userdb, bool(at), rules)
            if marker is not None:
                plans.append(marker.plan(user, domain))
        return plans

    def _dovecot_store(
        self, directory: Directory, ldap: LdapSettings, attributes: Sequence[str]
    ) -> _CacheStore:
        """Where dovecot's searches asking for these attributes find their answers (the run's cache)."""
        policy = directory.policy
        how = _Search(
            ldap.scope, tuple(attributes), None, None, policy.size_limit, policy.time_limit, policy.deref
        )
        return _CacheStore(self.engine.cache, directory, how)

    def _dovecot_batches(
        self, directory: Directory, rules: ServerRules, wanted: Sequence[tuple[_CacheStore, list[_Plan]]]
    ) -> None:
        """One set of batches for dovecot's searches that differ in their attributes at most
        (passdb and userdb with the same filter): each asks for them all, each answer is stored
        with the attributes of every search that will be sent for it."""
        stores = _Stores()
        attributes: dict[str, str] = {}
        plans: list[_Plan] = []
        for store, asked in wanted:
            if not self._plain(store.how.attributes, rules):
                continue
            stores.add(store, asked)
            plans += asked
            for name in store.how.attributes:
                attributes.setdefault(name.lower(), name)
        if plans:
            how = wanted[0][0].how
            batch = replace(how, attributes=tuple(attributes.values()))
            self._batches(directory, rules, batch, plans, stores)

    def _marker(
        self, ldap: LdapSettings, service: str, template: str, userdb: bool, domain: bool, rules: ServerRules
    ) -> _Marker | None:
        key = (service, template, userdb, domain)
        if key not in self._markers:
            self._markers[key] = _Marker.make(self.engine, ldap, service, template, userdb, domain, rules)
        return self._markers[key]

    # -- shared ----------------------------------------------------------------------------------

    def _server(self, directory: Directory) -> ServerRules | None:
        if id(directory) not in self._rules:
            rules = ServerRules.read(directory)
            self._rules[id(directory)] = rules
            if rules is not None:
                self._supertypes[id(rules)] = supertypes(rules.schema)
        return self._rules[id(directory)]

    def _plain(self, attributes: Sequence[str], rules: ServerRules) -> bool:
        """Asked by name, and none of them has subtypes the server would add (exact stripping)."""
        if not attributes or any(name in ("*", "+", "1.1") or ";" in name for name in attributes):
            return False
        supers = self._supertypes.get(id(rules), frozenset())
        return not any(rules.type_of(name) in supers for name in attributes)

    def _batches(
        self, directory: Directory, rules: ServerRules, how: _Search, plans: list[_Plan], store: _Store
    ) -> dict[tuple[str, str], SearchOutcome]:
        """Batch searches for the plans not answered yet; each key's answer stored for its search."""
        groups: dict[tuple[str, str], dict[str, _Plan]] = {}
        found: dict[tuple[str, str], SearchOutcome] = {}
        signatures: dict[int, str] = {}  # the plans of one planner share their static parts
        for plan in plans:
            known = store.get(plan.base, plan.query)
            if known is not None:
                found[(plan.base, plan.query)] = known
                continue
            signature = signatures.get(id(plan.static))
            if signature is None:
                signature = signatures[id(plan.static)] = "".join(map(f.encode, plan.static))
            groups.setdefault((plan.base, signature), {})[plan.query] = plan
        search = _BatchSearch(
            how.attributes, how.scope, how.time_limit, how.effective_deref, how.effective_size_limit
        )
        answers: dict[AnswerKey, SearchOutcome] = {}
        faults = directory.trace.faults
        mark = faults.mark()
        batches = [
            batch[start : start + BATCH_SIZE]
            for batch in (list(group.values()) for group in groups.values() if len(group) > 1)
            for start in range(0, len(batch), BATCH_SIZE)
        ]  # one query alone: its own search is as fast
        prefetch = _TablePrefetch(search, directory, rules, answers)
        try:
            outcomes = directory.search_many([prefetch._request(batch) for batch in batches], WINDOW)
            for batch, outcome in zip(batches, outcomes, strict=True):
                prefetch._judge(batch, outcome)
        finally:
            del faults.faults[mark:]  # the keys' own searches decide what the directory answers
        strip = _Stripper(rules)
        for (base, _scope, query, _attrs), outcome in answers.items():
            found[(base, query)] = store.put(base, query, outcome, strip)
        return found


class _Stripper:
    """A batch's answers with only the attributes a key's own search asks for (the batch asked for
    more): made once per answer and attribute list (keys without entries share one answer)."""

    def __init__(self, rules: ServerRules) -> None:
        self.rules = rules
        self._wanted: dict[tuple[str, ...], set[str]] = {}
        self._made: dict[tuple[int, tuple[str, ...]], SearchOutcome] = {}

    def __call__(self, outcome: SearchOutcome, attributes: tuple[str, ...]) -> SearchOutcome:
        key = (id(outcome), attributes)  # the batch's answers stay referenced while it is stored
        answer = self._made.get(key)
        if answer is None:
            rules = self.rules
            wanted = self._wanted.get(attributes)
            if wanted is None:
                wanted = self._wanted[attributes] = {
                    rules.type_of(name) or name.lower() for name in attributes
                }
            entries = tuple(_strip(entry, wanted, rules) for entry in outcome.entries)
            answer = self._made[key] = with_changes(
                outcome, entries=entries, result_name="success", message=""
            )
        return answer


class BoundedAnswers:
    """LdapTable.answers with a bounded memory: the latest `size` searches (an LRU)."""

    def __init__(self, size: int) -> None:
        self._lru: Lru[AnswerKey, SearchOutcome] = Lru(size)

    def get(self, key: AnswerKey) -> SearchOutcome | None:
        return self._lru.get(key)

    def __setitem__(self, key: AnswerKey, value: SearchOutcome) -> None:
        self._lru.put(key, value)

    def __contains__(self, key: object) -> bool:
        return key in self._lru


class _Store(Protocol):
    def get(self, base: str, query: str) -> SearchOutcome | None: ...
    def put(self, base: str, query: str, outcome: SearchOutcome, strip: _Stripper) -> SearchOutcome: ...


@dataclass(frozen=True)
class _AnswerStore:
    """A postfix table's known answers (LdapTable._search() asks them before the directory)."""

    answers: BoundedAnswers
    how: _Search

    def _key(self, base: str, query: str) -> AnswerKey:
        return (base, self.how.scope, query, self.how.attributes)  # type: ignore[return-value]

    def get(self, base: str, query: str) -> SearchOutcome | None:
        return self.answers.get(self._key(base, query))

    def put(self, base: str, query: str, outcome: SearchOutcome, strip: _Stripper) -> SearchOutcome:
        answer = self.answers[self._key(base, query)] = strip(outcome, self.how.attributes)
        return answer


class _Stores:
    """The stores of the searches that share a set of batches: postfix tables that send the same
    searches, dovecot's passdb and userdb searches with one filter. A search is known when every
    store that will see it sent knows it; its answer goes to each of them."""

    def __init__(self) -> None:
        self._asked: dict[tuple[str, str], list[_Store]] = {}

    def add(self, store: _Store, plans: Iterable[_Plan]) -> None:
        for plan in plans:
            self._asked.setdefault((plan.base, plan.query), []).append(store)

    def get(self, base: str, query: str) -> SearchOutcome | None:
        first, *others = self._asked[(base, query)]
        answer = first.get(base, query)
        if answer is None or any(store.get(base, query) is None for store in others):
            return None
        return answer

    def put(self, base: str, query: str, outcome: SearchOutcome, strip: _Stripper) -> SearchOutcome:
        first, *others = self._asked[(base, query)]
        for store in others:
            store.put(base, query, outcome, strip)
        return first.put(base, query, outcome, strip)


class _CacheStore:
    """The run's search cache (CachingDirectory.search() answers from it), for dovecot's searches."""

    def __init__(
        self,
        cache: Lru[tuple[object, ...], tuple[SearchOutcome, WireSearch | None]],
        directory: Directory,
        how: _Search,
    ) -> None:
        self.cache, self.how = cache, how
        self.connection = directory.policy.connection_key()

    def _key(self, base: str, query: str) -> tuple[object, ...]:
        how = self.how
        return (self.connection, base, how.scope, query, how.attributes, how.size_limit, how.deref)

    def get(self, base: str, query: str) -> SearchOutcome | None:
        cached = self.cache.get(self._key(base, query))
        return cached[0] if cached is not None else None

    def put(self, base: str, query: str, outcome: SearchOutcome, strip: _Stripper) -> SearchOutcome:
        answer = strip(outcome, self.how.attributes)
        self.cache.put(self._key(base, query), (answer, None))
        return answer


_SIMPLE_NAME = re.compile(r"[A-Za-z0-9._-]+")  # nothing ldap_escape() changes, nothing var_expand() splits


@dataclass(frozen=True)
class _Marker:
    """One dovecot template expanded for a marker name: the base and filter of any simple name."""

    base: str
    query: str
    static: tuple[f.Filter, ...]
    local: f.Filter
    fold: bool  # the login name is lowercased before it reaches the template (%Lu, auth_username_format)

    @classmethod
    def make(
        cls,
        engine: AuditEngine,
        ldap: LdapSettings,
        service: str,
        template: str,
        userdb: bool,
        domain: bool,
        rules: ServerRules,
    ) -> _Marker | None:
        texts = []
        for user, dom in ((_MARK_USER, _MARK_DOMAIN), (_MARK_USER.upper(), _MARK_DOMAIN.upper())):
            request = AuthRequest(engine.auth.settings(service), service)  # type: ignore[union-attr]
            if request.set_username(f"{user}@{dom}" if domain else user) is not None:
                return None
            request.userdb_lookup = userdb
            try:
                base_expansion = request.expand(ldap.base, ldap_escape)
                query_expansion = request.expand(template, ldap_escape)
            except Exception:
                return None
            if not base_expansion.ok or not query_expansion.ok:
                return None
            texts.append((base_expansion.text, query_expansion.text))
        (base, query), upper = texts
        if upper == (base, query):
            fold = True  # the name never reaches the templates with its case
        elif upper == (_upper_markers(base), _upper_markers(query)):
            fold = False
        else:
            return None
        plan = _dovecot_plan(base, query, rules)
        if plan is None or any("zldapdiagmark" in f.encode(part).lower() for part in plan.static):
            return None
        return cls(base, query, plan.static, plan.local, fold)

    def plan(self, user: str, domain: str) -> _Plan:
        """The search for `user@domain` (domain empty: a name without one)."""
        if self.fold:
            user, domain = user.lower(), domain.lower()
        base = self.base.replace(_MARK_USER, user).replace(_MARK_DOMAIN, domain)
        query = self.query.replace(_MARK_USER, user).replace(_MARK_DOMAIN, domain)
        return _Plan(base, query, self.static, _substitute(self.local, user.encode(), domain.encode()))


def _by_local_part(pair: tuple[str, str]) -> tuple[str, tuple[str, str]]:
    """(service, name)s in order of their local parts: alice@example.org next to alice."""
    return pair[1].partition("@")[0], pair


def _upper_markers(text: str) -> str:
    return text.replace(_MARK_USER, _MARK_USER.upper()).replace(_MARK_DOMAIN, _MARK_DOMAIN.upper())


def _first_keys(addresses: Iterable[str]) -> list[str]:
    """The keys postfix asks for a recipient: the address (as given and lowercased), `@domain`, the domain."""
    keys: dict[str, None] = {}
    for address in addresses:
        keys[address] = None
        keys[address.lower()] = None
        local, at, domain = address.rpartition("@")
        if at and local:
            keys["@" + domain.lower()] = None
            keys[domain.lower()] = None
    return list(keys)


def _addresses(entries: Sequence[Entry]) -> set[str]:
    """Values that look like addresses (alias targets, members): keys the next round fetches."""
    found: set[str] = set()
    for entry in entries:
        for _name, values in entry.raw:
            for raw in values:
                text = raw.decode("utf-8", "surrogateescape")
                for part in text.replace(",", " ").split():
                    if "@" in part and not part.startswith("@"):
                        found.add(part)
    return found


def _dovecot_plan(base: str, query: str, rules: ServerRules) -> _Plan | None:
    """A dovecot filter, split into the part the server judges and the part judged here."""
    try:
        node = f.parse(query)
    except f.FilterSyntaxError:
        return None
    if isinstance(node, f.EmptyFilter):
        return None
    split = _split(node, rules)
    if split is None or not list(_leaves(split[1])):
        return None
    return _Plan(base, query, split[0], split[1])


def _strip(entry: Entry, wanted: set[str], rules: ServerRules) -> Entry:
    """The entry with only the attributes its own search asks for (the batch asked for more)."""
    raw = tuple(item for item in entry.raw if (rules.type_of(item[0]) or item[0].lower()) in wanted)
    return entry if len(raw) == len(entry.raw) else Entry(entry.dn, raw)
