"""no-placeholder: a filter that does not depend on the key or login.

postfix 3.7.11 dict_ldap.c dict_ldap_open(): "Fixed query_filter %s is probably useless" when
db_common_parse() finds no `%s %u %d %1-%9 %S %U %D`; every key then gets the same answer. The
deliberate never-matching `(|)` (RFC 4526 absolute false, as the DMS docs use it) is exempt, and
a key-dependent search_base keeps the lookup key-dependent. dovecot and saslauthd likewise find
the same entries for every login.
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.directory import filters as f
from ldapdiag.lint import filterwalk
from ldapdiag.lint.context import LintContext, Use
from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.tokens import (
    SASLAUTHD_LOGIN,
    dovecot_login_token,
    dovecot_tokens,
    postfix_dynamic,
    saslauthd_tokens,
)

CODES = ("no-placeholder",)
SERVER = False
DESCRIPTION = "a filter without the key/login placeholder: the same answer for everyone"


def _deliberate(value: str) -> bool:
    node = filterwalk.parse(value)
    return (isinstance(node, f.Or) and not node.filters) or isinstance(node, f.EmptyFilter)


def _dynamic(use: Use, dms_version: int = 15) -> bool:
    if use.component == "postfix":
        return postfix_dynamic(use.value)
    if use.component == "dovecot" and dms_version >= 16:
        # dovecot 2.4: %{user}, %{user | username}...; 2.3 tokens are dms-v16-dovecot-syntax's
        old = [t for t in dovecot_tokens(use.value) if not t.long and t.variable != "%"]
        return "%{user" in use.value or bool(old)
    if use.component == "dovecot":
        return any(dovecot_login_token(t) for t in dovecot_tokens(use.value))
    return any(t.variable in SASLAUTHD_LOGIN for t in saslauthd_tokens(use.value))


def _base_dynamic(ctx: LintContext, use: Use) -> bool:
    keys = {"postfix": ("search_base",), "dovecot": ("base",), "saslauthd": ("ldap_search_base",)}
    for base in ctx.uses(use.component, keys[use.component]):
        if set(base.files) & set(use.files):
            probe = Use(use.component, use.key, base.value, "", "", (), (), ())
            if _dynamic(probe):
                return True
    return False


def check(ctx: LintContext) -> Iterator[LintProblem]:
    for use in ctx.filters():
        if _deliberate(use.value) or _dynamic(use, ctx.dms_version):
            continue
        if _base_dynamic(ctx, use):
            if use.component == "postfix":
                yield use.problem(
                    "info",
                    "no-placeholder",
                    f"{use.name}: postfix logs 'Fixed query_filter ... is probably useless' although the "
                    "key-dependent search_base makes the lookup depend on the key",
                )
            continue
        yield use.problem("error", "no-placeholder", _message(use), _hint(use))


def _message(use: Use) -> str:
    if use.component == "postfix":
        return (
            f"{use.name} has no %s/%u/%d: postfix logs 'Fixed query_filter {use.value} is probably "
            "useless' and answers every key alike (every address or domain gets the same result)"
        )
    if use.component == "dovecot":
        return (
            f"{use.name} has no login variable: every login finds the same entries (one: everybody logs "
            "in as that user; several: 'pass_filter matched multiple objects')"
        )
    return f"{use.name} has no login token: saslauthd checks every login's password against the same entry"


def _hint(use: Use) -> str:
    return {
        "postfix": "put the key into the filter, e.g. (mail=%s); (|) is the deliberate never-match",
        "dovecot": "put the login into the filter, e.g. (mail=%u) or (uid=%n)",
        "saslauthd": "put the login into the filter, e.g. (uid=%U)",
    }[use.component]
