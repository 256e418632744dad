"""component-refuses: a connection setting the component itself refuses.

postfix (dict_ldap.c: cfg_get_bool()/cfg_get_int() are fatal on bad values), dovecot 2.3
(db-ldap.c: bad `uris`, booleans, tls_require_cert, ldap_version are fatal) and saslauthd (lak.c:
ldap_initialize() fails on a server list that is not a list of LDAP URLs), as the Directory
layer's policies derive them.
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.directory.policy import PolicyFailure
from ldapdiag.lint.context import LintContext, where_of
from ldapdiag.lint.problem import LintProblem

CODES = ("component-refuses",)
SERVER = False
DESCRIPTION = "postfix, dovecot or saslauthd refuses a connection setting"

_EFFECT = {
    "postfix": "the table cannot be used: every lookup through it is a temporary failure",
    "dovecot": "dovecot's auth process stops: no IMAP/POP3 login and no LMTP delivery works",
    "saslauthd": "saslauthd cannot connect: every SMTP AUTH fails",
}

# checked in the sandbox (tests/differential/test_cannot_start.py)
_POSTFIX_FATAL = (
    "the smtpd or trivial-rewrite that opens the table dies at start (no greeting, or no reply to MAIL FROM; "
    "`ldapdiag check` names it)"
)


def check(ctx: LintContext) -> Iterator[LintProblem]:
    for item in ctx.policies:
        if not isinstance(item, PolicyFailure):
            continue
        reason = item.error.message
        where = item.source
        for _, conf in ctx.files():
            if conf.path == item.source:
                key = _key(reason)
                entry = ctx.entry(conf, key) if key else None
                if entry is not None:
                    where = where_of(conf, entry, key)[0]
                break
        effect = _EFFECT[item.component]
        if item.component == "postfix" and "fatal" in reason:
            effect = _POSTFIX_FATAL
        yield LintProblem(
            "error",
            "component-refuses",
            item.component,
            where,
            f"{reason}: {effect}",
            "fix the value; ldapdiag config shows the file the component reads",
            item.source,
        )


def _key(reason: str) -> str:
    """The setting a policy error names first (`uris/hosts: ...` -> `uris`)."""
    head = reason.split(":", 1)[0].split(" ", 1)[0]
    return head.split("/", 1)[0]
