"""mailbox-dovecot-unknown: mailboxes postfix accepts that dovecot's LMTP does not know.

postfix accepts a recipient the users table finds (virtual_mailbox_maps) and hands it to dovecot's
LMTP (DMS's virtual_transport), which looks the address up in the userdb and answers
"550 5.1.1 <addr> User doesn't exist" when the user filter cannot find it: the mail bounces after
it was accepted. Checked against the real postfix and dovecot on the Samba AD DC: the seed's AD
user filter `(sAMAccountName=%n)` misses every address whose local part is not the account name
(Dave.Davis@ of account dave), and `(objectclass=person)` in the users filter accepts contacts,
which have no account at all. Sample: the directory's mail values (paged, sorted), at most
MAX_ADDRESSES, through the postfix and dovecot engines. Needs --server.
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.config.dms_render import LMTP_TRANSPORT
from ldapdiag.directory.problems import DirectoryProblem
from ldapdiag.directory.trace import Trace
from ldapdiag.dovecot.engine import DovecotAuth, directory_factory
from ldapdiag.dovecot.lmtp import lmtp_username
from ldapdiag.dovecot.lookups import CannotPredict
from ldapdiag.lint.context import LintContext
from ldapdiag.lint.problem import LintProblem

CODES = ("mailbox-dovecot-unknown",)
SERVER = True
DESCRIPTION = "mailboxes the users table accepts but dovecot's LMTP userdb lookup does not find"
MAX_ADDRESSES = 40


def check(ctx: LintContext) -> Iterator[LintProblem]:
    server, users, dovecot = ctx.server, ctx.table("users"), ctx.dovecot
    if server is None or users is None or dovecot is None or ctx.config.dovecot_ldap is None:
        return
    if (ctx.config.postfix_main.value("virtual_transport") or "").strip() != LMTP_TRANSPORT:
        return  # SMTP_ONLY / POSTFIX_DAGENT: mail goes elsewhere
    use = next((u for u in ctx.uses("dovecot", ("user_filter",))), None)
    if use is None:
        return
    entries = server.search_everything(getattr(server.policy, "search_base", ""), "(mail=*)", ["mail"])
    addresses = sorted({v for e in entries for v in e.values("mail") if "@" in v}, key=str.lower)
    if not addresses:
        return
    table = server.postfix_tables().ldap(users.path)
    factory = directory_factory(Trace(), server.ca_files, server.ca_dirs, max_wait=15)
    unknown: list[str] = []
    with DovecotAuth(ctx.config, factory) as auth:
        delimiter = auth.settings("lmtp").recipient_delimiter
        for address in addresses[:MAX_ADDRESSES]:
            accepted = table.lookup(address.lower())
            if accepted.error is not None:
                return  # the users table fails: other rules say why
            if not accepted.found:
                continue
            try:
                outcome = auth.user(lmtp_username(address, delimiter), service="lmtp")
            except (CannotPredict, DirectoryProblem):
                return
            if outcome.result == "unknown":  # internal failures (no server, bad fields): check/login say
                unknown.append(address)
    if not unknown:
        return
    shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
    yield use.problem(
        "warning",
        "mailbox-dovecot-unknown",
        f"{use.name}: postfix accepts mail for {shown} (the users table finds them), but dovecot's "
        f"LMTP does not find them with {use.value}: it answers 550 5.1.1 User doesn't exist and the "
        "mail bounces after it was accepted",
        "make the user filter find what the users table finds (e.g. (mail=%u)), or the users filter "
        "accept only accounts dovecot can find",
    )
