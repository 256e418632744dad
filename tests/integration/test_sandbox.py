"""The sandbox harness itself: the real postfix, dovecot and saslauthd on the basic-setup scenario.

Expected replies were recorded from the real programs (postfix 3.7.11, dovecot 2.3.19.1,
saslauthd 2.1.28) and agree with the forms FACTS.md cites. The sandbox leaves out postgrey,
amavis/rspamd, milters, postscreen, header checks and sieve (see tests/sandbox/README.md): a real
DMS container with the basic setup's ENABLE_POSTGREY=1 would greylist the first RCPT.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from ldapdiag.config.model import MailServerConfig
from ldapdiag.demo import RunningDirectory
from tests.ldap_server import BASIC_SETUP, requires_slapd
from tests.sandbox import layout
from tests.sandbox.fixtures import requires_sandbox, scenario_config
from tests.sandbox.harness import Sandbox, SandboxError, start_sandbox
from tests.sandbox.ldapguard import RequestGuard

pytestmark = [requires_slapd, requires_sandbox]


SENDER = "someone@example.net"  # a domain the DNS stub knows: passes reject_unknown_sender_domain
PASSWORDS = {"alice": "alice-in-wonderland", "bob": "builder-bob-2024"}
LMTP_RELAY = "mail.example.org[/var/run/dovecot/lmtp]"
LMTP_SAVED = re.compile(r"250 2\.0\.0 <(?P<to>[^>]+)> \S+ Saved")


def basic_config(directory: RunningDirectory) -> MailServerConfig:
    """ldapdiag's configuration of the basic setup, pointed at the test directory."""
    return scenario_config(BASIC_SETUP / "mailserver.env", directory)


# --- start-up -------------------------------------------------------------------------------------


def test_starts_quickly_with_dms_configuration(basic_sandbox: Sandbox) -> None:
    assert basic_sandbox.startup_seconds < 5, basic_sandbox.timings
    postconf_n = basic_sandbox.dumps["postconf -n"]
    for line in (
        "virtual_mailbox_maps = ldap:/etc/postfix/ldap-users.cf",
        "virtual_alias_maps = ldap:/etc/postfix/ldap-aliases.cf, ldap:/etc/postfix/ldap-groups.cf",
        "virtual_transport = lmtp:unix:/var/run/dovecot/lmtp",
        "smtpd_sender_login_maps = ldap:/etc/postfix/ldap-senders.cf",
        "maillog_file = /var/log/mail.log",
        "max_use = 1",
        "mynetworks = 127.0.0.0/8 [::1]/128 [fe80::]/64",
    ):
        assert line in postconf_n.splitlines()
    assert "smtpd_sasl_path" not in postconf_n  # ENABLE_SASLAUTHD=1: cyrus with its default path
    postconf_m = basic_sandbox.dumps["postconf -M"]
    assert re.search(
        r"^submission +inet .* smtpd .*-o smtpd_sender_restrictions=\$mua_sender_restrictions",
        postconf_m,
        re.M,
    )
    assert "smtpd_sasl_type" not in postconf_m  # commented out, as setup.d/saslauthd.sh does
    assert "auth_failure_delay = 0" in basic_sandbox.dumps["doveconf -n"]


# --- port 25 ----------------------------------------------------------------------------------------


