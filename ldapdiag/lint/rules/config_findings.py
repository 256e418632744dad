"""dms-host-scheme, dms-enable-ldap, stray-quote, dms-config: what loading the configuration found.

The config layer already reports DMS v15's own start-up errors (variables-stack.sh
`__environment_variables_backwards_compatibility`: ENABLE_LDAP=1, an LDAP host without a URI
scheme) and quote characters or whitespace that env files and compose carry into the values;
this rule passes them on with a code and a hint instead of finding them again.
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.lint.context import LintContext
from ldapdiag.lint.problem import LintProblem

CODES = ("dms-host-scheme", "dms-enable-ldap", "stray-quote", "dms-config")
SERVER = False
DESCRIPTION = "DMS start-up errors and stray quotes/spaces found while reading the configuration"

_HINTS = {
    "dms-host-scheme": "write the URL with its scheme, e.g. ldap://ldap.example.org or "
    "ldaps://ldap.example.org:636",
    "dms-enable-ldap": "remove ENABLE_LDAP and set ACCOUNT_PROVISIONER=LDAP",
    "stray-quote": "in a compose `environment:` list and in env files the text after `=` is the value: "
    "drop the quotes and the spaces (quote the whole list item in YAML if needed)",
    "dms-config": "",
}


def classify(message: str) -> str:
    """The code for one config-layer finding, by what it is about."""
    if "must include the URI scheme" in message:
        return "dms-host-scheme"
    if "ENABLE_LDAP=1" in message:
        return "dms-enable-ldap"
    if " literal " in message and ("quote" in message or "'\"'" in message or '"\'"' in message):
        return "stray-quote"
    if "leading or trailing whitespace" in message:
        return "stray-quote"
    return "dms-config"


def check(ctx: LintContext) -> Iterator[LintProblem]:
    for finding in ctx.config.findings:
        code = classify(finding.message)
        yield LintProblem(
            finding.level, code, "dms", finding.where or "configuration", finding.message, _HINTS[code]
        )
