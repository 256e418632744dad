"""Mail addresses as postfix handles them: quoting, extensions, and the key order of table lookups.

Mirrors global/quote_822_local.c, split_addr.c / strip_addr.c and mail_addr_find.c
(`mail_addr_find_opt()` with MA_FIND_DEFAULT: `user+ext@domain`, `user@domain`, then `user+ext`
and `user` only when the domain is $myorigin or local, then `@domain`). Addresses are in postfix's
internal (unquoted) form; every table key is what maps_find() receives (the table folds case).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ldapdiag.postfix.tables import LookupResult, QueryStep, Table, TableList

MAIL_ADDR_POSTMASTER = "postmaster"
MAIL_ADDR_MAIL_DAEMON = "MAILER-DAEMON"
_SPECIALS = frozenset('()<>,;:\\"[]')

Lookup = Table | TableList


def split_at_right(address: str) -> tuple[str, str | None]:
    """(localpart, domain) split at the last `@` (domain None without `@`), as strrchr() does."""
    local, at, domain = address.rpartition("@")
    return (local, domain) if at else (address, None)


def _is_822_dot_string(local: str) -> bool:
    """is_822_dot_string() with QUOTE_FLAG_8BITCLEAN: atoms separated by single dots."""
    if not local or local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    for ch in local:
        if ch == " " or ord(ch) < 32 or ord(ch) == 127 or ch in _SPECIALS or ch == "@":
            return False
    return True


def quote_822_local(address: str, bare_localpart: bool = False) -> str:
    """quote_822_local_flags(): the external form, the localpart quoted when it is no dot-string."""
    start = 0
    if address.startswith("@") and ":" in address:
        start = address.index(":") + 1
    end = len(address) if bare_localpart or "@" not in address[start:] else address.rindex("@")
    local = address[start:end]
    if _is_822_dot_string(local):
        return address
    quoted = "".join("\\" + ch if ch in '"\\\r' else ch for ch in local)
    return f'{address[:start]}"{quoted}"{address[end:]}'


def unquote_822_local(address: str) -> str:
    """unquote_822_local(): the internal form (quotes and backslashes of the localpart removed)."""
    start = 0
    if address.startswith("@") and ":" in address:
        start = address.index(":") + 1
    out: list[str] = []
    bare_at: tuple[int, int] | None = None
    in_quote = False
    index = start
    while index < len(address):
        ch = address[index]
        if ch == '"':
            in_quote = not in_quote
            index += 1
            continue
        if ch == "@" and not in_quote:
            bare_at = (len(out), index)
        elif ch == "\\" and index + 1 < len(address):
            index += 1
            ch = address[index]
        out.append(ch)
        index += 1
    text = "".join(out)
    if bare_at is not None:
        text = text[: bare_at[0]] + address[bare_at[1] :]
    return address[:start] + text


def split_extension(localpart: str, delimiters: str, double_bounce: str = "double-bounce") -> int | None:
    """split_addr_internal(): where the extension starts (index of the delimiter), or None."""
    if not delimiters:
        return None
    lowered = localpart.lower()
    if lowered in (MAIL_ADDR_POSTMASTER.lower(), MAIL_ADDR_MAIL_DAEMON.lower(), double_bounce.lower()):
        return None
    if "-" in delimiters and (
        lowered.startswith("owner-") or (len(lowered) > 8 and lowered.endswith("-request"))
    ):
        return None  # owner_request_special = yes
    cut = next((i for i, ch in enumerate(localpart) if ch in delimiters), len(localpart))
    if cut == 0 or cut == len(localpart):
        return None
    return cut


def strip_extension(address: str, delimiters: str) -> tuple[str, str] | None:
    """strip_addr_internal(): (address without the extension, the extension with its delimiter)."""
    local, domain = split_at_right(address)
    cut = split_extension(local, delimiters)
    if cut is None:
        return None
    bare = local[:cut] + (f"@{domain}" if domain is not None else "")
    return bare, local[cut:]


@dataclass(unsafe_hash=True, slots=True)  # never changed once made; not frozen: see postfix/tables.py
class KeyAnswer:
    """One maps_find() call: the key, the answer, whether it came from the cache."""

    key: str
    answer: LookupResult
    cached: bool = False


@dataclass
class FindResult:
    """mail_addr_find()'s answer: the value (external form), the table error, the unmatched extension."""

    value: str | None
    error: str | None
    extension: str | None  # set when `user@domain` matched for `user+ext@domain`
    trail: list[KeyAnswer] = field(default_factory=list)  # every maps_find(), in order
    table: str | None = None  # the table that answered (or failed)

    @property
    def keys(self) -> list[str]:
        """Every key maps_find() was asked, in order."""
        return [item.key for item in self.trail]

    @property
    def steps(self) -> list[QueryStep]:
        """The tables' own steps for the keys that were not answered from the cache."""
        return [step for item in self.trail if not item.cached for step in item.answer.steps]


