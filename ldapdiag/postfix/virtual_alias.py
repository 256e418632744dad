"""cleanup's recursive virtual alias expansion of one envelope recipient.

Mirrors cleanup/cleanup_map1n.c `cleanup_map1n_internal()`: each address of the list is looked up
again until it no longer matches; an address that expands to itself is kept and not expanded
again; more than virtual_alias_expansion_limit addresses, more than
virtual_alias_recursion_limit lookups for one slot, or a result longer than
virtual_alias_address_length_limit defer the message ("4.6.0 Alias expansion error"); a table
error fails it (CLEANUP_STAT_WRITE). Lookups are global/mail_addr_map.c `mail_addr_map_opt()`
(external-form keys; a result `@domain` keeps the original user; the unmatched `+ext`
propagated when propagate_unmatched_extensions has `virtual`) and mail_addr_crunch.c
(the result split into addresses, each rewritten to canonical form).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ldapdiag.postfix.address import mail_addr_find, quote_822_local, split_at_right, unquote_822_local
from ldapdiag.postfix.params import Params
from ldapdiag.postfix.resolve import NotEmulated
from ldapdiag.postfix.steps import Step, lookup_steps
from ldapdiag.postfix.tables import LookupResult, Table, TableList

DEFER = "defer"  # CLEANUP_STAT_DEFER: 451 4.6.0 Alias expansion error
WRITE = "write"  # CLEANUP_STAT_WRITE: 451 4.3.0 Error: queue file write error
_UNSUPPORTED_RESULT = frozenset(' \t"<>();:[]\\')
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(address: str) -> str:
    """been_here's BH_FLAG_FOLD / casefold() with SMTPUTF8 off: ASCII lower case."""
    if address.isascii():
        return address.lower()  # the same for ASCII text, without translate()'s per-character lookups
    return address.translate(_ASCII_LOWER)


def canonicalize(address: str, params: Params) -> str:
    """rewrite_clnt(REWRITE_CANON) in the local context: `user` -> `user@$myorigin`, `a%b` -> `a@b`."""
    if not address:
        return params.get("empty_address_recipient") or "MAILER-DAEMON"
    local, domain = split_at_right(address)
    if domain is None:
        if params.flag("swap_bangpath") and "!" in local:
            site, _, user = local.partition("!")
            return f"{user}@{site}"
        if params.flag("percent_hack") and "%" in local:
            user, _, host = local.rpartition("%")
            return f"{user}@{host}"
        return f"{local}@{params.get('myorigin')}"
    if domain.endswith(".") and not domain.endswith("..") and domain != ".":
        return f"{local}@{domain[:-1]}"
    return address


@dataclass
class Expansion:
    """The addresses one envelope recipient becomes, or the reason the message is not accepted."""

    address: str
    recipients: list[str]
    error: str | None = None  # DEFER or WRITE
    reason: str | None = None  # postfix's warning
    steps: list[Step] = field(default_factory=list)


