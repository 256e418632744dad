"""duplicate: two entries claim one address. Two entries the users table finds for one key give
postfix "a@x,a@x" and dovecot "LDAP search returned multiple entries" (its lookup fails); an
address that is one entry's mailbox and another entry's alias or group goes where the alias
says: virtual_alias_maps are expanded before any mailbox is looked at (cleanup), so the mailbox
never receives it."""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.audit.checks.context import CheckContext
from ldapdiag.audit.model import Finding


def check(ctx: CheckContext) -> Iterator[Finding]:
    key = ctx.address.lower()
    engine = ctx.engine
    mailboxes: list[str] = []
    for table in engine.tables("virtual_mailbox_maps"):
        mailboxes += [dn for dn in engine.entries_with(table, key) if dn not in mailboxes]
    if len(mailboxes) > 1:
        yield Finding("duplicate", f"{len(mailboxes)} entries have this mailbox: {'; '.join(mailboxes)}")
        return
    if not mailboxes:
        return
    for table in engine.tables("virtual_alias_maps"):
        others = [dn for dn in engine.entries_with(table, key) if dn not in mailboxes]
        if others:
            yield Finding(
                "duplicate",
                f"the mailbox of {mailboxes[0]} is also {table.config.path}'s key for {'; '.join(others)}: "
                "the alias wins, the mailbox gets nothing sent to this address",
            )
            return
