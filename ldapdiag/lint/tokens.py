"""The `%` tokens of each component's templates, recognised (not expanded) for lint.

- postfix (global/db_common.c db_common_parse(), 3.7.11): `%%`, `%s %u %d %1`-`%9` and
  `%S %U %D`; any other character after `%` (or a `%` at the end) is fatal: "Invalid query
  template" / "Invalid result template".
- dovecot 2.3 (src/lib/var-expand.c var_expand_with_funcs(), 2.3.19.1): `%`, then an optional
  `-`, `0`, width, `.offset`, then up to ten modifiers `L U E X R H N M D T`, then one variable
  character or a `{long_key}`; the auth variables are src/auth/auth-request-var-expand.c's table.
- saslauthd (saslauthd/lak.c lak_expand_tokens(), cyrus-sasl 2.1.28): `%%`, `%u %U %d %1`-`%9`,
  `%r %R %s %D`; other characters vanish, a `%` at the end ends the expansion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

POSTFIX_DYNAMIC = frozenset("sSuUdD123456789")
POSTFIX_VALID = POSTFIX_DYNAMIC | {"%"}

DOVECOT_MODIFIERS = frozenset("LUEXRHNMDT")
# auth-request-var-expand.c auth_request_var_expand_static_tab: short keys
DOVECOT_SHORT = {
    "u": "user",
    "n": "username",
    "d": "domain",
    "s": "service",
    "h": "home",
    "l": "lip",
    "r": "rip",
    "p": "pid",
    "w": "password",
    "!": "",
    "m": "mech",
    "c": "secured",
    "a": "lport",
    "b": "rport",
    "k": "cert",
}
DOVECOT_LONG = frozenset(
    {
        *(name for name in DOVECOT_SHORT.values() if name),
        "login_user",
        "login_username",
        "login_domain",
        "session",
        "real_lip",
        "real_rip",
        "real_lport",
        "real_rport",
        "domain_first",
        "domain_last",
        "master_user",
        "session_pid",
        "orig_user",
        "orig_username",
        "orig_domain",
        "auth_user",
        "auth_username",
        "auth_domain",
        "local_name",
        "client_id",
        "local_ip",
        "remote_ip",
        "local_port",
        "remote_port",
        "real_local_ip",
        "real_remote_ip",
        "real_local_port",
        "real_remote_port",
        "mechanism",
        "original_user",
        "original_username",
        "original_domain",
        # var_expand_long() built-ins
        "pid",
        "uid",
        "gid",
        "hostname",
    }
)
# variables made of the login name (what a user or pass filter must contain)
DOVECOT_LOGIN_VARIABLES = frozenset(
    {
        "user",
        "username",
        "domain",
        "login_user",
        "login_username",
        "login_domain",
        "orig_user",
        "orig_username",
        "orig_domain",
        "original_user",
        "original_username",
        "original_domain",
        "auth_user",
        "auth_username",
        "auth_domain",
        "domain_first",
        "domain_last",
    }
)

SASLAUTHD_KNOWN = frozenset("%uUd123456789rRsD")
SASLAUTHD_LOGIN = frozenset("uUd123456789rR")


@dataclass(frozen=True)
class Token:
    """One `%` sequence: where it starts, its text, and the variable it names."""

    position: int
    text: str
    variable: str  # postfix/saslauthd: the character; dovecot: the short char or the long key
    modifiers: str = ""  # dovecot only
    long: bool = False  # dovecot `%{...}`
    complete: bool = True  # False: a `%` (with modifiers) at the very end


def postfix_tokens(template: str) -> list[Token]:
    """db_common_parse(): every `%` and the character after it."""
    tokens = []
    index = 0
    while (index := template.find("%", index)) >= 0:
        char = template[index + 1 : index + 2]
        tokens.append(Token(index, template[index : index + 2], char, complete=bool(char)))
        index += 2
    return tokens


def postfix_invalid(template: str) -> list[Token]:
    """Tokens postfix refuses (fatal): unknown characters and a trailing `%`."""
    return [t for t in postfix_tokens(template) if not t.complete or t.variable not in POSTFIX_VALID]


def postfix_dynamic(template: str) -> bool:
    """db_common_parse()'s return value: whether the template depends on the key."""
    return any(t.variable in POSTFIX_DYNAMIC for t in postfix_tokens(template))


_DOVECOT_PREFIX = re.compile(r"-?0?[0-9]*(?:\.0?-?[0-9]*)?")


def dovecot_tokens(template: str) -> list[Token]:
    """var_expand_with_funcs(): each `%` with its width/offset, modifiers and variable."""
    tokens = []
    index = 0
    while (start := template.find("%", index)) >= 0:
        pos = _DOVECOT_PREFIX.match(template, start + 1).end()  # type: ignore[union-attr]
        modifiers = ""
        while pos < len(template) and template[pos] in DOVECOT_MODIFIERS and len(modifiers) < 10:
            modifiers += template[pos]
            pos += 1
        if pos >= len(template):
            tokens.append(Token(start, template[start:], "", modifiers, complete=False))
            break
        if template[pos] == "{" and "}" in template[pos:]:
            end = _long_key_end(template, pos)
            key = template[pos + 1 : end]
            tokens.append(Token(start, template[start : end + 1], key, modifiers, long=True))
            index = end + 1
        else:
            tokens.append(Token(start, template[start : pos + 1], template[pos], modifiers))
            index = pos + 1
    return tokens


def _long_key_end(template: str, brace: int) -> int:
    """The index of the `}` closing the `{` at `brace` (nested braces, backslash escapes)."""
    depth, escaped = 1, False
    for index in range(brace + 1, len(template)):
        char = template[index]
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
    return len(template)  # no closing brace: the key runs to the end


def dovecot_variable(token: Token) -> str | None:
    """The long name of a dovecot token's variable (`n` -> `username`), None when unknown."""
    if token.variable == "%" and not token.long:
        return "%"
    if token.long:
        key = token.variable
        if ":" in key:
            return key  # a function (env:, ldap:, a hash...): not judged here
        return key if key in DOVECOT_LONG else None
    name = DOVECOT_SHORT.get(token.variable)
    return name if name else None


def dovecot_login_token(token: Token) -> bool:
    """Whether the token expands to (a part of) the login name."""
    name = dovecot_variable(token)
    return name in DOVECOT_LOGIN_VARIABLES


def saslauthd_tokens(template: str) -> list[Token]:
    """lak_expand_tokens(): each `%` and the character after it."""
    tokens = []
    index = 0
    while (index := template.find("%", index)) >= 0:
        char = template[index + 1 : index + 2]
        tokens.append(Token(index, template[index : index + 2], char, complete=bool(char)))
        if not char:
            break
        index += 2
    return tokens