@dataclass
class AliasExpander:
    """cleanup's view of virtual_alias_maps (answers shared with smtpd's through `cache`)."""

    maps: Table | TableList | None
    params: Params
    is_local_domain: Callable[[str], int]
    cache: dict[tuple[str, str], LookupResult]
    phase: str = "cleanup"
    _seen_keys: set[str] = field(default_factory=set)

    def map_address(self, address: str, steps: list[Step]) -> tuple[list[str] | None, str | None]:
        """mail_addr_map_internal(): (the addresses it maps to, or None; a table error)."""
        assert self.maps is not None
        found = mail_addr_find(
            self.maps,
            address,
            delimiters=self.params.get("recipient_delimiter"),
            is_local_domain=self.is_local_domain,
            query_form="external",
            cache=self.cache,
        )
        fresh = address not in self._seen_keys
        self._seen_keys.add(address)
        if fresh:
            steps += lookup_steps(self.phase, "virtual_alias_maps", found.trail)
        if found.error is not None:
            return None, found.error
        if found.value is None:
            if fresh:
                steps.append(Step(self.phase, "lookup", f"<{address}>: not an alias", key=address))
            return None, None
        value = found.value
        extension = found.extension
        if value.startswith("@"):
            local = split_at_right(address)[0]
            if extension:
                local = local[: len(local) - len(extension)]
            value = quote_822_local(local + value)
        propagate = "virtual" in [
            p.strip().lower() for p in self.params.items("propagate_unmatched_extensions")
        ]
        result = self.crunch(value, extension if propagate else None)
        if fresh:
            steps.append(
                Step(
                    self.phase,
                    "expand",
                    f"<{address}> -> {', '.join(result)}",
                    key=address,
                    values=tuple(result),
                )
            )
        if not result:
            return None, f'virtual_alias_maps lookup of {address} returns non-address result "{found.value}"'
        return result, None

    def crunch(self, value: str, extension: str | None) -> list[str]:
        """mail_addr_crunch_opt(): the result split at commas, each address canonical, `+ext` added."""
        out = []
        for item in value.split(","):
            text = item.strip()
            if not text:
                continue
            if any(ch in _UNSUPPORTED_RESULT for ch in text):
                raise NotEmulated(f"virtual alias result {value!r}: RFC 822 phrases, quotes and comments")
            address = unquote_822_local(canonicalize(text, self.params))
            if extension:
                local, domain = split_at_right(address)
                address = f"{local}{extension}@{domain}" if domain is not None else address + extension
            out.append(address)
        return out

    def expand(self, address: str) -> Expansion:
        """cleanup_map1n_internal()."""
        expansion = Expansion(address, [address])
        if self.maps is None:
            return expansion
        argv = expansion.recipients
        been_here: set[str] = set()
        expan_limit = self.params.number("virtual_alias_expansion_limit")
        recur_limit = self.params.number("virtual_alias_recursion_limit")
        length_limit = self.params.number("virtual_alias_address_length_limit")
        lookups = 0
        arg = 0
        while arg < len(argv):
            if len(argv) > expan_limit:
                return self._fail(
                    expansion, DEFER, f"unreasonable virtual_alias_maps map expansion size for {address}"
                )
            count = 0
            while fold(argv[arg]) not in been_here:
                if count >= recur_limit:
                    return self._fail(
                        expansion, DEFER, f"unreasonable virtual_alias_maps map nesting for {address}"
                    )
                lookups += 1
                result, error = self.map_address(argv[arg], expansion.steps)
                if error is not None:
                    expansion.steps.append(Step(self.phase, "log", f"warning: {error}"))
                    return self._fail(
                        expansion, WRITE, f"virtual_alias_maps map lookup problem for {address}"
                    )
                if result is None:
                    break
                saved = argv[arg]
                for index, new in enumerate(result):
                    if len(new) > length_limit:
                        return self._fail(
                            expansion, DEFER, f"unreasonable virtual_alias_maps result {new[:300]}"
                        )
                    if index == 0:
                        argv[arg] = new
                    else:
                        argv.append(new)
                    if fold(saved) == fold(new):
                        been_here.add(fold(saved))
                        expansion.steps.append(Step(self.phase, "note", f"<{saved}> expands to itself: kept"))
                count += 1
            arg += 1
        if lookups > len(self._seen_keys):
            expansion.steps.append(
                Step(self.phase, "note", f"{lookups} alias lookups (repeated keys shown once)")
            )
        return expansion

    def _fail(self, expansion: Expansion, error: str, reason: str) -> Expansion:
        """UNEXPAND(): the message is not accepted; the recipient list is the address itself."""
        expansion.error, expansion.reason = error, reason
        expansion.recipients = [expansion.address]
        expansion.steps.append(
            Step(self.phase, "log", f"warning: {reason} -- message not accepted, try again later")
        )
        return expansion
