"""Every address the configuration could accept: the keys the postfix tables' filters can match.

For each `ldap:` table of virtual_mailbox_maps, then virtual_alias_maps (postfix's two recipient
tables in DMS: users; aliases, groups), the query_filter's key assertions (`(mail=%s)`,
`(mailAlias=%s)`, `(mail=%u@example.org)`) are turned into presence assertions (`(mail=*)`), the
rest of the filter kept, and the table's search base is read in RFC 2696 pages (Active Directory
answers plain searches with at most MaxPageSize entries). Each value of a key attribute that the
table's own expansion turns back into the same assertion value is a key postfix can find: an
address. Entries are streamed page by page (nothing but one page is held); addresses seen before
are skipped (SeenAddresses: the folded addresses' bytes in one buffer, ~30 bytes an address, exact).

Not enumerated (said in the notes): tables whose key is not compared by equality, dynamic search
bases, key attributes holding local parts only (`(uid=%u)`: the domains are unknown).
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from ldap3.core.exceptions import LDAPException
from ldap3.protocol.rfc2696 import paged_search_control

from ldapdiag.config.postfix_cf import split_table_list
from ldapdiag.directory import filters as f
from ldapdiag.directory.directory import Directory, Entry
from ldapdiag.directory.faults import is_fault
from ldapdiag.directory.ldap3_filter import PAGED_RESULTS, search_request
from ldapdiag.directory.problems import DirectoryProblem, from_exception, from_result
from ldapdiag.directory.trace import SCOPE_NAMES, TraceEvent
from ldapdiag.errors import LdapdiagError
from ldapdiag.postfix.ldap_table import LdapTable
from ldapdiag.postfix.maps import DMS_MAPS, TableFactory, parameter_value

from .model import Candidate, Finding

PAGE_SIZE = 500  # below AD's MaxPageSize (1000) and slapd's default size limit (500)
RECIPIENT_MAPS = ("virtual_mailbox_maps", "virtual_alias_maps")
_KEY_CODE = re.compile(r"%[sSuUdD1-9]")
_AD_RANGE = re.compile(r"^member;range=", re.IGNORECASE)
_WRAPPED_KEY = re.compile(r"^(?P<pre>[^%]*)%[sS](?P<post>[^%]*)$")


class EnumerationFailed(LdapdiagError):
    """A table's entries could not be read completely: the audit cannot be complete."""


@dataclass(frozen=True)
class KeyAssertion:
    """One `(attr=template)` of a query_filter whose template holds the lookup key."""

    attribute: str
    template: str


@dataclass
class TableSearch:
    """How one table's keys are enumerated."""

    label: str  # users / aliases / groups, or the table's name
    parameter: str  # virtual_mailbox_maps or virtual_alias_maps
    table: LdapTable
    base: str
    scope: int
    filter: str  # the query_filter, key assertions made presence assertions
    keys: tuple[KeyAssertion, ...]
    attributes: tuple[str, ...]  # key attributes (+ member for AD groups)
    ad_members: bool = False  # count `member` values (special_result_attribute member on AD)


@dataclass
class Plan:
    """The enumeration searches, and what cannot be enumerated."""

    searches: list[TableSearch] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def label_of(table: LdapTable) -> str:
    """`users` for /etc/postfix/ldap-users.cf, else the table's name."""
    path = table.config.path
    return next((name for name, dms in DMS_MAPS.items() if dms == path), table.name)


def key_assertions(node: f.Filter, negated: bool = False) -> tuple[list[KeyAssertion], bool]:
    """The key equality assertions of a filter template, and whether the key is used elsewhere
    (substrings, NOT, other operators: then the table is not enumerated)."""
    if isinstance(node, f.And | f.Or):
        found: list[KeyAssertion] = []
        other = False
        for child in node.filters:
            keys, odd = key_assertions(child, negated)
            found += keys
            other = other or odd
        return found, other
    if isinstance(node, f.Not):
        keys, odd = key_assertions(node.filter, True)
        return [], odd or bool(keys)
    if isinstance(node, f.Equality):
        value = node.value.decode("utf-8", "surrogateescape")
        if _KEY_CODE.search(value):
            return ([], True) if negated else ([KeyAssertion(node.attribute, value)], False)
        return [], False
    if isinstance(node, f.Substrings):
        parts = [node.initial or b"", *node.any, node.final or b""]
        return [], any(_KEY_CODE.search(p.decode("utf-8", "surrogateescape")) for p in parts)
    value = getattr(node, "value", b"")
    text = value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else ""
    return [], bool(_KEY_CODE.search(text))


def presence_filter(node: f.Filter) -> f.Filter:
    """The filter with every key equality assertion made a presence assertion."""
    if isinstance(node, f.And):
        return f.And(tuple(presence_filter(child) for child in node.filters))
    if isinstance(node, f.Or):
        return f.Or(tuple(presence_filter(child) for child in node.filters))
    if isinstance(node, f.Equality) and _KEY_CODE.search(node.value.decode("utf-8", "surrogateescape")):
        return f.Present(node.attribute)
    return node


