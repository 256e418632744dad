"""The port-25 transaction with inline tables: RCPT replies, alias expansion, DATA failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from ldapdiag.postfix.delivery import LmtpAnswer, status_from_reply
from ldapdiag.postfix.dns import DNS_NULLMX, DNS_RETRY
from ldapdiag.postfix.maps import build_factory
from ldapdiag.postfix.transaction import run_transaction
from tests.unit.resolve_support import RESOLVING, FakeDns, container, predict, recipients, replies

UNKNOWN = "550 5.1.1 <{0}>: Recipient address rejected: User unknown in virtual mailbox table"
RELAY = "554 5.7.1 <{0}>: Relay access denied"


def test_mailbox_unknown_user_and_foreign_domain(tmp_path: Path) -> None:
    config = container(tmp_path)
    result = predict(config, ["alice@example.org", "nobody@example.org", "x@example.com", "erin@other.test"])
    assert replies(result) == {
        "alice@example.org": None,
        "nobody@example.org": UNKNOWN.format("nobody@example.org"),
        "x@example.com": RELAY.format("x@example.com"),
        "erin@other.test": None,
    }
    assert [o.verdict for o in result.outcomes] == ["deliver", "reject", "reject", "deliver"]
    assert recipients(result)["alice@example.org"] == ["alice@example.org"]
    assert result.outcomes[0].rcpt_reply == "250 2.1.5 Ok"


def test_case_and_extensions_are_kept_as_sent(tmp_path: Path) -> None:
    config = container(tmp_path)
    result = predict(
        config, ["ALICE@EXAMPLE.ORG", "alice+tag@example.org", "info+x@example.org", "+alice@example.org"]
    )
    assert recipients(result) == {
        "ALICE@EXAMPLE.ORG": ["ALICE@EXAMPLE.ORG"],
        "alice+tag@example.org": ["alice+tag@example.org"],
        "info+x@example.org": ["alice+x@example.org", "bob+x@example.org"],  # the extension propagates
        "+alice@example.org": [],
    }
    assert replies(result)["+alice@example.org"] == UNKNOWN.format("+alice@example.org")


def test_no_propagation_without_virtual_in_propagate_unmatched_extensions(tmp_path: Path) -> None:
    config = container(tmp_path, propagate_unmatched_extensions="canonical")
    assert recipients(predict(config, ["info+x@example.org"])) == {
        "info+x@example.org": ["alice@example.org", "bob@example.org"]
    }


def test_self_reference_duplicates_and_aliases_of_aliases(tmp_path: Path) -> None:
    config = container(tmp_path)
    result = predict(config, ["self@example.org", "List@Example.org", "dup@example.org", "team@example.org"])
    assert recipients(result) == {
        "self@example.org": ["self@example.org"],
        "List@Example.org": ["list@example.org", "bob@example.org"],
        "dup@example.org": ["alice@example.org", "Bob@Example.org"],  # ALICE@ dropped: folded duplicate
        "team@example.org": ["alice@example.org", "bob@example.org"],  # team@ -> info@ -> alice, bob
    }


def test_same_recipient_twice_is_queued_once_per_original(tmp_path: Path) -> None:
    config = container(tmp_path)
    result = predict(config, ["info@example.org", "INFO@example.org", "team@example.org"])
    assert recipients(result) == {
        "info@example.org": ["alice@example.org", "bob@example.org"],
        "INFO@example.org": [],  # cleanup's been_here() folds case: the same original recipient
        "team@example.org": ["alice@example.org", "bob@example.org"],  # another original: kept
    }
    assert all(o.verdict == "deliver" for o in result.outcomes)


def test_alias_loop_defers_the_whole_message_at_data(tmp_path: Path) -> None:
    config = container(tmp_path)
    result = predict(config, ["alice@example.org", "loop-a@example.org"])
    assert replies(result) == {
        "alice@example.org": "451 4.6.0 Alias expansion error",
        "loop-a@example.org": "451 4.6.0 Alias expansion error",
    }
    assert [o.rcpt_reply for o in result.outcomes] == ["250 2.1.5 Ok", "250 2.1.5 Ok"]
    assert {o.verdict for o in result.outcomes} == {"defer"} and recipients(result)["alice@example.org"] == []


def test_expansion_and_recursion_limits(tmp_path: Path) -> None:
    wide = container(tmp_path, virtual_alias_expansion_limit="1")
    assert (
        replies(predict(wide, ["info@example.org"]))["info@example.org"] == "451 4.6.0 Alias expansion error"
    )
    # each slot is looked up until it no longer matches: info@ -> alice@ (2 lookups) fits in 2,
    # team@ -> info@ -> alice@ (3 lookups for slot 0) does not
    deep = container(tmp_path, virtual_alias_recursion_limit="2")
    assert (
        replies(predict(deep, ["team@example.org"]))["team@example.org"] == "451 4.6.0 Alias expansion error"
    )
    assert replies(predict(deep, ["info@example.org"]))["info@example.org"] is None


def test_table_error_at_rcpt_and_at_cleanup(tmp_path: Path) -> None:
    broken = "inline:{ {info@example.org=alice@example.org,team@example.org} }, fail:groups"
    config = container(tmp_path, virtual_alias_maps=broken, virtual_alias_domains="")  # empty
    result = predict(config, ["info@example.org", "alice@example.org"])
    # RCPT: info@ answers from the inline table; alice@ reaches fail: -> 451 at RCPT
    assert replies(result)["alice@example.org"] == "451 4.3.0 <alice@example.org>: Temporary lookup failure"
    # cleanup: alice@ (from info@) reaches fail: -> the message fails at the end of DATA
    assert replies(result)["info@example.org"] == "451 4.3.0 Error: queue file write error"


def test_virtual_alias_domains_default_asks_the_alias_tables_with_the_domain(tmp_path: Path) -> None:
    config = container(tmp_path, virtual_alias_maps="fail:aliases")
    result = predict(config, ["alice@example.org", "x@example.com"])
    assert replies(result) == {
        "alice@example.org": "451 4.3.0 <alice@example.org>: Temporary lookup failure",
        "x@example.com": "451 4.3.0 <x@example.com>: Temporary lookup failure",
    }
    steps = [s.detail for s in result.outcomes[0].steps]
    assert "warning: virtual_alias_domains lookup failure" in steps


def test_broken_domain_table_fails_the_sender_check(tmp_path: Path) -> None:
    config = container(tmp_path, virtual_mailbox_domains="/etc/postfix/vhost, fail:domains")
    result = predict(config, ["alice@example.org", "erin@other.test"])
    assert replies(result) == {
        "alice@example.org": "451 4.3.0 <someone@example.net>: Temporary lookup failure",
        "erin@other.test": "451 4.3.0 <erin@other.test>: Temporary lookup failure",
    }
    assert replies(predict(config, ["alice@example.org"], mail_from=""))["alice@example.org"] is None


def test_sender_domain_dns(tmp_path: Path) -> None:
    config = container(tmp_path)
    dns = FakeDns({**RESOLVING, "nullmx.test": DNS_NULLMX, "flaky.test": DNS_RETRY})
    assert replies(predict(config, ["alice@example.org"], mail_from="x@nowhere.invalid", dns=dns)) == {
        "alice@example.org": "450 4.1.8 <x@nowhere.invalid>: Sender address rejected: Domain not found"
    }
    assert replies(predict(config, ["alice@example.org"], mail_from="x@nullmx.test", dns=dns)) == {
        "alice@example.org": "550 5.7.27 <x@nullmx.test>: Sender address rejected: Domain nullmx.test "
        "does not accept mail (nullMX)"
    }
    # DNS_RETRY is defer_if_permit: smtpd_check_rcpt() turns the final permit into 450, before the
    # implicit reject_unlisted_recipient; a reject inside the lists would win (relay access denied)
    flaky = predict(
        config,
        ["alice@example.org", "nobody@example.org", "x@example.com"],
        mail_from="x@flaky.test",
        dns=dns,
    )
    retry = "450 4.1.8 <x@flaky.test>: Sender address rejected: Domain not found"
    assert replies(flaky) == {
        "alice@example.org": retry,
        "nobody@example.org": retry,
        "x@example.com": RELAY.format("x@example.com"),
    }
    hosted = FakeDns({})
    predict(config, ["alice@example.org"], mail_from="bob@example.org", dns=hosted)
    assert hosted.asked == []  # a hosted sender domain is never looked up
    assert (
        replies(predict(config, ["alice@example.org"], mail_from="", dns=hosted))["alice@example.org"] is None
    )


def test_mynetworks_client_relays_and_is_still_checked_for_unknown_users(tmp_path: Path) -> None:
    config = container(tmp_path)
    result = predict(
        config,
        ["x@example.com", "nobody@example.org", "alice"],
        mail_from="x@nowhere.invalid",
        client="mynetworks",
    )
    assert replies(result) == {
        "x@example.com": None,
        "nobody@example.org": UNKNOWN.format("nobody@example.org"),
        "alice": None,
    }
    assert recipients(result) == {
        "x@example.com": ["x@example.com"],
        "nobody@example.org": [],
        "alice": ["alice@mail.example.org"],
    }
    remote = result.outcomes[0].recipients[0]
    assert (remote.agent, remote.status) == ("smtp", None)  # the internet decides: left open


def test_bare_names_postmaster_and_routing_operators(tmp_path: Path) -> None:
    config = container(tmp_path)
    result = predict(config, ["alice", "postmaster", "a%b@example.org", "alice@example.org."])
    assert replies(result) == {
        "alice": RELAY.format("alice"),  # alice@mail.example.org: not a domain of this server
        "postmaster": None,  # RFC 5321: accepted without checks
        "a%b@example.org": RELAY.format("a%b@example.org"),  # source-routed
        "alice@example.org.": None,
    }
    assert recipients(result)["postmaster"] == ["postmaster@mail.example.org"]
    assert recipients(result)["alice@example.org."] == ["alice@example.org"]


def test_alias_results_without_domain_or_with_only_a_domain(tmp_path: Path) -> None:
    config = container(tmp_path)
    result = predict(config, ["bare@example.org", "domain@example.org"])
    assert recipients(result) == {
        "bare@example.org": ["carol@mail.example.org"],  # @$myorigin appended
        "domain@example.org": ["domain@other.test"],  # `@domain` keeps the user
    }


def test_local_domains_are_said_to_be_unpredictable(tmp_path: Path) -> None:
    result = predict(container(tmp_path), ["root@localhost", "postmaster@localhost"])
    assert [o.verdict for o in result.outcomes] == ["unknown", "deliver"]
    assert "local_recipient_maps" in result.outcomes[0].steps[-1].detail


def test_restrictions_postfix_does_not_know_and_ones_ldapdiag_cannot_know(tmp_path: Path) -> None:
    typo = container(tmp_path, smtpd_client_restrictions="permit_mynetwork")
    assert replies(predict(typo, ["alice@example.org"])) == {
        "alice@example.org": "451 4.3.5 Server configuration error"
    }
    policy = container(tmp_path, smtpd_recipient_restrictions="check_policy_service inet:127.0.0.1:10023")
    assert [o.verdict for o in predict(policy, ["alice@example.org"]).outcomes] == ["unknown"]


def test_error_transport_bounces_in_virtual_alias_domains(tmp_path: Path) -> None:
    config = container(tmp_path, virtual_alias_domains="aliases.test")
    result = predict(config, ["nobody@aliases.test"])
    assert replies(result) == {
        "nobody@aliases.test": "550 5.1.1 <nobody@aliases.test>: Recipient address rejected: "
        "User unknown in virtual alias table"
    }


def test_lmtp_hook_decides_the_final_status(tmp_path: Path) -> None:
    config = container(tmp_path)

    def hook(_config: object, address: str) -> LmtpAnswer:
        if address.startswith("bob"):
            return LmtpAnswer(f"550 5.1.1 <{address}> User doesn't exist: {address}", None)
        return LmtpAnswer("250 2.1.5 OK", {"result": "ok", "fields": {}})

    result = run_transaction(
        config, ["info@example.org"], mail_from="someone@example.net", client="external",
        factory=build_factory(config), dns=FakeDns(RESOLVING), lmtp_hook=hook,
    )  # fmt: skip
    statuses = [
        (r.address, r.status, r.dsn, r.lmtp_reply[:3]) for r in result.outcomes[0].recipients if r.lmtp_reply
    ]
    assert statuses == [
        ("alice@example.org", "sent", "2.0.0", "250"),
        ("bob@example.org", "bounced", "5.1.1", "550"),
    ]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("250 2.1.5 OK", ("sent", "2.0.0")),
        ("451 4.3.0 <a@b> Temporary internal error", ("deferred", "4.3.0")),
        ("550 5.1.1 <a@b> User doesn't exist: a@b", ("bounced", "5.1.1")),
        ("554 no enhanced code", ("bounced", "5.0.0")),
    ],
)
def test_status_from_lmtp_reply(reply: str, expected: tuple[str, str]) -> None:
    assert status_from_reply(reply) == expected


def test_smtp_only_and_postfix_dagent_name_the_agent(tmp_path: Path) -> None:
    smtp_only = predict(container(tmp_path, virtual_transport="virtual"), ["alice@example.org"])
    [recipient] = smtp_only.outcomes[0].recipients
    assert (recipient.agent, recipient.status, recipient.lmtp_reply) == ("virtual", None, None)
    assert "virtual_mailbox_base" in recipient.steps[-1].detail
    dagent = predict(container(tmp_path, virtual_transport="lmtp:inet:10.0.0.2:24"), ["alice@example.org"])
    [recipient] = dagent.outcomes[0].recipients
    assert (recipient.agent, recipient.transport, recipient.status) == ("lmtp", "lmtp:inet:10.0.0.2:24", None)
