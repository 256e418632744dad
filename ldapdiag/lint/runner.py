"""Run every rule over one configuration: collect, de-duplicate and order the problems."""

from __future__ import annotations

from dataclasses import dataclass, field

from ldapdiag.config.model import MailServerConfig
from ldapdiag.directory.ldapconf import LdapConf, read_ldap_conf
from ldapdiag.errors import EXIT_CANNOT_CHECK, EXIT_FINDING, EXIT_OK
from ldapdiag.lint.context import LintContext
from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.rules import RULES
from ldapdiag.lint.server import ServerFacts


@dataclass
class LintResult:
    """The problems found, and whether something could not be checked."""

    problems: list[LintProblem]
    server_checked: bool = False
    not_checked: list[str] = field(default_factory=list)  # why parts could not be checked

    def exit_code(self, strict: bool = False) -> int:
        """0 clean, 1 errors (or warnings with strict), 2 something could not be checked."""
        if self.not_checked:
            return EXIT_CANNOT_CHECK
        levels = {problem.level for problem in self.problems}
        if "error" in levels or (strict and "warning" in levels):
            return EXIT_FINDING
        return EXIT_OK

    def counts(self) -> dict[str, int]:
        return {level: sum(p.level == level for p in self.problems) for level in ("error", "warning", "info")}


def lint_config(
    config: MailServerConfig,
    *,
    dms_version: int = 15,
    server: ServerFacts | None = None,
    ldap_conf: LdapConf | None = None,
) -> LintResult:
    """Every rule's problems for `config` (server rules only when `server` is given)."""
    ctx = LintContext(config, dms_version, ldap_conf or read_ldap_conf(), server)
    seen: dict[tuple[str, str, str], LintProblem] = {}
    for rule in RULES:
        if rule.SERVER and server is None:
            continue
        for problem in rule.check(ctx):
            seen.setdefault((problem.code, problem.where, problem.message), problem)
    problems = sorted(seen.values(), key=LintProblem.sort_key)
    return LintResult(problems, server_checked=server is not None)
