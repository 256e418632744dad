"""saslauthd-placeholder: `%` tokens saslauthd does not fill as the filter needs.

cyrus-sasl 2.1.28 saslauthd/lak.c lak_expand_tokens(): `%%`, `%u %U %d %1`-`%9`, `%r %R`, `%s`
(the service: smtp), `%D` (the user's DN, only known to group checks); any other character
after `%` vanishes without a word. Under DMS saslauthd runs without `-r` (supervisor
saslauth.conf), so the login arrives split: `%u` is only the part before `@`, like `%U`.
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.directory import filters as f
from ldapdiag.lint import filterwalk
from ldapdiag.lint.context import LintContext, Use
from ldapdiag.lint.effects import finds_nothing
from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.tokens import SASLAUTHD_KNOWN, saslauthd_tokens

CODES = ("saslauthd-placeholder",)
SERVER = False
DESCRIPTION = "a % token saslauthd drops or fills with something other than the login"

# attributes whose values are whole addresses: compared with %u they never match under DMS
ADDRESS_ATTRIBUTES = frozenset({"mail", "mailalias", "userprincipalname", "proxyaddresses", "othermailbox"})


def check(ctx: LintContext) -> Iterator[LintProblem]:
    for use in ctx.uses("saslauthd", ("ldap_filter", "ldap_search_base")):
        for token in saslauthd_tokens(use.value):
            if not token.complete:
                yield use.problem(
                    "warning",
                    "saslauthd-placeholder",
                    f"{use.name}: a '%' at the end: saslauthd logs 'Incomplete lookup substitution format'",
                    "write %% for a literal %",
                )
            elif token.variable not in SASLAUTHD_KNOWN:
                yield use.problem(
                    "error",
                    "saslauthd-placeholder",
                    f"{use.name}: saslauthd does not know {token.text!r} and leaves it out: "
                    f"{finds_nothing(use)}",
                    "saslauthd knows %u (login), %U (its local part), %r (realm), %1-%9, %%",
                )
            elif token.variable == "s":
                yield use.problem(
                    "error",
                    "saslauthd-placeholder",
                    f"{use.name}: saslauthd's %s is the service name (smtp), not the login: "
                    f"{finds_nothing(use)}",
                    "use %U for the login's local part (postfix's %s is not saslauthd's)",
                )
            elif token.variable == "D":
                yield use.problem(
                    "error",
                    "saslauthd-placeholder",
                    f"{use.name}: %D (the user's DN) is only known to ldap_group_filter: "
                    f"{finds_nothing(use)}",
                    "use %U for the login's local part",
                )
        if use.key == "ldap_filter":
            yield from _u_against_addresses(use)


def _u_against_addresses(use: Use) -> Iterator[LintProblem]:
    node = filterwalk.parse(use.value)
    if isinstance(node, f.FilterSyntaxError):
        return
    for leaf in filterwalk.assertions(node):
        attr = (filterwalk.attribute(leaf) or "").lower()
        if isinstance(leaf, f.Equality) and attr in ADDRESS_ATTRIBUTES and leaf.value == b"%u":
            yield use.problem(
                "warning",
                "saslauthd-placeholder",
                f"{use.name}: ({filterwalk.attribute(leaf)}=%u) compares an address with the login's local "
                "part: DMS runs saslauthd without -r, so postfix hands the domain over as the realm and %u "
                "is 'alice' for alice@example.org",
                "compare the local part with a local-part attribute (uid=%U), or fix the domain as the "
                "DMS docs do: (mail=%U@example.org)",
            )
