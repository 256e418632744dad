"""What `--explain` tells: component-level lookups, each with the LDAP searches it sent."""

from __future__ import annotations

from dataclasses import dataclass, field

from ldapdiag.directory.directory import WireSearch


@dataclass
class Query:
    """One LDAP search as the component sent it (or would have: `sent` False)."""

    base: str
    scope: str
    filter: str | None  # exactly as sent, after escaping (None: the empty filter's absent element)
    attributes: tuple[str, ...]
    wire: WireSearch | None  # None: not sent (libldap refused the filter, no connection...)
    table: str | None = None  # the postfix table that sent it
    entries: tuple[str, ...] = ()
    values: list[str] = field(default_factory=list)  # values taken, "DN: attribute=value"
    notes: list[str] = field(default_factory=list)  # values skipped and why, warnings
    password_file: str | None = None  # where the bind password is read from, when a *__FILE names one

    @property
    def server(self) -> str | None:
        return self.wire.event.server if self.wire is not None else None

    @property
    def result(self) -> str:
        """The LDAP result name, or why nothing came back."""
        if self.wire is None:
            return "not sent"
        return self.wire.event.result or str(self.wire.event.result_code)


@dataclass
class Lookup:
    """One question a component asks: a postfix table lookup, a dovecot passdb/userdb lookup..."""

    component: str  # postfix/smtpd, postfix/trivial-rewrite, postfix/cleanup, dovecot auth, saslauthd
    source: str  # the map (main.cf parameter) or passdb/userdb, with its file
    key: str  # the key or user name as the component asks
    answer: str = ""
    queries: list[Query] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # the program-level commands that ask the same question (postmap -q, doveadm, testsaslauthd),
    # each a list of shell words (units) already quoted
    reproduce: list[list[str]] = field(default_factory=list)
