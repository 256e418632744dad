"""trivial-rewrite's address resolver: the address class, transport and next hop of an address.

Mirrors trivial-rewrite/resolve.c `resolve_addr()` (as smtpd_resolve_addr() and qmgr ask it) and
global/resolve_local.c `resolve_local()`: strip a domain in $mydestination, turn `a%b` / `b!a`
into `a@b` and retry, append `@$myhostname` to a bare name; then the class, in postfix's order:
local ($mydestination), virtual alias domain, virtual mailbox domain, relay domain, default. A
table error on the way is RESOLVE_FLAG_FAIL (smtpd: 451 4.3.0 Temporary lookup failure); a
malformed domain is RESOLVE_FLAG_ERROR.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ldapdiag.config.model import MailServerConfig
from ldapdiag.errors import LdapdiagError
from ldapdiag.postfix.address import split_at_right
from ldapdiag.postfix.maps import MapError, TableFactory, resolve_map
from ldapdiag.postfix.match_list import StringList, parse_string_list
from ldapdiag.postfix.params import Params
from ldapdiag.postfix.steps import Step, from_query_steps
from ldapdiag.postfix.tables import LookupResult, Table, TableList

CLASS_LOCAL = "local"
CLASS_ALIAS = "virtual_alias"
CLASS_VIRTUAL = "virtual_mailbox"
CLASS_RELAY = "relay"
CLASS_DEFAULT = "default"
FINAL_CLASSES = frozenset({CLASS_LOCAL, CLASS_ALIAS, CLASS_VIRTUAL})
# Parameters that would change a resolution or an expansion and that ldapdiag does not emulate.
UNSUPPORTED_MAPS = (
    "canonical_maps",
    "recipient_canonical_maps",
    "sender_canonical_maps",
    "relocated_maps",
    "relay_recipient_maps",
    "masquerade_domains",
    "recipient_bcc_maps",
    "always_bcc",
    "sender_dependent_default_transport_maps",
)


class NotEmulated(LdapdiagError):
    """Postfix would decide this from something ldapdiag does not emulate: said, never guessed."""


@dataclass
class ResolveReply:
    """resolve_clnt_query_from()'s reply: the resolved recipient, transport, next hop, class, flags."""

    address: str
    recipient: str = ""
    transport: str = ""
    nexthop: str = ""
    klass: str | None = None
    fail: bool = False  # RESOLVE_FLAG_FAIL: a table lookup failed
    error: bool = False  # RESOLVE_FLAG_ERROR: malformed address
    routed: bool = False  # RESOLVE_FLAG_ROUTED: routing operators in the localpart
    reason: str | None = None  # postfix's warning for a failure
    steps: list[Step] = field(default_factory=list)

    @property
    def final(self) -> bool:
        """RESOLVE_CLASS_FINAL: local, virtual alias or virtual mailbox domain."""
        return self.klass in FINAL_CLASSES


class MapSet:
    """The tables of one configuration, opened once (like one postfix process), answers cached."""

    def __init__(self, config: MailServerConfig, factory: TableFactory, params: Params) -> None:
        self.config = config
        self.factory = factory
        self.params = params
        self.cache: dict[tuple[str, str], LookupResult] = {}
        self._maps: dict[str, Table | TableList | StringList | None] = {}
        self._lists: dict[str, StringList | None] = {}

    def maps(self, name: str) -> Table | TableList | StringList | None:
        """A main.cf table parameter (virtual_alias_maps, ...), None when it is empty."""
        if name not in self._maps:
            try:
                self._maps[name] = resolve_map(name, self.factory).table
            except MapError:
                self._maps[name] = None
        return self._maps[name]

    def string_list(self, name: str) -> StringList | None:
        """A list with string_list_init() semantics ($mydestination), None when empty."""
        if name not in self._lists:
            text = self.params.get(name)
            self._lists[name] = (
                parse_string_list(
                    name, text, lambda s: self.factory.open(s, fold=False), self._read_file, self.factory.utf8
                )
                if text.strip()
                else None
            )
        return self._lists[name]

    def _read_file(self, path: str) -> str | None:
        if path == "/etc/postfix/vhost":
            return "\n".join(self.config.vhost)
        try:
            return Path(path).read_text(encoding="utf-8", errors="surrogateescape")
        except OSError:
            return None

    def check_unsupported(self) -> None:
        """Refuse configurations whose extra tables ldapdiag cannot emulate."""
        for name in UNSUPPORTED_MAPS:
            if self.params.get(name).strip():
                raise NotEmulated(f"main.cf sets {name}: ldapdiag does not emulate it")