def plan(factory: TableFactory, is_ad: bool = False) -> Plan:
    """The enumeration searches for the recipient tables of this configuration."""
    result = Plan()
    seen: set[str] = set()
    main = factory.config.postfix_main
    for parameter in RECIPIENT_MAPS:
        for spec in split_table_list(parameter_value(main, parameter) or ""):
            if spec in seen:
                continue
            seen.add(spec)
            table = factory.open(spec)
            if not isinstance(table, LdapTable):
                result.notes.append(f"{parameter}: {spec} is not an ldap table: its keys are not enumerated")
                continue
            search = _table_search(table, parameter, is_ad, result.notes)
            if search is not None:
                result.searches.append(search)
    return result


def _table_search(table: LdapTable, parameter: str, is_ad: bool, notes: list[str]) -> TableSearch | None:
    config = table.config
    label = label_of(table)
    if config.dynamic_base:
        notes.append(f"{label}: the search base depends on the key ({config.search_base}): not enumerated")
        return None
    try:
        node = f.parse(config.query_filter)
    except (f.FilterSyntaxError, ValueError):
        return None  # postfix fails every lookup through it; the addresses of other tables show it
    if isinstance(node, f.EmptyFilter):
        return None
    keys, other = key_assertions(node)
    if other:
        notes.append(
            f"{label}: query_filter {config.query_filter} uses the key beyond equality: not enumerated"
        )
        return None
    if not keys:
        if config.query_filter.replace(" ", "") != "(|)":
            notes.append(f"{label}: query_filter {config.query_filter} has no key: not enumerated")
        return None
    ad_members = is_ad and any(a.lower() == "member" for a in config.special_attributes)
    attributes = tuple(dict.fromkeys(k.attribute for k in keys))
    if ad_members:
        attributes += ("member",)
    presence = f.encode(presence_filter(node))
    return TableSearch(
        label,
        parameter,
        table,
        config.search_base,
        config.scope,
        presence,
        tuple(keys),
        attributes,
        ad_members,
    )


def paged_entries(
    directory: Directory, base: str, scope: int, filter_text: str, attributes: Sequence[str]
) -> Iterator[Entry]:
    """A subtree search read in RFC 2696 pages, entries yielded as each page arrives."""
    session = directory.connect()
    connection = session.connection
    request = search_request(base, scope, f.parse(filter_text), attributes, 0, 0, directory.policy.deref)
    cookie: bytes | None = None
    while True:
        control = paged_search_control(False, PAGE_SIZE, cookie)
        with connection.connection_lock:
            saved = connection.auto_range, connection.auto_referrals
            connection.auto_range = connection.auto_referrals = False
            try:
                responses = connection.post_send_search(connection.send("searchRequest", request, [control]))
            except (LDAPException, OSError) as error:
                problem = from_exception(error, session.url, "search", session.operation_timeout)
                raise DirectoryProblem(problem) from None
            finally:
                connection.auto_range, connection.auto_referrals = saved
            result = dict(connection.result)
        code = result.get("result")
        directory.trace.add(
            TraceEvent(
                directory.component,
                "search",
                session.url,
                0.0,
                result_code=code if isinstance(code, int) else None,
                result=str(result.get("description", "")),
                base=base,
                scope=SCOPE_NAMES[scope],
                filter=filter_text,
                attributes=tuple(attributes),
                detail="paged (audit)",
            )
        )
        if code != 0:
            problem = from_result(
                code if isinstance(code, int) else 80,
                str(result.get("message") or ""),
                session.url,
                "search",
                base,
            )
            if problem is not None and is_fault(problem):  # a limit, a referral, unavailable: faults.py
                raise DirectoryProblem(problem)
            raise EnumerationFailed(
                f"search base={base!r} filter={filter_text} answered {result.get('description')} "
                f"({code}) {result.get('message') or ''}".rstrip()
            )
        for response in responses:
            if response.get("type") == "searchResEntry":
                raw = response.get("raw_attributes") or {}
                pairs = tuple((str(n), tuple(bytes(v) for v in values)) for n, values in raw.items())
                yield Entry(str(response.get("dn", "")), pairs)
        paged = (result.get("controls") or {}).get(PAGED_RESULTS) or {}
        cookie = (paged.get("value") or {}).get("cookie") or None
        if not cookie:
            return


