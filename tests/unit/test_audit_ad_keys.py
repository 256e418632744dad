"""The enumeration's keys of AD's `(proxyAddresses=smtp:%s)`: the value without its prefix."""

from __future__ import annotations

from ldapdiag.audit.enumerate import _unwrapped


def test_prefix_of_proxy_addresses_is_taken_off_case_insensitively() -> None:
    # postfix's key alice@x.org fills smtp:%s; AD compares proxyAddresses case-insensitively, so
    # both the smtp: aliases and the SMTP: primary are found by it (scenarios/active-directory)
    assert _unwrapped("smtp:%s", "smtp:alice.adams@x.org") == "alice.adams@x.org"
    assert _unwrapped("smtp:%s", "SMTP:Alice@x.org") == "Alice@x.org"
    assert _unwrapped("smtp:%s", "sip:alice@x.org") == ""  # no key turns into this value
    assert _unwrapped("smtp:%s", "smtp:") == ""
    assert _unwrapped("<%s>", "<a@x.org>") == "a@x.org"


def test_other_templates_keep_the_value() -> None:
    assert _unwrapped("%s", "a@x.org") == "a@x.org"
    assert _unwrapped("%u@example.org", "a@example.org") == "a@example.org"  # checked by expansion
    assert _unwrapped("%%s%s", "a@x.org") == "a@x.org"
