"""dms-v16-dovecot-syntax: dovecot 2.3 `%` variables in filters DMS v16 hands to dovecot 2.4.

DMS v16 (master c9b015ddc) passes DOVECOT_USER_FILTER/DOVECOT_PASS_FILTER on as
userdb_ldap_filter/passdb_ldap_filter. dovecot 2.4.1 src/lib-var-expand/var-expand-lexer.l: only
`%{` opens an expression; any other `%` is literal text, so `(uid=%n)` searches for "%n".
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.lint.context import LintContext
from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.tokens import dovecot_tokens

CODES = ("dms-v16-dovecot-syntax",)
SERVER = False
DESCRIPTION = "with --dms-version 16: dovecot 2.3 %u/%n/%d in DOVECOT_*_FILTER"

_REPLACEMENT = {"u": "%{user}", "n": "%{user | username}", "d": "%{user | domain}"}


def check(ctx: LintContext) -> Iterator[LintProblem]:
    if ctx.dms_version < 16:
        return
    for name in ("DOVECOT_USER_FILTER", "DOVECOT_PASS_FILTER"):
        setting = ctx.config.settings.get(name)
        if setting is None or not setting.exported:
            continue
        old = [t for t in dovecot_tokens(setting.value) if not t.long and t.variable != "%"]
        if not old:
            continue
        tokens = ", ".join(dict.fromkeys(t.text for t in old))
        examples = ", ".join(f"%{v} -> {r}" for v, r in _REPLACEMENT.items())
        yield LintProblem(
            "error",
            "dms-v16-dovecot-syntax",
            "dovecot",
            ctx.setting_where(name),
            f"{name} uses dovecot 2.3 variables ({tokens}); dovecot 2.4 (DMS v16) reads them as literal "
            "text, so the filter finds nobody and every login fails",
            f"write them in 2.4 syntax: {examples}",
        )
