"""ldapdiag's dovecot predictions against a real dovecot 2.3 pointed at the Samba AD DC.

Three configurations of scenarios/active-directory (the seed's DOVECOT_* settings):
- `seed-by-ip`: as rendered, DOVECOT_TLS=yes to ldap://127.0.0.1:PORT: dovecot's libldap
  (TLS_REQCERT demand) refuses Samba's self-signed certificate ("ldap_start_tls_s() failed:
  Connect error" as soon as dovecot starts). Lookups then do not fail fast: dovecot keeps them
  queued while it reconnects, and `doveadm user` gave up after about 150 s (exit 75, tempfail),
  so this setup is compared on dovecot's start-up log, not probe by probe;
- `seed-named`: the DC reached by its name, DC1.ad.example.org, with Samba's CA in ldap.conf's
  TLS_CACERT (what the DMS docs' update-ca-certificates achieves): dovecot runs in a private mount
  namespace whose /etc/hosts names the DC; ldapdiag resolves the name the same way (in process)
  and is given the CA with --ca-file's mechanism;
- `auth-bind`: the same with DOVECOT_AUTH_BIND=yes: dovecot checks passwords by binding as the
  user (AD's own password, unicodePwd) instead of reading userPassword.

What dovecot showed: the seed's DOVECOT_PASS_ATTRS=sAMAccountName=user,userPassword=password only
logs in users that carry a userPassword hash, which AD accounts normally do not (AD's password is
unicodePwd, never readable); with auth_bind = yes every account logs in with its AD password.
`=uid=%{ldap:uidNumber}` on an account without uidNumber gives an empty uid, which dovecot refuses
("Invalid UID value ''": a temporary failure, LMTP 451 4.3.0).
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from ldapdiag.config.model import MailServerConfig
from ldapdiag.directory.trace import Trace
from ldapdiag.dovecot.engine import DovecotAuth, directory_factory
from ldapdiag.dovecot.lmtp import lmtp_rcpt
from tests.oracles.dovecot import (
    DOVEADM,
    DOVECOT,
    EXIT_RESULTS,
    DovecotSandbox,
    passdb_result,
    sandbox_settings,
)
from tests.samba_dc import NamedDc, ad_config, requires_samba

pytestmark = [
    requires_samba,
    pytest.mark.skipif(
        DOVECOT is None or DOVEADM is None, reason="dovecot-core/dovecot-ldap is not installed"
    ),
]
WRONG = "wrong-password"

NAMES = [
    "alice", "alice@example.org", "ALICE@Example.org", "bob@example.org", "erin@example.org",
    "nobody@example.org", "frank@partner.test", "team@example.org", "dc1$",
]  # fmt: skip


@dataclass(frozen=True)
class Setup:
    named: bool
    sets: tuple[str, ...] = ()


SETUPS = {
    "seed-by-ip": Setup(named=False),
    "seed-named": Setup(named=True),
    "auth-bind": Setup(named=True, sets=("DOVECOT_AUTH_BIND=yes",)),
}


def _probes() -> list[tuple[str, str, str, str]]:
    probes = []
    for name in NAMES:
        probes += [("seed-named", "user", name, ""), ("seed-named", "login", name, "right")]
    for name in ["alice", "bob@example.org"]:
        probes.append(("seed-named", "login", name, WRONG))
    for name in ["alice@example.org", "erin@example.org", "nobody@example.org", "Dave@example.org"]:
        probes.append(("seed-named", "lmtp", name, ""))
    for name in ["alice", "bob@example.org", "carol", "erin@example.org", "svc-backup", "nobody@example.org"]:
        probes.append(("auth-bind", "login", name, "right"))
    probes.append(("auth-bind", "login", "bob@example.org", WRONG))
    probes.append(("auth-bind", "user", "bob@example.org", ""))
    return probes


PROBES = _probes()


class Pair:
    """A real dovecot and ldapdiag's engine for one configuration."""

    def __init__(self, config: MailServerConfig, named: NamedDc | None) -> None:
        assert config.dovecot_ldap is not None
        self.config = config
        self.named = named
        wrapper = named.command([]) if named is not None else []
        self.real = DovecotSandbox(config.dovecot_ldap.text, sandbox_settings(config.dovecot_main), wrapper)
        self.real.__enter__()
        ca_files = (named.dc.running.ca_file,) if named is not None and named.dc.running.ca_file else ()
        self.factory = directory_factory(Trace(), ca_files=ca_files, max_wait=30)
        self.engine = DovecotAuth(config, self.factory)

    def predicting(self) -> contextlib.AbstractContextManager[None]:
        return self.named.resolving() if self.named is not None else contextlib.nullcontext()

    def close(self) -> None:
        self.engine.close()
        self.real.__exit__()


