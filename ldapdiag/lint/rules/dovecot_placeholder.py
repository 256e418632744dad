"""dovecot-placeholder: `%` variables dovecot 2.3 does not know, or that are not the login.

dovecot 2.3.19.1 src/lib/var-expand.c: `%` [width/offset] [modifiers LUEXRHNMDT] variable; an
unknown variable makes auth_request_var_expand() fail, and passdb-ldap.c / userdb-ldap.c then
fail the lookup ("Failed to expand pass_filter=...": internal failure). The variables are
src/auth/auth-request-var-expand.c's: `%s` is the service (imap, pop3, lmtp, smtp), `%w` the
plaintext password, `%U` a modifier (uppercase) that needs a variable after it.
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.lint.context import LintContext, Use
from ldapdiag.lint.effects import fails, finds_nothing
from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.tokens import Token, dovecot_tokens, dovecot_variable

CODES = ("dovecot-placeholder",)
SERVER = False
DESCRIPTION = "a % variable dovecot does not know, or one that is not the login (%s, %w, ...)"

_FILTER_FUNCTIONS = ("env", "passdb", "userdb")
_NOT_LOGIN = {
    "service": "the service name (imap, pop3, lmtp, smtp), not the login; postfix's %s is dovecot's %u",
    "home": "the home directory, not the login",
    "lip": "the local IP address",
    "rip": "the remote IP address",
    "pid": "a process id",
    "mech": "the SASL mechanism",
    "secured": "whether the connection is secured",
    "lport": "the local port",
    "rport": "the remote port",
    "cert": "the client certificate state",
}


def check(ctx: LintContext) -> Iterator[LintProblem]:
    if ctx.dms_version >= 16:
        return  # dovecot 2.4 syntax: dms-v16-dovecot-syntax judges the filters
    for use in ctx.uses("dovecot", ("user_filter", "pass_filter", "base")):
        for token in dovecot_tokens(use.value):
            problem = _judge(use, token)
            if problem is not None:
                yield problem


def _judge(use: Use, token: Token) -> LintProblem | None:
    if not token.complete:
        return use.problem(
            "warning",
            "dovecot-placeholder",
            f"{use.name}: {token.text!r} at the end expands to nothing (a modifier or % without a variable)",
            "end the variable: %u (login), %n (local part), %d (domain), e.g. %Lu",
        )
    name = dovecot_variable(token)
    if name is None:
        hint = "dovecot's login variables are %u (login), %n (local part), %d (domain); e.g. %Ln"
        what = f"{token.text!r} is not a dovecot variable"
        if "U" in token.modifiers and not token.long:
            what = (
                f"{token.text!r}: in dovecot %U is the uppercase modifier, and {token.variable!r} "
                "is no variable"
            )
            hint = "saslauthd's %U (local part) is dovecot's %n"
        return use.problem(
            "error",
            "dovecot-placeholder",
            f"{use.name}: {what}: dovecot logs 'Unknown variable' and {fails(use)}",
            hint,
        )
    if token.long and ":" in name:
        prefix = name.split(":", 1)[0]
        if prefix == "ldap":
            return use.problem(
                "error",
                "dovecot-placeholder",
                f"{use.name}: {token.text!r}: %{{ldap:...}} works only in pass_attrs/user_attrs "
                f"templates; in a filter dovecot logs 'Unknown variable' and {fails(use)}",
                "use %u, %n or %d in filters",
            )
        return None
    if name == "password":
        return use.problem(
            "error",
            "dovecot-placeholder",
            f"{use.name}: {token.text!r} puts the user's plaintext password into the search",
            "compare the password with pass_attrs (userPassword=password) or auth_bind = yes",
        )
    if name in _NOT_LOGIN:
        return use.problem(
            "error",
            "dovecot-placeholder",
            f"{use.name}: {token.text!r} is {_NOT_LOGIN[name]}: {finds_nothing(use)}",
            "use %u (login), %n (local part) or %d (domain)",
        )
    return None