def test_existing_mailbox_is_accepted_and_delivered_over_lmtp(basic_sandbox: Sandbox) -> None:
    probe = basic_sandbox.rcpt(SENDER, ["alice@example.org"])
    assert probe.mail_reply == "250 2.1.0 Ok"
    assert probe.rcpt == {"alice@example.org": "250 2.1.5 Ok"}
    assert probe.data_reply is not None and re.fullmatch(
        r"250 2\.0\.0 Ok: queued as [0-9A-F]+", probe.data_reply
    )
    [delivery] = probe.deliveries
    assert (delivery.to, delivery.orig_to, delivery.status, delivery.dsn) == (
        "alice@example.org",
        None,
        "sent",
        "2.0.0",
    )
    assert (delivery.agent, delivery.relay) == ("lmtp", LMTP_RELAY)
    assert LMTP_SAVED.fullmatch(delivery.reply), delivery.reply
    assert any("connect from unknown[198.51.100.10]" in line for line in probe.log)  # outside mynetworks
    assert basic_sandbox.workdir is not None
    maildir = basic_sandbox.workdir / "mail" / "alice" / "Maildir" / "new"  # home=/var/mail/%{ldap:uid}
    saved = list(maildir.iterdir())
    assert saved and {(f.stat().st_uid, f.stat().st_gid) for f in saved} == {(5000, 5000)}


def test_unknown_address_is_user_unknown_in_virtual_mailbox_table(basic_sandbox: Sandbox) -> None:
    probe = basic_sandbox.rcpt(SENDER, ["nobody@example.org"])
    assert probe.rcpt == {
        "nobody@example.org": "550 5.1.1 <nobody@example.org>: Recipient address rejected: "
        "User unknown in virtual mailbox table"
    }
    assert probe.data_reply is None and probe.deliveries == ()


def test_foreign_domain_is_relay_access_denied(basic_sandbox: Sandbox) -> None:
    probe = basic_sandbox.rcpt(SENDER, ["someone@example.com"])
    assert probe.rcpt == {"someone@example.com": "554 5.7.1 <someone@example.com>: Relay access denied"}


def test_alias_of_two_users_is_delivered_to_both(basic_sandbox: Sandbox) -> None:
    probe = basic_sandbox.rcpt(SENDER, ["info@example.org"])
    assert probe.rcpt == {"info@example.org": "250 2.1.5 Ok"}
    outcomes = {(d.to, d.orig_to, d.status, d.dsn) for d in probe.deliveries}
    assert outcomes == {
        ("alice@example.org", "info@example.org", "sent", "2.0.0"),
        ("bob@example.org", "info@example.org", "sent", "2.0.0"),
    }, probe.log


def test_replies_come_per_address_in_one_transaction(basic_sandbox: Sandbox) -> None:
    probe = basic_sandbox.rcpt(SENDER, ["bob@example.org", "nobody@example.org", "someone@example.com"])
    assert [reply[:3] for reply in probe.rcpt.values()] == ["250", "550", "554"]
    assert [d.to for d in probe.deliveries] == ["bob@example.org"]


def test_unknown_sender_domain_is_rejected_by_the_dns_stub(basic_sandbox: Sandbox) -> None:
    probe = basic_sandbox.rcpt("someone@nowhere.invalid", ["alice@example.org"])
    assert probe.rcpt == {
        "alice@example.org": "450 4.1.8 <someone@nowhere.invalid>: Sender address rejected: Domain not found"
    }


# --- dovecot ----------------------------------------------------------------------------------------


def test_doveadm_user_returns_the_directory_fields(basic_sandbox: Sandbox) -> None:
    result = basic_sandbox.doveadm_user("alice@example.org")
    assert result.success and result.exit_code == 0
    assert result.fields == {
        "user": "alice@example.org",
        "home": "/var/mail/alice",  # =home=/var/mail/%{ldap:uid}
        "mail": "maildir:~/Maildir",
        "uid": "5000",
        "gid": "5000",
    }
    assert any("filter=(&(objectClass=inetOrgPerson)(mail=alice@example.org))" in line for line in result.log)


def test_doveadm_user_unknown(basic_sandbox: Sandbox) -> None:
    result = basic_sandbox.doveadm_user("nobody@example.org")
    assert (result.success, result.exit_code) == (False, 67)
    assert result.reason == "userdb lookup: user nobody@example.org doesn't exist"