@lru_cache(maxsize=1024)  # asked for the domain of every address resolved
def valid_hostname(name: str) -> bool:
    """valid_hostname(): labels of letters, digits, `_` and inner `-`, not all numeric, <= 255."""
    if not name or len(name) > 255 or name.startswith(".") or name.endswith(".") or ".." in name:
        return False
    non_numeric = False
    for label in name.split("."):
        if len(label) > 63 or label.startswith("-") or label.endswith("-"):
            return False
        for ch in label:
            if not (ch.isascii() and (ch.isalnum() or ch in "_-")):
                return False
            if not ch.isdigit():
                non_numeric = True
    return non_numeric


class Resolver:
    """trivial-rewrite's resolve service for one configuration (replies cached like smtpd's cache)."""

    def __init__(self, maps: MapSet) -> None:
        self.maps = maps
        self.params = maps.params
        self._cache: dict[str, ResolveReply] = {}
        self._reported: set[str] = set()

    def resolve_local(self, domain: str, steps: list[Step], phase: str) -> int:
        """resolve_local(): 1 when `domain` is in $mydestination, 0 when not, -1 on a table error."""
        name = domain[:-1] if domain.endswith(".") else domain
        if not name or name.endswith("."):
            return 0
        if name.startswith("[") and name.endswith("]"):
            raise NotEmulated(f"{domain}: address literals depend on the container's interface addresses")
        mydestination = self.maps.string_list("mydestination")
        if mydestination is None:
            return 0
        outcome = mydestination.match(name)
        steps += from_query_steps(phase, name, outcome.steps, "mydestination")
        if outcome.error is not None:
            return -1
        return 1 if outcome.matched else 0

    def resolve(self, address: str, phase: str = "rcpt") -> ResolveReply:
        """resolve_addr() for an internal-form address."""
        if address not in self._cache:
            self._cache[address] = self._resolve(address, phase)
        return self._cache[address]

    def take_steps(self, reply: ResolveReply, phase: str) -> list[Step]:
        """The resolver's steps for this address the first time; later a one-line reminder."""
        if reply.address not in self._reported:
            self._reported.add(reply.address)
            return list(reply.steps)
        outcome = "lookup failure" if reply.fail else f"class {reply.klass}"
        return [
            Step("resolve", "resolve", f"<{reply.address}>: {outcome} (resolved before)", key=reply.address)
        ]

    def _resolve(self, address: str, phase: str) -> ResolveReply:
        reply = ResolveReply(address)
        if '"' in address or address.startswith("@"):
            raise NotEmulated(f"<{address}>: quoted local parts and source routes are not emulated")
        local, domain = split_at_right(address)
        saved_domain: str | None = None
        for _ in range(len(address) + 100):
            if domain is not None and domain.endswith(".") and not domain.endswith("..") and domain != ".":
                domain = domain[:-1]
            if domain is not None:
                state = self.resolve_local(domain, reply.steps, phase) if domain else 0
                if state < 0:
                    return self._failed(reply, "mydestination lookup failure", phase)
                if state > 0:
                    saved_domain, domain = domain, None
            if domain is None and ("@" in local or self._routing(local)):
                local, domain = self._rewrite_routing(local)
                continue
            if domain is not None:
                break
            if not local:
                local = self.params.get("empty_address_recipient") or "MAILER-DAEMON"
                continue
            if saved_domain is None:
                domain = self.params.get("myhostname")
                continue
            break
        rcpt_domain = domain if domain is not None else saved_domain or self.params.get("myhostname")
        reply.recipient = f"{local}@{rcpt_domain}"
        if rcpt_domain.startswith("["):
            raise NotEmulated(f"<{address}>: address literals are not emulated")
        if not valid_hostname(rcpt_domain):
            reply.error, reply.klass = True, CLASS_DEFAULT
            reply.steps.append(Step(phase, "resolve", f"{rcpt_domain!r} is not a valid domain name"))
            return reply
        at_routing = next((i for i, ch in enumerate(reply.recipient) if ch in "@!%"), 0)
        reply.routed = reply.recipient[at_routing + 1 :] != rcpt_domain
        if domain is None:
            self._classify_local(reply, rcpt_domain)
        elif not self._classify_remote(reply, rcpt_domain, phase):
            return reply
        if ":" in reply.transport:
            reply.transport, _, nexthop = reply.transport.partition(":")
            if nexthop:
                reply.nexthop = nexthop
        if not self.params.flag("allow_min_user") and reply.recipient.startswith("-"):
            reply.error = True
        reply.steps.append(
            Step(
                phase,
                "resolve",
                f"<{address}> resolves to <{reply.recipient}>: class {reply.klass}, "
                f"transport {reply.transport}:{reply.nexthop}",
                key=address,
                result=reply.klass,
            )
        )
        return reply

    def _routing(self, local: str) -> bool:
        return (self.params.flag("swap_bangpath") and "!" in local) or (
            self.params.flag("percent_hack") and "%" in local
        )

    def _rewrite_routing(self, local: str) -> tuple[str, str | None]:
        """rewrite_tree(): `a%b` -> `a@b`, `site!user` -> `user@site` (the last operator wins)."""
        if "@" in local:
            user, _, host = local.rpartition("@")
            return user, host
        if self.params.flag("percent_hack") and "%" in local:
            user, _, host = local.rpartition("%")
            return user, host
        site, _, user = local.partition("!")
        return user, site

    def _classify_local(self, reply: ResolveReply, domain: str) -> None:
        reply.klass = CLASS_LOCAL
        reply.transport = self.params.get("local_transport")
        reply.nexthop = domain

    def _classify_remote(self, reply: ResolveReply, domain: str, phase: str) -> bool:
        """The class of a non-local domain; False after a table failure (reply.fail set)."""
        for parameter, klass in (
            ("virtual_alias_domains", CLASS_ALIAS),
            ("virtual_mailbox_domains", CLASS_VIRTUAL),
        ):
            domains = self.maps.maps(parameter)
            if domains is None:
                continue
            found = domains.lookup(domain)
            reply.steps += from_query_steps(phase, domain, found.steps, parameter)
            if found.error is not None:
                self._failed(reply, f"{parameter} lookup failure", phase)
                return False
            if found.value is not None:
                reply.steps.append(
                    Step(phase, "class", f"{domain} is in {parameter}", key=domain, result=klass)
                )
                reply.klass = klass
                if klass == CLASS_ALIAS:
                    reply.transport = "error"
                    table = (
                        " in virtual alias table" if self.params.flag("show_user_unknown_table_name") else ""
                    )
                    reply.nexthop = f"5.1.1 User unknown{table}"
                else:
                    reply.transport = self.params.get("virtual_transport")
                    reply.nexthop = domain
                return True
        if self._relay_domain(domain):
            reply.klass = CLASS_RELAY
            reply.transport = self.params.get("relay_transport")
        else:
            reply.klass = CLASS_DEFAULT
            reply.transport = self.params.get("default_transport")
        reply.nexthop = self.params.get("relayhost") or domain
        return True

    def _relay_domain(self, domain: str) -> bool:
        """domain_list_match(relay_domains): literal names, their subdomains (parent style)."""
        patterns = self.params.items("relay_domains")
        folded = domain.lower()
        for pattern in patterns:
            if ":" in pattern or pattern.startswith(("/", "!")):
                raise NotEmulated(
                    f"relay_domains = {self.params.get('relay_domains')}: only names are emulated"
                )
            name = pattern.lower().lstrip(".")
            if folded == name or folded.endswith("." + name):
                return True
        return False

    def _failed(self, reply: ResolveReply, reason: str, phase: str) -> ResolveReply:
        reply.fail = True
        reply.reason = reason
        reply.steps.append(Step(phase, "log", f"warning: {reason}", result="temporary failure"))
        return reply
