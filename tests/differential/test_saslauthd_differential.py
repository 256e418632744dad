"""ldapdiag's SMTP AUTH predictions (saslauthd -a ldap) against a real saslauthd 2.1.28.

For each configuration ldapdiag renders saslauthd.conf from DMS variables; a sandbox
`saslauthd -a ldap -O FILE -m DIR -n 1 -d` serves it on a throwaway slapd. A probe is an SMTP
login name and password: ldapdiag predicts the verdict and the user/realm cyrus SASL hands to
saslauthd (postfix's smtpd_sasl_local_domain = $mydomain is the realm of a login without '@'; the
name is split at its last '@'), and `testsaslauthd -u USER -r REALM -s smtp -p PW` asks the real
saslauthd with exactly that user and realm. The filters saslauthd sent are compared too, from
slapd's access log.
"""

from __future__ import annotations

import dataclasses
import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ldapdiag.config.load import load_config
from ldapdiag.config.model import MailServerConfig
from ldapdiag.config.sources import SourceOptions
from ldapdiag.demo import RunningDirectory, load_scenario, serve_scenario
from ldapdiag.directory.trace import Trace
from ldapdiag.dovecot.engine import directory_factory
from ldapdiag.saslauthd.smtp_auth import smtp_auth
from tests.ldap_server import BASIC_SETUP, missing_ldap_tools
from tests.oracles.saslauthd import SASLAUTHD, TESTSASLAUTHD, SaslauthdSandbox
from tests.relay import Relay

MIXED = Path(__file__).resolve().parents[1] / "data" / "dovecot_dirs" / "mixed"
WRONG = "wrong-password"
_FILTER = re.compile(r'SRCH base="[^"]*" scope=\d deref=\d filter="(?P<filter>.*)"$')

pytestmark = pytest.mark.skipif(
    SASLAUTHD is None or TESTSASLAUTHD is None or missing_ldap_tools() is not None,
    reason="sasl2-bin or slapd is not installed",
)

PEOPLE = (
    "LDAP_SEARCH_BASE=ou=people,dc=example,dc=org",
    "LDAP_BIND_DN=cn=admin,ou=users,dc=example,dc=org",
)


@dataclass(frozen=True)
class Setup:
    directory: str  # "basic" or "mixed"
    sets: tuple[str, ...]


SETUPS = {
    "basic-setup": Setup("basic", ()),
    "dms-default-filter": Setup("mixed", PEOPLE),
    "custom": Setup("mixed", (*PEOPLE, "SASLAUTHD_LDAP_AUTH_METHOD=custom")),
    "fastbind": Setup(
        "mixed",
        (
            *PEOPLE,
            "SASLAUTHD_LDAP_AUTH_METHOD=fastbind",
            "SASLAUTHD_LDAP_FILTER=cn=%U,ou=people,dc=example,dc=org",
        ),
    ),
    "tokens": Setup(
        "mixed",
        (
            *PEOPLE,
            "SASLAUTHD_LDAP_FILTER=(|(mail=%u)(&(mail=%U@%r)(cn=%1*))(mail=%U@%d)(description=%%x%s%z))",
        ),
    ),
}


def _probes() -> list[tuple[str, str, str]]:
    probes = []
    for login in [
        "alice@example.org",
        "alice",
        "Alice@Example.ORG",
        "bob@other.test",
        "dave.davis@example.org",
    ]:
        probes += [("basic-setup", login, "right"), ("basic-setup", login, WRONG)]
    probes += [("basic-setup", "nobody@example.org", "right"), ("basic-setup", " alice ", "right")]
    for user in ["ssha", "bare", "crypt6", "cryptY", "sha", "saslmd5", "plain", "dup", "nobody", "longpw"]:
        probes += [("dms-default-filter", f"{user}@example.org", "right")]
    probes += [
        ("dms-default-filter", "ssha@example.org", WRONG),
        ("dms-default-filter", "longpw", "truncated"),
    ]
    probes += [("dms-default-filter", "a@b@example.org", "right")]
    custom = ["ssha", "bare", "crypt6", "sha", "saslmd5", "plain", "multipw", "nopw", "badssha"]
    # ssha19 / badsmd5: 19 and 15 bytes, one short of sha1's and md5's digest; nosaltsmd5: 16
    for user in [*custom, "ssha19", "badsmd5", "nosaltsmd5"]:
        probes += [("custom", f"{user}@example.org", "right")]
    probes += [("custom", "ssha@example.org", WRONG), ("custom", "multipw@example.org", "wrong-first")]
    for user in ["ssha", "bare", "nobody", "plain"]:
        probes += [("fastbind", f"{user}@example.org", "right")]
    for login in ["ssha@example.org", "ssha", "ssha@other.test", "x@y@example.org", "st*r@example.org"]:
        probes += [("tokens", login, "right")]
    return probes


PROBES = _probes()


@pytest.fixture(scope="module")
def directories() -> Iterator[dict[str, RunningDirectory]]:
    with serve_scenario(BASIC_SETUP) as basic, serve_scenario(MIXED) as mixed:
        yield {"basic": basic, "mixed": mixed}


@pytest.fixture(scope="module")
def passwords() -> dict[str, dict[str, str]]:
    return {
        "basic": dict(load_scenario(BASIC_SETUP).user_passwords),
        "mixed": dict(load_scenario(MIXED).user_passwords),
    }


