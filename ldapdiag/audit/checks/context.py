"""What a check gets to look at for one address."""

from __future__ import annotations

from dataclasses import dataclass
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
        me = fold(self.outcome.address)
        return [r for r in self.outcome.recipients if fold(r.address) == me]

    def others(self) -> list[FinalRecipient]:
        """The final recipients an alias or group expansion added."""
        me = fold(self.outcome.address)
        return [r for r in self.outcome.recipients if fold(r.address) != me]
