"""dn-substring-samba: a substring filter on a DN attribute that only Samba AD matches.

Checked against Samba 4.17: `(memberOf=cn=Domain Admins,cn=Users,dc=*)`, the seed's senders term,
finds the members of every Domain Admins group, because Samba compares DN values with substring
filters as strings. Windows AD allows only equality on DN attributes and OpenLDAP has no
substring rule for them: there the same term never matches. It also matches more than meant
(any domain, any DN starting that way). The full DN, or LDAP_MATCHING_RULE_IN_CHAIN for nested
membership, says what is meant and works on every AD (on Samba the in-chain form costs a check of
every object when nothing else in the filter narrows the search: about 2 s per lookup with 1,700
objects; `(&(objectClass=user)(memberOf:...:=DN))` takes 0.1 s).
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.directory import filters as f
from ldapdiag.lint import filterwalk
from ldapdiag.lint.context import LintContext
from ldapdiag.lint.matching import KNOWN_DN_ATTRIBUTES
from ldapdiag.lint.problem import LintProblem

CODES = ("dn-substring-samba",)
SERVER = True
DESCRIPTION = "substring filters on DN attributes that Samba matches but Windows AD and OpenLDAP never do"
IN_CHAIN = "1.2.840.113556.1.4.1941"


def check(ctx: LintContext) -> Iterator[LintProblem]:
    server = ctx.server
    if server is None or not server.is_samba:
        return
    base = getattr(server.policy, "search_base", "")  # postfix's, as lint --server reads the directory
    for use in ctx.filters():
        node = filterwalk.parse(use.value)
        if not isinstance(node, f.Filter):
            continue
        for leaf in filterwalk.assertions(node):
            name = filterwalk.attribute(leaf)
            if not isinstance(leaf, f.Substrings) or (name or "").lower() not in KNOWN_DN_ATTRIBUTES:
                continue
            dn = full_dn(leaf, base)
            example = (
                f"({name}={dn}), or (&(objectClass=user)({name}:{IN_CHAIN}:={dn})) to include nested "
                "groups (without the objectClass term Samba checks every object: ~2 s per lookup)"
            )
            yield use.problem(
                "warning",
                "dn-substring-samba",
                f"{use.name}: {filterwalk.describe(leaf)} matches on this Samba DC, which compares DN "
                "values as strings, but never on Windows AD or OpenLDAP (DN attributes: equality "
                "only); it also matches every DN that starts or ends that way",
                f"name the group by its full DN: {example}",
            )


def full_dn(leaf: f.Substrings, base: str) -> str:
    """The DN the pattern most likely means: `cn=X,cn=Users,dc=*` under the search base."""
    initial = (leaf.initial or b"").decode("utf-8", "replace")
    lowered = initial.lower()
    if not leaf.any and leaf.final is None and lowered.endswith("dc=") and base:
        head = initial[: lowered.rfind("dc=")].rstrip(",")
        return f"{head},{base}" if head else base
    return "<the group's full DN>"
