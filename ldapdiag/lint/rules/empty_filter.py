"""empty-filter: a filter with no text, which libldap sends as no filter at all.

DMS v15 setup.d/ldap.sh exports LDAP_QUERY_FILTER from LDAP_QUERY_FILTER_{USER,...} even when
unset, and helpers/utils.sh _replace_by_env_in_file() writes `query_filter =`; likewise
DOVECOT_PASS_FILTER defaults to DOVECOT_USER_FILTER and becomes `pass_filter =` when both are unset.
libldap encodes "" (and " ") as a SearchRequest without a filter; slapd answers protocolError (2)
(FACTS.md, checked with postmap), so every lookup through it fails.
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.directory import filters as f
from ldapdiag.lint import filterwalk
from ldapdiag.lint.context import LintContext, Use
from ldapdiag.lint.effects import fails
from ldapdiag.lint.problem import LintProblem

CODES = ("empty-filter",)
SERVER = False
DESCRIPTION = "an empty filter (what DMS writes for an unset filter variable): every lookup fails"

_HINTS = {
    "postfix": "set the variable, e.g. LDAP_QUERY_FILTER_ALIAS=(|) for a map that must never match",
    "dovecot": "set DOVECOT_USER_FILTER (DOVECOT_PASS_FILTER defaults to it), e.g. "
    "DOVECOT_USER_FILTER=(&(objectClass=PostfixBookMailAccount)(uniqueIdentifier=%n))",
    "saslauthd": "set SASLAUTHD_LDAP_FILTER",
}


def check(ctx: LintContext) -> Iterator[LintProblem]:
    for use in ctx.filters():
        if not isinstance(filterwalk.parse(use.value), f.EmptyFilter):
            continue
        yield use.problem("error", "empty-filter", _message(use), _HINTS[use.component])


def _message(use: Use) -> str:
    origin = use.entries[0].origin
    unset = origin.kind == "derived" and "unset" in origin.location
    cause = (
        f"{origin.variable} is not set, so DMS writes an empty {', '.join(use.keys)}"
        if unset
        else f"{use.name} is empty"
    )
    return f"{cause}: libldap sends no filter, the server answers 'Protocol error', and {fails(use)}"
