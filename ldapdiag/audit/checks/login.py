"""login: the account cannot log in to IMAP/POP3 by its address. dovecot's passdb finds it and a
`user` field in pass_attrs renames the login (e.g. `uid=user`: alice@example.org becomes alice);
the userdb lookup of the same login then runs with the new name, and user_filter does not find it
(dovecot 2.3 auth-master-connection.c; lint rule dovecot-rename). LMTP delivery, which asks the
userdb with the address, keeps working, so nobody notices until someone logs in. Only mailboxes
(addresses delivered to themselves by LMTP) are checked, and only when pass_attrs renames."""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.audit.checks.context import CheckContext
from ldapdiag.audit.model import Finding


def check(ctx: CheckContext) -> Iterator[Finding]:
    engine = ctx.engine
    rename = engine.renames_login()
    if rename is None or not any(r.lmtp_reply and r.status == "sent" for r in ctx.own()):
        return
    login = engine.login(ctx.address)
    if login is None or login.passdb.result != "ok" or login.userdb is None:
        return
    if login.userdb.result != "ok":
        yield Finding(
            "login",
            f"IMAP login as {ctx.address} fails: pass_attrs '{rename}' renames it to {login.passdb.user!r}, "
            f"and the userdb lookup of that name answers {login.userdb.result} ({login.userdb.reason})",
        )