def build_config(setup: Setup, directory: RunningDirectory) -> MailServerConfig:
    env = BASIC_SETUP / "mailserver.env" if setup.directory == "basic" else MIXED / "mailserver.env"
    sets = (
        f"LDAP_SERVER_HOST={directory.ldap_url}",
        f"LDAP_BIND_PW__FILE={directory.password_file}",
        "OVERRIDE_HOSTNAME=mail.example.org",
        "ENABLE_SASLAUTHD=1",
        "SASLAUTHD_MECHANISMS=ldap",
    )
    return load_config(SourceOptions(env_files=(env,), use_environment=False, sets=sets + setup.sets), {})


class Pair:
    def __init__(self, config: MailServerConfig, directory: RunningDirectory) -> None:
        assert config.saslauthd is not None
        self.config = config
        self.directory = directory
        self.real = SaslauthdSandbox(config.saslauthd.text)
        self.real.__enter__()
        self.factory = directory_factory(Trace(), max_wait=30)

    def filters_since(self, start: int) -> list[str]:
        assert self.directory.access_log is not None
        lines = self.directory.access_log.read_text(errors="replace")[start:].splitlines()
        return [m.group("filter") for m in map(_FILTER.search, lines) if m]

    def log_size(self) -> int:
        assert self.directory.access_log is not None
        return len(self.directory.access_log.read_text(errors="replace"))


@pytest.fixture(scope="module")
def pairs(directories: dict[str, RunningDirectory]) -> Iterator[dict[str, Pair]]:
    # One saslauthd per setup, stopped when the next setup is first asked. A probe that crashes
    # it (`custom/badssha`) drops it from the dict: the next probe gets a fresh one.
    made: list[Pair] = []

    class Lazy(dict[str, Pair]):
        def __missing__(self, name: str) -> Pair:
            while made:  # the previous setup's (or the crashed one), never asked again
                made.pop().real.__exit__()
            self.clear()
            setup = SETUPS[name]
            directory = directories[setup.directory]
            made.append(Pair(build_config(setup, directory), directory))
            self[name] = made[-1]
            return made[-1]

    yield Lazy()
    for pair in made:
        pair.real.__exit__()


def _password(setup: str, login: str, which: str, passwords: dict[str, dict[str, str]]) -> str:
    table = passwords[SETUPS[setup].directory]
    key = login.strip().split("@")[0].lower().split(".")[0]
    if which == "right":
        return table.get(key, "no-such-password")
    if which == "truncated":
        return table[key][:127]
    if which == "wrong-first":
        return "wrong-first"
    return which


@pytest.mark.parametrize(("setup", "login", "which"), PROBES, ids=["/".join(p) for p in PROBES])
def test_probe_agrees(
    pairs: dict[str, Pair], passwords: dict[str, dict[str, str]], setup: str, login: str, which: str
) -> None:
    pair = pairs[setup]
    password = _password(setup, login, which, passwords)
    predicted = smtp_auth(pair.config, pair.factory, login, password)
    assert predicted.via == "saslauthd"
    assert predicted.saslauthd_user is not None
    start = pair.log_size()
    real = pair.real.answer(predicted.saslauthd_user, predicted.saslauthd_realm or None, password)
    sent = pair.filters_since(start)
    if predicted.lak is not None and predicted.lak.crashes:
        # saslauthd -n 1 is one process: its SIGSEGV leaves no answer and nobody on the socket
        assert real not in ("OK", "NO") and pair.real.exit_code() == -signal.SIGSEGV, real
        del pairs[setup]
    else:  # a real answer, never a dead saslauthd's error text
        assert real in ("OK", "NO"), (real, pair.real.log_text()[-400:])
    assert predicted.ok == (real == "OK"), (real, predicted.reason, pair.real.log_text()[-400:])
    if (
        predicted.lak is not None
        and predicted.lak.filter is not None
        and SETUPS[setup].sets[-1:] != ("SASLAUTHD_LDAP_FILTER=cn=%U,ou=people,dc=example,dc=org",)
    ):
        # slapd logs the filter normalised (values of case-insensitive attributes lowercased)
        assert sent and sent[0].lower() == predicted.lak.filter.lower()


def test_enough_probes() -> None:
    assert len(PROBES) >= 30


def test_a_search_cut_once_is_retried_without_a_fault(
    directories: dict[str, RunningDirectory], passwords: dict[str, dict[str, str]]
) -> None:
    """lak_authenticate() tries twice: a first search whose connection is cut (LDAP_SERVER_DOWN:
    LAK_RETRY) is sent again on a new connection. Each side goes through its own relay that cuts
    the connection at its second request (the bind as ldap_bind_dn, then the search): both answer
    OK, and ldapdiag logs no fault."""
    password = passwords["basic"]["alice"]

    def through_relay() -> tuple[Relay, MailServerConfig]:
        relay = Relay(directories["basic"].ldap_url, cut_at=2)
        return relay, build_config(
            SETUPS["basic-setup"], dataclasses.replace(directories["basic"], ldap_url=relay.url)
        )

    relay, config = through_relay()
    trace = Trace()
    try:
        predicted = smtp_auth(config, directory_factory(trace, max_wait=30), "alice@example.org", password)
    finally:
        relay.kill()
    assert relay.requests > 2 and predicted.lak is not None and predicted.lak.attempts == 2
    assert predicted.ok and trace.faults.faults == [], predicted.reason
    relay, config = through_relay()
    assert config.saslauthd is not None and predicted.saslauthd_user is not None
    try:
        with SaslauthdSandbox(config.saslauthd.text) as real:
            answer = real.answer(predicted.saslauthd_user, predicted.saslauthd_realm or None, password)
    finally:
        relay.kill()
    assert relay.requests > 2 and answer == "OK"
