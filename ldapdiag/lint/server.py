"""What `lint --server` learns from the directory: root DSE, schema, sample addresses.

Everything is read as the postfix component reads the directory (the first table main.cf names),
through the Directory layer: connect, StartTLS and bind as postfix does, then read-only searches.
The subschema entry is the one the root DSE names (subschemaSubentry, RFC 4512 5.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from ldapdiag.config.model import MailServerConfig
from ldapdiag.directory.directory import AD_CAPABILITY, Directory, Entry, RootDse
from ldapdiag.directory.policy import ConnectionPolicy, PolicyFailure
from ldapdiag.directory.problems import DirectoryProblem
from ldapdiag.errors import LdapdiagError
from ldapdiag.lint.schema import Schema

if TYPE_CHECKING:
    from ldapdiag.postfix.maps import TableFactory

MAX_WAIT = 15.0
SAMPLE_LIMIT = 200  # entries read for sample addresses


class ServerUnavailable(LdapdiagError):
    """lint --server could not read the directory: nothing server-side can be checked."""


@dataclass
class ServerFacts:
    """The directory as postfix sees it, for the server rules."""

    config: MailServerConfig
    policy: ConnectionPolicy
    directory: Directory
    root_dse: RootDse
    schema: Schema | None
    schema_error: str | None = None
    ca_files: tuple[Path, ...] = ()
    ca_dirs: tuple[Path, ...] = ()
    _factory: TableFactory | None = field(default=None, init=False, repr=False)

    @property
    def is_active_directory(self) -> bool:
        """The root DSE advertises LDAP_CAP_ACTIVE_DIRECTORY_OID (Windows AD and Samba AD)."""
        return AD_CAPABILITY in self.root_dse.get("supportedCapabilities")

    @property
    def is_samba(self) -> bool:
        """A Samba AD DC (vendorName "Samba Team ..."): it matches substrings on DN values as strings."""
        return any("samba" in name.lower() for name in self.root_dse.get("vendorName"))

    @property
    def matching_rules_listed(self) -> bool:
        """Whether the schema's EQUALITY/SUBSTR fields say how the server matches.

        Active Directory's subschema lists no matching rules at all, yet AD matches every
        attribute by its syntax; there a missing rule says nothing.
        """
        return self.schema is not None and not self.is_active_directory

    def postfix_tables(self) -> TableFactory:
        """The postfix engine's tables for this configuration (connections shared per settings)."""
        if self._factory is None:
            from ldapdiag.postfix.maps import build_factory

            self._factory = build_factory(self.config, self.ca_files, self.ca_dirs)
        return self._factory

    def search_values(self, base: str, search_filter: str, attributes: Sequence[str]) -> list[str]:
        """Values of `attributes` of the entries a subtree search finds (at most SAMPLE_LIMIT entries)."""
        try:
            outcome = self.directory.search(base, "sub", search_filter, attributes, size_limit=SAMPLE_LIMIT)
        except DirectoryProblem:
            return []
        return [value for entry in outcome.entries for name in attributes for value in entry.values(name)]

    def search_everything(self, base: str, search_filter: str, attributes: Sequence[str]) -> list[Entry]:
        """Every entry a subtree search finds, read in RFC 2696 pages (audits only; [] when unreadable)."""
        if self.directory is None:
            return []
        try:
            return list(self.directory.search_all(base, "sub", search_filter, attributes).entries)
        except DirectoryProblem:
            return []

    @cached_property
    def sample_addresses(self) -> list[str]:
        """Mail addresses stored in the directory (mail values under postfix's search base)."""
        values = self.search_values(self.policy.search_base, "(mail=*)", ["mail"])
        return list(dict.fromkeys(v for v in values if "@" in v and not v.startswith("@")))

    @cached_property
    def sample_domains(self) -> list[str]:
        """The domains of the sample addresses, lowercased, in first-seen order."""
        return list(dict.fromkeys(address.rsplit("@", 1)[1].lower() for address in self.sample_addresses))

    def close(self) -> None:
        if self._factory is not None:
            self._factory.pool.close()
        self.directory.close()


def read_server(
    config: MailServerConfig,
    policies: Sequence[ConnectionPolicy | PolicyFailure],
    ca_files: tuple[Path, ...] = (),
    ca_dirs: tuple[Path, ...] = (),
) -> ServerFacts:
    """Connect as postfix (else dovecot, else saslauthd), read the root DSE and the schema."""
    usable = [p for p in policies if isinstance(p, ConnectionPolicy)]
    usable.sort(key=lambda p: ("postfix", "dovecot", "saslauthd").index(p.component))
    if not usable:
        raise ServerUnavailable("no component has a usable connection setting (see the errors above)")
    policy = usable[0]
    directory = Directory(policy, ca_files=ca_files, ca_dirs=ca_dirs, max_wait=MAX_WAIT)
    try:
        root_dse = directory.root_dse()
        schema, schema_error = _read_schema(directory, root_dse)
    except DirectoryProblem as problem:
        directory.close()
        raise ServerUnavailable(f"{policy.component} cannot read the directory: {problem}") from None
    return ServerFacts(config, policy, directory, root_dse, schema, schema_error, ca_files, ca_dirs)


def _read_schema(directory: Directory, root_dse: RootDse) -> tuple[Schema | None, str | None]:
    """The subschema entry's attributeTypes and objectClasses."""
    names = root_dse.get("subschemaSubentry") or ("cn=Subschema",)
    base = names[0]
    outcome = directory.search(
        base, "base", "(objectClass=subschema)", ["attributeTypes", "objectClasses"], size_limit=0
    )
    if not outcome.ok or not outcome.entries:
        return None, f"the subschema entry {base} is not readable ({outcome.result_name})"
    entry = outcome.entries[0]
    attribute_types = entry.values("attributeTypes")
    if not attribute_types:
        return None, f"the subschema entry {base} lists no attribute types for this bind"
    return Schema.from_descriptions(attribute_types, entry.values("objectClasses"), base), None
