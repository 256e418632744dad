"""Spoof protection on the submission port with inline tables: the SASL name, owners, replies."""

from __future__ import annotations

from pathlib import Path

import pytest

from ldapdiag.errors import LdapdiagError
from tests.unit.resolve_support import container, sends

NOT_OWNED = "553 5.7.1 <{0}>: Sender address rejected: not owned by user {1}"


def test_dovecot_sasl_name_is_the_login_lowercased_and_flagged_as_assumed(tmp_path: Path) -> None:
    [outcome] = sends(container(tmp_path), "ALICE@Example.ORG", ["alice@example.org"])
    assert (outcome.sasl_username, outcome.allowed, outcome.smtp_reply) == ("alice@example.org", True, None)
    assert any("ASSUMED" in step.detail for step in outcome.steps)


def test_dovecot_name_hook_replaces_the_assumption(tmp_path: Path) -> None:
    [outcome] = sends(
        container(tmp_path), "alice@example.org", ["alice@example.org"], name_hook=lambda c, n: "alice"
    )
    assert outcome.sasl_username == "alice" and outcome.allowed  # "alice" is an owner too
    [other] = sends(
        container(tmp_path), "alice@example.org", ["info@example.org"], name_hook=lambda c, n: "alice"
    )
    assert other.smtp_reply == NOT_OWNED.format("info@example.org", "alice")
    assert not any("ASSUMED" in step.detail for step in other.steps)


def test_cyrus_sasl_appends_the_local_domain_to_a_bare_login(tmp_path: Path) -> None:
    config = container(tmp_path, smtpd_sasl_type="cyrus")
    [bare] = sends(config, "alice", ["bob@example.org"])
    assert bare.sasl_username == "alice@example.org"
    assert bare.smtp_reply == NOT_OWNED.format("bob@example.org", "alice@example.org")
    [upper] = sends(config, "ALICE@EXAMPLE.ORG", ["bob@example.org"])
    assert upper.sasl_username == "ALICE@EXAMPLE.ORG"  # as sent
    no_realm = container(tmp_path, smtpd_sasl_type="cyrus", smtpd_sasl_local_domain="")
    assert sends(no_realm, "alice", ["alice@example.org"])[0].sasl_username == "alice"


def test_owners_split_and_compared_case_insensitively(tmp_path: Path) -> None:
    config = container(tmp_path)
    outcomes = sends(
        config, "Bob@Example.org", ["info@example.org", "alice@example.org", "alice+x@example.org"]
    )
    assert [o.owners for o in outcomes] == [
        ["alice@example.org", "bob@example.org"],
        ["alice@example.org", "alice"],
        ["alice@example.org", "alice"],  # found with the extension stripped
    ]
    assert [o.allowed for o in outcomes] == [True, False, False]


def test_unlisted_senders_and_the_catch_all_key(tmp_path: Path) -> None:
    config = container(tmp_path)
    outcomes = sends(config, "alice@example.org", ["someone@example.com", "nobody@example.org", ""])
    assert outcomes[0].owners is None
    assert outcomes[0].smtp_reply == NOT_OWNED.format("someone@example.com", "alice@example.org")
    assert outcomes[1].owners == ["postmaster@example.org"]  # the @example.org entry answers
    assert outcomes[2].allowed and outcomes[2].sender == ""  # the null sender is not checked


def test_first_table_that_answers_decides(tmp_path: Path) -> None:
    maps = "inline:{ team@example.org=team@example.org }, inline:{ team@example.org=alice@example.org }"
    config = container(tmp_path, smtpd_sender_login_maps=maps)
    [outcome] = sends(config, "alice@example.org", ["team@example.org"])
    assert outcome.owners == ["team@example.org"] and not outcome.allowed
    assert any("FIRST table that answers decides" in step.detail for step in outcome.steps)


def test_spoof_protection_off_allows_everything_and_says_so(tmp_path: Path) -> None:
    config = container(tmp_path, mua_sender_restrictions="$dms_smtpd_sender_restrictions")
    outcomes = sends(config, "alice@example.org", ["bob@example.org", "someone@example.com"])
    assert [o.allowed for o in outcomes] == [True, True]
    assert [o.owners for o in outcomes] == [None, None]
    assert any("the sender login check is off" in step.detail for step in outcomes[0].steps)


def test_a_broken_login_table_is_a_temporary_failure(tmp_path: Path) -> None:
    config = container(tmp_path, smtpd_sender_login_maps="fail:senders")
    [outcome] = sends(config, "alice@example.org", ["alice@example.org"])
    assert outcome.smtp_reply == "451 4.3.0 <alice@example.org>: Temporary lookup failure"
    assert not outcome.allowed


def test_no_sasl_on_the_submission_port_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ldapdiag.postfix import params

    monkeypatch.setattr(params, "DMS_SUBMISSION", {**params.DMS_SUBMISSION, "smtpd_sasl_auth_enable": "no"})
    with pytest.raises(LdapdiagError, match="SMTP AUTH is off"):
        sends(container(tmp_path), "alice@example.org", ["alice@example.org"])
