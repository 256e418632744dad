"""The connection policies of dovecot and saslauthd, wherever the directory package keeps them."""

from __future__ import annotations

try:  # the directory package's current layout
    from ldapdiag.directory.policies import dovecot_policy, saslauthd_policy
except ImportError:  # pragma: no cover - the earlier single-module layout
    from ldapdiag.directory.policy import dovecot_policy, saslauthd_policy  # type: ignore[attr-defined,no-redef]

__all__ = ["dovecot_policy", "saslauthd_policy"]