class KeyAsker:
    """maps_find() for one table list, remembering keys, steps and the first answer or error."""

    def __init__(self, maps: Lookup, cache: dict[tuple[str, str], LookupResult] | None) -> None:
        self.maps = maps
        self.cache = cache
        self.result = FindResult(None, None, None)

    def ask(self, key: str) -> bool:
        """One maps_find(): True when it answered (a value or an error) and the search stops."""
        name = getattr(self.maps, "parameter", None) or getattr(self.maps, "name", "")
        cache_key = (name, key)
        answer = self.cache.get(cache_key) if self.cache is not None else None
        cached = answer is not None
        if answer is None:
            answer = self.maps.lookup(key)
            if self.cache is not None:
                self.cache[cache_key] = answer
        self.result.trail.append(KeyAnswer(key, answer, cached))
        if answer.error is not None:
            self.result.error, self.result.table = answer.error, answer.table
            return True
        if answer.value is not None:
            self.result.value, self.result.table = answer.value, answer.table
            return True
        return False


def _ask_forms(asker: KeyAsker, address: str, query_form: str, with_domain: bool) -> bool:
    """find_addr(): the external (quoted) form, then for EXTERNAL_FIRST the internal form."""
    external = quote_822_local(address, bare_localpart=not with_domain)
    if asker.ask(external if query_form != "internal" else address):
        return True
    if query_form == "external_first" and external != address:
        return asker.ask(address)
    return False


def mail_addr_find(
    maps: Lookup,
    address: str,
    *,
    delimiters: str,
    is_local_domain: Callable[[str], int],
    query_form: str = "external_first",
    cache: dict[tuple[str, str], LookupResult] | None = None,
) -> FindResult:
    """mail_addr_find_opt(..., MA_FIND_DEFAULT): full key, key without extension, localpart, @domain.

    is_local_domain(domain) answers like resolve_local() (1 local, 0 not, -1 lookup error) and
    also says 1 for $myorigin. query_form: "external_first" (mail_addr_find), "external"
    (mail_addr_map_internal, the virtual alias expansion) or "internal".
    """
    asker = KeyAsker(maps, cache)
    stripped = strip_extension(address, delimiters)
    result = asker.result
    if _ask_forms(asker, address, query_form, True):
        return result
    if stripped is not None and _ask_forms(asker, stripped[0], query_form, True):
        if result.value is not None:
            result.extension = stripped[1]
        return result
    local, domain = split_at_right(address)
    if domain is None:
        return result
    local_state = is_local_domain(domain)
    if local_state < 0:
        result.error = f"{domain}: mydestination lookup failure"
        return result
    if local_state > 0:  # MA_FIND_LOCALPART_IF_LOCAL: `user+ext`, then `user`
        if _ask_forms(asker, local, query_form, False):
            return result
        if stripped is not None:
            bare_local = split_at_right(stripped[0])[0]
            if _ask_forms(asker, bare_local, query_form, False):
                if result.value is not None:
                    result.extension = stripped[1]
                return result
    asker.ask(f"@{domain}")
    return result