class SeenAddresses:
    """A set of strings in two flat buffers, for every address of a directory: each string's UTF-8
    bytes (a 4-byte length first) appended to one bytearray, and an open-addressing table (linear
    probing, at most half full) of their offsets + 1 (0: empty). ~30 bytes an address where a set of
    str objects takes ~110. Exact: a slot matches only when its stored bytes equal the string's, so
    two strings with the same hash are both kept (the hash picks where to look, it decides nothing).
    """

    _hash = staticmethod(hash)  # where to look first (a test makes every string collide)

    def __init__(self) -> None:
        self._data = bytearray()
        self._slots = array("I", bytes(4 * 1024))  # offsets into _data, + 1
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, text: str) -> bool:
        """Remember `text`; False when it was remembered already."""
        key = text.encode("utf-8", "surrogateescape")
        slot = self._find(key)
        if self._slots[slot]:
            return False
        self._slots[slot] = len(self._data) + 1
        self._data += len(key).to_bytes(4, "little") + key
        self._count += 1
        if 2 * self._count > len(self._slots):
            self._grow()
        return True

    def _find(self, key: bytes) -> int:
        """The slot holding `key`, or the empty slot where it belongs."""
        slots, data = self._slots, self._data
        mask = len(slots) - 1
        slot = self._hash(key) & mask
        size = len(key)
        while offset := slots[slot]:
            start = offset + 3  # offset - 1 + the 4-byte length
            stored = int.from_bytes(data[offset - 1 : start], "little")
            if stored == size and data[start : start + size] == key:
                return slot
            slot = (slot + 1) & mask
        return slot

    def _grow(self) -> None:
        old = self._slots
        self._slots = array("I", bytes(8 * len(old)))
        mask = len(self._slots) - 1
        data = self._data
        for offset in old:
            if offset:
                start = offset + 3
                size = int.from_bytes(data[offset - 1 : start], "little")
                slot = self._hash(bytes(data[start : start + size])) & mask
                while self._slots[slot]:
                    slot = (slot + 1) & mask
                self._slots[slot] = offset


@dataclass
class Enumerator:
    """Streams the candidates of a plan; counts entries; skips addresses seen before."""

    plan: Plan
    directory_for: Callable[[LdapTable], Directory]  # connections of their own (pages come between lookups)
    entries: int = 0
    _seen: SeenAddresses = field(default_factory=SeenAddresses)

    def candidates(self) -> Iterator[Candidate]:
        for search in self.plan.searches:
            directory = self.directory_for(search.table)
            for entry in paged_entries(
                directory, search.base, search.scope, search.filter, search.attributes
            ):
                self.entries += 1
                extra = _ad_findings(entry) if search.ad_members else ()
                for address in _keys(search, entry):
                    if self._seen.add(address.lower()):
                        yield Candidate(address, search.label, entry.dn, extra)

    def count(self) -> int:
        """How many entries the plan's searches read (a first pass, for a progress bar)."""
        total = 0
        for search in self.plan.searches:
            directory = self.directory_for(search.table)
            for _entry in paged_entries(directory, search.base, search.scope, search.filter, ["1.1"]):
                total += 1
        return total


def _keys(search: TableSearch, entry: Entry) -> Iterator[str]:
    """The entry's values postfix finds it by, as addresses (a local part alone is skipped)."""
    context = search.table.config.context
    for key in search.keys:
        for value in entry.values(key.attribute):
            address = _unwrapped(key.template, value)
            if "@" not in address or address.startswith("@"):
                continue
            if key.template not in ("%s", "%S"):
                saved = list(context.warnings)
                expanded = context.expand(key.template, address.lower())
                context.warnings[:] = saved
                if expanded is None or expanded.lower() != value.lower():
                    continue
            yield address


def _unwrapped(template: str, value: str) -> str:
    """The key a `PREFIX%sSUFFIX` template turns into `value`: the value without the template's
    literal text, compared case-insensitively (AD's `(proxyAddresses=smtp:%s)` finds `smtp:a@b` and
    `SMTP:a@b` for the key a@b); the value itself for other templates (`%u@example.org`)."""
    match = _WRAPPED_KEY.match(template)
    if match is None or not (match["pre"] or match["post"]):
        return value
    pre, post = match["pre"], match["post"]
    folded = value.lower()
    if (
        len(value) < len(pre) + len(post)
        or not folded.startswith(pre.lower())
        or not folded.endswith(post.lower())
    ):
        return ""
    return value[len(pre) : len(value) - len(post)]


def _ad_findings(entry: Entry) -> tuple[Finding, ...]:
    """member values an AD DC cuts for postfix's plain search: the DC sends `member;range=0-N` (a
    Windows DC past MaxValRange, 1500 by default) to the audit's search as to postfix's."""
    ranged = [name for name, _values in entry.raw if _AD_RANGE.match(name)]
    count = sum(len(values) for name, values in entry.raw if name.lower().split(";")[0] == "member")
    if ranged:
        return (
            Finding(
                "ad-truncated",
                f"the DC sends {ranged[0]}: postfix takes only those {count} members and never asks for "
                "the rest (range retrieval)",
            ),
        )
    # More than MaxValRange values sent plainly (Samba enforces no MaxValRange, or a raised limit):
    # postfix's plain search gets them all too (tests/differential/test_ad_postmap.py), nothing is
    # cut; `lint --server` (ad-large-group) warns what a Windows DC with the default would do.
    return ()