@pytest.fixture(scope="module")
def pairs(named_dc: NamedDc) -> Iterator[dict[str, Pair]]:
    directory = named_dc.dc.running

    # A fresh dovecot and engine for every probe (never kept in the dict), as in
    # test_dovecot_differential.py; all stopped at the end (a test may hold two at once).
    made: list[Pair] = []

    class Lazy(dict[str, Pair]):
        def __missing__(self, name: str) -> Pair:
            setup = SETUPS[name]
            url = named_dc.url(directory.ldap_url) if setup.named else directory.ldap_url
            made.append(Pair(ad_config(url, *setup.sets), named_dc if setup.named else None))
            return made[-1]

    yield Lazy()
    for pair in made:
        pair.close()


def _password(named: NamedDc, name: str, which: str) -> str:
    if which != "right":
        return which
    key = name.split("@")[0].lower()
    return named.dc.scenario.user_passwords.get(key, "no-such-password")


@pytest.mark.parametrize(("setup", "kind", "name", "which"), PROBES, ids=["/".join(p) for p in PROBES])
def test_probe_agrees(
    pairs: dict[str, Pair], named_dc: NamedDc, setup: str, kind: str, name: str, which: str
) -> None:
    pair = pairs[setup]
    if kind == "user":
        real = pair.real.user(name)
        with pair.predicting():
            predicted = pair.engine.user(name, service="lmtp")
        assert (predicted.result, predicted.fields) == (EXIT_RESULTS.get(real.exit_code), real.fields), (
            real.stdout,
            predicted.reason,
        )
    elif kind == "lmtp":
        real_reply = pair.real.lmtp_rcpt(name)
        with pair.predicting():
            assert lmtp_rcpt(pair.config, pair.factory, name).reply == real_reply
    else:
        password = _password(named_dc, name, which)
        test = pair.real.auth("test", name, password)
        login = pair.real.auth("login", name, password)
        with pair.predicting():
            passdb, _ = pair.engine.verify(name, password, service="imap")
            predicted_login = pair.engine.login(name, password, service="imap")
        real_result = "ok" if test.exit_code == 0 else passdb_result(test.log)
        if "code=temp_fail" in test.stdout:
            real_result = "internal_failure"
        assert passdb.result == real_result, (test.stdout, test.log[-6:], passdb.reason)
        if test.exit_code == 0:
            assert passdb.user == test.fields.get("user"), test.stdout
        assert predicted_login.imap_login == (login.exit_code == 0), (login.stdout, login.log[-6:])


def test_dovecot_refuses_samba_certificate_by_ip(pairs: dict[str, Pair]) -> None:
    pair = pairs["seed-by-ip"]
    assert DOVEADM is not None
    # the auth process starts (and connects) with the first request; that request would hang
    request = subprocess.Popen(
        [DOVEADM, "-c", str(pair.real.config), "user", "alice"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while "ldap_start_tls_s() failed" not in pair.real.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        request.kill()
        request.wait()
    assert "ldap_start_tls_s() failed: Connect error" in pair.real.log_text()
    predicted = pair.engine.user("alice", service="lmtp")
    assert predicted.result == "internal_failure"
    assert "certificate untrusted" in predicted.reason


def test_what_the_seed_configuration_does_on_ad(pairs: dict[str, Pair], named_dc: NamedDc) -> None:
    """Pinned outcomes (both sides agree on them, above): documented in the scenario README."""
    seed, bind = pairs["seed-named"], pairs["auth-bind"]
    with seed.predicting():
        alice = seed.engine.user("alice@example.org", service="lmtp")
        erin = seed.engine.user("erin", service="lmtp")
        bob_login = seed.engine.login("bob", _password(named_dc, "bob", "right"), service="imap")
        alice_login = seed.engine.login("alice", _password(named_dc, "alice", "right"), service="imap")
    assert alice.fields["uid"] == "10001" and alice.fields["home"] == "/var/mail/alice"
    assert erin.result == "internal_failure" and "Invalid UID value ''" in erin.reason  # no uidNumber
    assert alice_login.imap_login and not bob_login.imap_login  # bob has no userPassword
    with bind.predicting():
        assert bind.engine.login("bob", _password(named_dc, "bob", "right"), service="imap").imap_login