def test_doveadm_auth_test_right_and_wrong_password(basic_sandbox: Sandbox) -> None:
    good = basic_sandbox.doveadm_auth_test("alice@example.org", PASSWORDS["alice"])
    assert (good.success, good.exit_code) == (True, 0)
    assert good.stdout.splitlines()[0] == "passdb: alice@example.org auth succeeded"
    assert good.passdb_fields == {"user": "alice", "original_user": "alice@example.org"}  # uid=user renames
    bad = basic_sandbox.doveadm_auth_test("alice@example.org", "not-her-password")
    assert (bad.success, bad.exit_code) == (False, 77)
    assert bad.reason == "passdb: alice@example.org auth failed"
    assert any("ldap(alice): Password mismatch" in line for line in bad.log)


def test_doveadm_auth_login_fails_in_userdb_after_the_rename(basic_sandbox: Sandbox) -> None:
    # FACTS.md (checked): pass_attrs uid=user renames the login, the userdb then searches (mail=alice)
    result = basic_sandbox.doveadm_auth_login("alice@example.org", PASSWORDS["alice"])
    assert (result.success, result.exit_code) == (False, 77)
    assert result.passdb_fields["user"] == "alice"
    assert "Login auth request failed: Authenticated user not found from userdb" in result.reason
    assert any("filter=(&(objectClass=inetOrgPerson)(mail=alice))" in line for line in result.log)


def test_failed_logins_cost_no_penalty(basic_sandbox: Sandbox) -> None:
    begin = time.monotonic()
    for attempt in range(4):
        assert not basic_sandbox.doveadm_auth_test("bob@example.org", f"wrong-{attempt}").success
    assert basic_sandbox.doveadm_auth_test("bob@example.org", PASSWORDS["bob"]).success
    # failures still wait for dovecot's 500 ms failure-flush timer; anvil's penalty would add 2+4+8 s
    assert time.monotonic() - begin < 4


# --- saslauthd and submission ----------------------------------------------------------------------


def test_testsaslauthd_ok_and_no(basic_sandbox: Sandbox) -> None:
    good = basic_sandbox.testsaslauthd("alice", PASSWORDS["alice"], realm="example.org")
    assert (good.ok, good.answer, good.exit_code) == (True, '0: OK "Success."', 0)
    bad = basic_sandbox.testsaslauthd("alice", "not-her-password", realm="example.org")
    assert (bad.ok, bad.answer) == (False, '0: NO "authentication failed"')
    assert any("auth failure: [user=alice] [service=smtp] [realm=example.org]" in line for line in bad.log)


def test_submission_sender_owned_and_not_owned(basic_sandbox: Sandbox) -> None:
    owned = basic_sandbox.submission(
        "alice@example.org", PASSWORDS["alice"], "alice@example.org", "bob@example.org"
    )
    assert (owned.auth, owned.mail_from, owned.rcpt) == (
        "235 2.7.0 Authentication successful",
        "250 2.1.0 Ok",
        "250 2.1.5 Ok",
    )
    # smtpd_delay_reject=yes: the sender restriction answers at RCPT time
    foreign = basic_sandbox.submission(
        "alice@example.org", PASSWORDS["alice"], "bob@example.org", "bob@example.org"
    )
    assert foreign.mail_from == "250 2.1.0 Ok"
    assert (
        foreign.rcpt
        == "553 5.7.1 <bob@example.org>: Sender address rejected: not owned by user alice@example.org"
    )


def test_submission_wrong_password(basic_sandbox: Sandbox) -> None:
    probe = basic_sandbox.submission(
        "alice@example.org", "not-her-password", "alice@example.org", "bob@example.org"
    )
    assert probe.auth == "535 5.7.8 Error: authentication failed: authentication failure"
    assert (probe.mail_from, probe.rcpt) == (None, None)


