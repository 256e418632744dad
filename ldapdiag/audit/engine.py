"""The postfix and dovecot engines, set up once for a whole audit.

One TableFactory (postfix's tables, one connection per connection setting), one Prober (smtpd,
cleanup, qmgr: transaction.py), one DovecotAuth (dovecot's auth process, its connection kept
open), every Directory answering a repeated search from one LRU (cache.py). Each address is its
own one-recipient transaction from an external client (port 25, the default sender), as a mail
from the internet would be.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from ldapdiag.config.model import MailServerConfig
from ldapdiag.config.postfix_cf import split_table_list
from ldapdiag.directory.directory import AD_CAPABILITY, Directory, SearchOutcome, WireSearch
from ldapdiag.directory.policy import ConnectionPolicy
from ldapdiag.dovecot.engine import DovecotAuth, LoginOutcome
from ldapdiag.dovecot.lmtp import lmtp_rcpt
from ldapdiag.dovecot.settings import AuthSettings, ldap_settings
from ldapdiag.lint.rules.dovecot_rename import renamed_from
from ldapdiag.postfix.delivery import LmtpAnswer
from ldapdiag.postfix.ldap_table import LdapTable
from ldapdiag.postfix.maps import TableFactory, parameter_value, smtputf8_enabled
from ldapdiag.postfix.resolve_command import default_dns
from ldapdiag.postfix.transaction import DEFAULT_MAIL_FROM, AddressOutcome, Prober

from .cache import AuditPool, AuditTrace, CachingDirectory, Lru
from .enumerate import RECIPIENT_MAPS, Plan, plan

BATCH_CACHE_SIZE = 12_288  # searches kept: a chunk's batched answers (batch.py) fit with room
# postfix's cached table answers and resolver replies kept between addresses: ~1-2 KB each (their
# steps); reached within the first few thousand addresses, so the peak does not grow with the
# directory (20,000 filled only past 10,000 entries: peak RSS 143 MiB there, 204 MiB at 100,000)
ANSWERS_KEPT = 4096
LMTP_ANSWERS_KEPT = 12_288  # dovecot LMTP answers for final recipients (group members come back): ~1 KB each


class AuditEngine:
    """Everything an audit asks, built once. Use as a context manager."""

    def __init__(
        self,
        config: MailServerConfig,
        ca_files: tuple[Path, ...] = (),
        ca_dirs: tuple[Path, ...] = (),
        *,
        fast: bool = True,
        known_ad: bool | None = None,
    ) -> None:
        self.config = config
        self.known_ad = known_ad  # a worker process (parallel.py): the main process asked the server
        self.trace = AuditTrace()
        # fast: batched searches ahead of each chunk of addresses (batch.py); the same results
        self.fast = fast
        self.cache: Lru[tuple[object, ...], tuple[SearchOutcome, WireSearch | None]] = Lru(
            BATCH_CACHE_SIZE if fast else 4096
        )
        self.ca_files, self.ca_dirs = ca_files, ca_dirs
        pool = AuditPool(self.trace, ca_files, ca_dirs, config.identity.hostname or None, self.cache)
        self.factory = TableFactory(config, pool, utf8=smtputf8_enabled(config.postfix_main))
        self._dovecot_dirs: dict[object, CachingDirectory] = {}
        self.auth = DovecotAuth(config, self._dovecot_directory) if config.dovecot_ldap is not None else None
        self.prober = Prober(
            config,
            mail_from=DEFAULT_MAIL_FROM,
            client="external",
            factory=self.factory,
            dns=default_dns(None),
            lmtp_hook=self._lmtp,
        )
        self._enumeration: dict[object, Directory] = {}
        self._plan: Plan | None = None
        self._lmtp_answers: Lru[tuple[int, str], LmtpAnswer] = Lru(LMTP_ANSWERS_KEPT)

    def __enter__(self) -> AuditEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.factory.pool.close()
        for directory in self._dovecot_dirs.values():
            directory.shutdown()
        for directory in self._enumeration.values():
            directory.close()

    # -- what the engines are asked ------------------------------------------------------------

    def probe(self, address: str) -> AddressOutcome:
        """One transaction for `address`; the shared answers kept bounded."""
        outcome = self.prober.probe(address)
        self.prober.trim(ANSWERS_KEPT)
        return outcome

    def _lmtp(self, config: MailServerConfig, address: str) -> LmtpAnswer | None:
        """dovecot LMTP's RCPT answer (postfix_hooks.lmtp_hook, with the run's DovecotAuth).

        A final recipient reached again (a group member, an alias target) gets the answer it got
        before: the directory is read once per run, as postfix's own answers are kept. Temporary
        failures (4xx) are asked again, as dovecot would."""
        known = self._lmtp_answers.get((id(config), address))
        if known is not None:
            return known
        outcome = lmtp_rcpt(config, self._dovecot_directory, address, auth=self.auth)
        if outcome.reply is None:
            return None
        userdb = outcome.as_dict()["userdb"]
        answer = LmtpAnswer(
            outcome.reply,
            userdb,  # type: ignore[arg-type]
            outcome.data_reply,
            outcome.findings,
            outcome.inherits_ids,
        )
        if not answer.reply.startswith("4"):
            self._lmtp_answers.put((id(config), address), answer)
        return answer

    def lmtp_known(self, address: str) -> bool:
        """dovecot LMTP's answer for this final recipient is kept (_lmtp() will not search)."""
        return (id(self.config), address) in self._lmtp_answers

    def _dovecot_directory(self, policy: ConnectionPolicy) -> Directory:
        key = policy.connection_key()
        if key not in self._dovecot_dirs:
            self._dovecot_dirs[key] = CachingDirectory(
                policy, self.trace, self.ca_files, self.ca_dirs, max_wait=15.0, cache=self.cache, shared=True
            )
        return self._dovecot_dirs[key]

    def lmtp_settings(self) -> AuthSettings | None:
        return self.auth.settings("lmtp") if self.auth is not None else None

    @cached_property
    def login_rename(self) -> tuple[str, str] | None:
        """(the attribute whose value becomes the login, the pass_attrs item: `uid=user`), None
        when dovecot's passdb keeps the login's name (renamed_from(); asked for every address)."""
        ldap = self.config.dovecot_ldap
        return renamed_from(ldap_settings(ldap).pass_attrs) if ldap is not None else None

    def renames_login(self) -> str | None:
        """The pass_attrs item that renames a login (`uid=user`), None when logins keep their name."""
        return self.login_rename[1] if self.login_rename else None

    def login(self, name: str) -> LoginOutcome | None:
        """An IMAP login's lookups (passdb, then userdb with the passdb's name), no password."""
        return self.auth.login(name, None) if self.auth is not None else None

    def tables(self, parameter: str) -> list[LdapTable]:
        """The enumerated ldap tables of a main.cf table list (virtual_mailbox_maps, virtual_alias_maps)."""
        return [search.table for search in self.plan().searches if search.parameter == parameter]

    def entries_with(self, table: LdapTable, key: str) -> tuple[str, ...]:
        """The DNs the table's top search finds for `key` (repeated searches come from the cache)."""
        result = table.lookup(key)
        for step in result.steps:
            if step.action == "search" and step.filter is not None and "->" in step.detail:
                return step.dns
        return ()

    # -- enumeration ---------------------------------------------------------------------------

    def plan(self) -> Plan:
        """The enumeration searches (tables opened as postfix opens them)."""
        if self._plan is None:
            self.known_ad = self.is_active_directory()
            self._plan = plan(self.factory, is_ad=self.known_ad)
        return self._plan

    def is_active_directory(self) -> bool:
        """The server behind the first recipient table advertises LDAP_CAP_ACTIVE_DIRECTORY_OID."""
        if self.known_ad is not None:
            return self.known_ad
        tables = [t for t in map(self.factory.open, self._recipient_specs()) if isinstance(t, LdapTable)]
        if not tables:
            return False
        return AD_CAPABILITY in self.enumeration_directory(tables[0]).root_dse().get("supportedCapabilities")

    def _recipient_specs(self) -> list[str]:
        return [spec for parameter in RECIPIENT_MAPS for spec in self.table_specs(parameter)]

    def table_specs(self, parameter: str) -> list[str]:
        """The tables of a main.cf table list (`ldap:/etc/postfix/ldap-aliases.cf`, ...), as
        maps_create() splits it."""
        return split_table_list(parameter_value(self.config.postfix_main, parameter) or "")

    def enumeration_directory(self, table: LdapTable) -> Directory:
        """A connection of its own per connection setting, made as postfix makes the table's."""
        conf = self.factory.ldap_file(table.config.path)
        assert conf is not None  # the table was opened from it
        policy = self.factory.pool.policy(conf, table.config.version)
        key = policy.connection_key()
        if key not in self._enumeration:
            self._enumeration[key] = Directory(policy, self.trace, self.ca_files, self.ca_dirs, 15.0)
        return self._enumeration[key]
