"""ldapdiag's SMTP AUTH predictions against a real saslauthd 2.1.28 on the Samba AD DC.

saslauthd.conf is the one DMS renders from scenarios/active-directory/mailserver.env: the seed's
`(&(sAMAccountName=%U)(objectClass=person))`, StartTLS (SASLAUTHD_LDAP_START_TLS=yes) with
ldap_tls_check_peer: no, `ldap_auth_method: bind` (search as the Administrator, then bind as the
entry found with the user's AD password) and `ldap_referrals: yes`. What saslauthd showed: %U is
the part before '@', so `alice`, `alice@example.org` and `alice@anything` all log in as alice
(sAMAccountName matches case-insensitively); contacts, groups and accounts without a password
fail; the search reference Samba returns with every subtree search (ldap://ad.example.org/...;
saslauthd runs with ldap_referrals: yes; the name resolves nowhere here) does not change an answer.
A variant reaches the DC over plain LDAP: the search bind is refused (Strong(er) authentication).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ldapdiag.config.model import MailServerConfig
from ldapdiag.directory.trace import Trace
from ldapdiag.dovecot.engine import directory_factory
from ldapdiag.saslauthd.smtp_auth import smtp_auth
from tests.oracles.saslauthd import SASLAUTHD, TESTSASLAUTHD, SaslauthdSandbox
from tests.samba_dc import NamedDc, ad_config, requires_samba

pytestmark = [
    requires_samba,
    pytest.mark.skipif(SASLAUTHD is None or TESTSASLAUTHD is None, reason="sasl2-bin is not installed"),
]
WRONG = "wrong-password"
LOGINS = [
    "alice", "alice@example.org", "ALICE@EXAMPLE.ORG", "alice@other.test", "bob@example.org",
    "carol", "dave.davis@example.org", "dave", "erin@example.org", "frank@partner.test", "frank",
    "team@example.org", "svc-backup", "nobody@example.org", "administrator", "al*",
]  # fmt: skip
SETUPS = {"seed": (), "plain": ("SASLAUTHD_LDAP_START_TLS=no",)}
PROBES = [("seed", login, which) for login in LOGINS for which in ("right", WRONG)]
PROBES += [("plain", login, "right") for login in ("alice", "bob@example.org", "nobody")]


class Pair:
    def __init__(self, config: MailServerConfig) -> None:
        assert config.saslauthd is not None
        self.config = config
        self.real = SaslauthdSandbox(config.saslauthd.text)
        self.real.__enter__()
        self.factory = directory_factory(Trace(), max_wait=30)


@pytest.fixture(scope="module")
def pairs(named_dc: NamedDc) -> Iterator[dict[str, Pair]]:
    url = named_dc.dc.running.ldap_url
    made = {name: Pair(ad_config(url, *sets)) for name, sets in SETUPS.items()}
    yield made
    for pair in made.values():
        pair.real.__exit__()


def _password(named: NamedDc, login: str, which: str) -> str:
    if which != "right":
        return which
    passwords = named.dc.scenario.user_passwords
    key = login.split("@")[0].lower().split(".")[0]
    if key == "administrator":
        return named.dc.scenario.bind_password
    return passwords.get(key, "no-such-password")


@pytest.mark.parametrize(("setup", "login", "which"), PROBES, ids=["/".join(p) for p in PROBES])
def test_probe_agrees(pairs: dict[str, Pair], named_dc: NamedDc, setup: str, login: str, which: str) -> None:
    pair = pairs[setup]
    password = _password(named_dc, login, which)
    predicted = smtp_auth(pair.config, pair.factory, login, password)
    assert predicted.via == "saslauthd" and predicted.saslauthd_user is not None
    real = pair.real.answer(predicted.saslauthd_user, predicted.saslauthd_realm or None, password)
    assert predicted.ok == (real == "OK"), (real, predicted.reason, pair.real.log_text()[-600:])


def test_ad_accounts_log_in_by_samaccountname(pairs: dict[str, Pair], named_dc: NamedDc) -> None:
    pair = pairs["seed"]
    for login in ("alice", "alice@example.org", "alice@other.test", "dave.davis@example.org"):
        outcome = smtp_auth(pair.config, pair.factory, login, _password(named_dc, login, "right"))
        assert outcome.ok == (login != "dave.davis@example.org"), login  # %U = dave.davis, not dave
