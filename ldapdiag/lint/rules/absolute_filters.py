"""absolute-filter-unsupported: `(|)` or `(&)` sent to a server that does not advertise them.

RFC 4526 absolute true/false filters are an extension: a server supports them when its root DSE
lists 1.3.6.1.4.1.4203.1.5.3 in supportedFeatures (OpenLDAP does). Elsewhere `(|)` - the DMS docs'
"doesn't match anything" - may be refused as a bad filter. Needs --server.
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.directory import filters as f
from ldapdiag.lint import filterwalk
from ldapdiag.lint.context import LintContext
from ldapdiag.lint.problem import LintProblem

CODES = ("absolute-filter-unsupported",)
SERVER = True
DESCRIPTION = "(|) or (&) against a server that does not advertise RFC 4526"


def _absolute(node: f.Filter) -> bool:
    if isinstance(node, f.And | f.Or):
        return not node.filters or any(_absolute(child) for child in node.filters)
    if isinstance(node, f.Not):
        return _absolute(node.filter)
    return False


def check(ctx: LintContext) -> Iterator[LintProblem]:
    server = ctx.server
    if server is None or not server.root_dse.readable or server.root_dse.absolute_filters:
        return
    for use in ctx.filters():
        node = filterwalk.parse(use.value)
        if isinstance(node, f.Filter) and _absolute(node):
            yield use.problem(
                "warning",
                "absolute-filter-unsupported",
                f"{use.name}: the server does not advertise RFC 4526 absolute true/false filters "
                "((&) and (|)): it may refuse the filter, and then every lookup through it fails",
                "use a filter that matches nothing on any server, e.g. (objectClass=ldapdiagNoSuchClass)",
            )
