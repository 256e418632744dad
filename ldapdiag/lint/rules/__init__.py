"""The lint rules: one module per rule, each with CODES, SERVER, DESCRIPTION and check(ctx).

`SERVER = True` rules need `lint --server`; the others work from the configuration alone (some
say more with a server).
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Protocol

from ldapdiag.lint.context import LintContext
from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.rules import (
    absolute_filters,
    ad_limits,
    component_refuses,
    config_findings,
    dms_v16_dovecot_syntax,
    dms_v16_ignored,
    dn_substring_samba,
    domain_foreign,
    domain_user_disagree,
    dovecot_domainless,
    dovecot_placeholder,
    dovecot_rename,
    empty_filter,
    equality_never_matches,
    filter_syntax,
    mailbox_dovecot_unknown,
    no_placeholder,
    postfix_domain_key,
    postfix_placeholder,
    saslauthd_domain,
    saslauthd_placeholder,
    schema_unknown_attribute,
    schema_unknown_objectclass,
    search_base_dn,
    spoof_first_map,
    substring_never_matches,
    tls_active_directory,
    tls_ldaps_starttls,
    tls_mismatch,
    tls_no_verify,
)


class Rule(Protocol):
    CODES: tuple[str, ...]
    SERVER: bool
    DESCRIPTION: str

    def check(self, ctx: LintContext) -> Iterator[LintProblem]: ...


RULES: tuple[ModuleType, ...] = (
    config_findings,
    component_refuses,
    filter_syntax,
    empty_filter,
    no_placeholder,
    postfix_placeholder,
    postfix_domain_key,
    dovecot_placeholder,
    saslauthd_placeholder,
    saslauthd_domain,
    search_base_dn,
    tls_ldaps_starttls,
    tls_mismatch,
    tls_no_verify,
    tls_active_directory,
    dms_v16_ignored,
    dms_v16_dovecot_syntax,
    spoof_first_map,
    dovecot_rename,
    dovecot_domainless,
    substring_never_matches,
    dn_substring_samba,
    schema_unknown_attribute,
    schema_unknown_objectclass,
    equality_never_matches,
    absolute_filters,
    domain_foreign,
    domain_user_disagree,
    mailbox_dovecot_unknown,
    ad_limits,
)


def all_codes() -> list[str]:
    """Every problem code, in rule order."""
    return [code for rule in RULES for code in rule.CODES]
