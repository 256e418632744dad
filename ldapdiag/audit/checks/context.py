"""What a check gets to look at for one address."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from ldapdiag.audit.model import Candidate
from ldapdiag.postfix.delivery import FinalRecipient
from ldapdiag.postfix.transaction import AddressOutcome
from ldapdiag.postfix.virtual_alias import fold

if TYPE_CHECKING:
    from ldapdiag.audit.engine import AuditEngine


@dataclass
class CheckContext:
    """One address: what the enumeration found, postfix's outcome, the engines to ask more."""

    candidate: Candidate
    outcome: AddressOutcome
    engine: AuditEngine

    @property
    def address(self) -> str:
        return self.candidate.address

    def own(self) -> list[FinalRecipient]:
        """The final recipients that are the address itself (a mailbox, or an alias kept)."""
        return self._split[0]

    def others(self) -> list[FinalRecipient]:
        """The final recipients an alias or group expansion added."""
        return self._split[1]

    @cached_property
    def _split(self) -> tuple[list[FinalRecipient], list[FinalRecipient]]:
        """(own, others), sorted once: several checks ask, and a group has many members."""
        me = fold(self.outcome.address)
        own: list[FinalRecipient] = []
        others: list[FinalRecipient] = []
        for recipient in self.outcome.recipients:
            (own if fold(recipient.address) == me else others).append(recipient)
        return own, others