def test_passwords_never_reach_the_report(basic_sandbox: Sandbox) -> None:
    canary = "canary-7f3e9b-never-print-me"
    basic_sandbox.doveadm_auth_test("alice@example.org", canary)
    basic_sandbox.submission("alice@example.org", canary, "alice@example.org", "bob@example.org")
    basic_sandbox.testsaslauthd("alice", canary, realm="example.org")
    report = basic_sandbox.report(tail=10_000)
    assert canary not in report
    assert "mypassword" not in report  # the bind password of every LDAP file
    for name in ("mail.log", "dovecot.log", "saslauthd.log"):  # the programs do not log it either
        assert canary not in basic_sandbox.log(name)
    assert basic_sandbox.redact(f"pw={canary} bind=mypassword") == "pw=<redacted> bind=<redacted>"


# --- isolation, teardown, read-only guard ---------------------------------------------------------


def _host_mounts() -> str:
    return Path("/proc/self/mountinfo").read_text() + Path("/proc/1/mountinfo").read_text()


def test_teardown_leaves_nothing_even_when_the_test_fails(basic_setup_directory: RunningDirectory) -> None:
    config = basic_config(basic_setup_directory)
    with (
        pytest.raises(RuntimeError, match="test body failed"),
        start_sandbox(config, basic_setup_directory) as sandbox,
    ):
        assert sandbox.processes(), "the sandbox's processes are visible while it runs"
        assert sandbox.alive() == {"dovecot": True, "saslauthd": True}
        workdir = sandbox.workdir
        assert workdir is not None and str(workdir) not in _host_mounts()  # mounts stay inside
        raise RuntimeError("test body failed")
    assert sandbox.processes() == []
    assert not workdir.exists()
    assert str(workdir) not in _host_mounts()


def test_read_only_guard_stops_a_write_through_the_relay(basic_setup_directory: RunningDirectory) -> None:
    config = basic_config(basic_setup_directory)
    change = "dn: uid=carol,ou=users,dc=example,dc=org\nchangetype: modify\nreplace: sn\nsn: Changed\n"
    guard = pytest.raises(SandboxError, match=r"read-only guard.*LDAP modify request")
    with guard, start_sandbox(config, basic_setup_directory) as sandbox:
        assert sandbox.doveadm_user("carol@example.org").success  # reads pass the relay
        result = sandbox.run("ldapmodify", "-x", "-H", basic_setup_directory.ldap_url, stdin=change)
        assert result.exit_code != 0
        assert sandbox.relay is not None and sandbox.relay.connections >= 1
    log = basic_setup_directory.access_log
    assert log is not None and "sn: Changed" not in log.read_text() and " MOD dn=" not in log.read_text()


def _ber(tag: int, content: bytes) -> bytes:
    return bytes([tag, len(content)]) + content


def test_request_guard_reads_ldap_operations() -> None:
    def message(operation: bytes) -> bytes:
        return _ber(0x30, _ber(0x02, b"\x05") + operation)

    search = message(_ber(0x63, _ber(0x04, b"dc=example,dc=org")))
    delete = message(_ber(0x4A, b"uid=bob,ou=users,dc=example,dc=org"))
    starttls = message(_ber(0x77, _ber(0x80, b"1.3.6.1.4.1.1466.20037")))
    guard = RequestGuard()
    assert guard.feed(search[:3]) is None and guard.feed(search[3:]) is None  # split across reads
    assert guard.feed(delete) == "LDAP delete request"
    after_tls = RequestGuard()
    assert after_tls.feed(starttls) is None and after_tls.encrypted
    assert after_tls.feed(delete) is None  # encrypted from here: the access-log check covers it
    assert RequestGuard().feed(b"\x16\x03\x01") is None  # ldaps


def test_layout_mounts_over_every_dms_path() -> None:
    mounted = set(layout.BIND_DIRS.values()) | set(layout.BIND_FILES.values()) | set(layout.TMPFS_DIRS)
    for path in (
        "/etc/postfix",
        "/etc/dovecot",
        "/var/spool/postfix",
        "/var/lib/postfix",
        "/var/lib/dovecot",
        "/var/mail",
        "/var/log",
        "/run",
        "/etc/resolv.conf",
        "/etc/ldap",
    ):
        assert path in mounted
