"""`ldapdiag resolve` / `send-as` against the real postfix + dovecot + saslauthd on the Samba AD DC.

Two DMS configurations of scenarios/active-directory run in the sandbox (tests/sandbox: DMS v15's
postfix, dovecot and saslauthd in private namespaces): the seed's AD settings (mailserver.env +
config/ldap-groups.cf) and the docs' Kopano/Zarafa example (kopano.env: SMTP_ONLY=1, delivery to
POSTFIX_DAGENT=lmtp:kopano:2003, no dovecot at all). The DC is named by its DNS name,
DC1.ad.example.org (the sandbox's DNS stub answers 127.0.0.1, where the relay to the DC
listens), and ldap.conf trusts Samba's CA, as a container set up along the DMS docs would: then
dovecot accepts the DC's certificate (by IP it refuses it, see test_ad_dovecot.py). ldapdiag
predicts every transaction with the same name resolution and `--ca-file` the CA.

What the real programs showed, on top of the table answers (test_ad_postmap.py): all-staff@'s
1600 members exceed virtual_alias_expansion_limit (1000): RCPT 250, DATA "451 4.6.0 Alias
expansion error"; Dave.Davis@ (account dave) passes RCPT and bounces at dovecot's LMTP, which
looks up sAMAccountName=Dave.Davis, and so do contacts and the empty group; erin (no uidNumber)
is deferred by LMTP (451 4.3.0); Domain Admins may send as anyone.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ldapdiag.postfix.dns import StdlibResolver
from ldapdiag.postfix.resolve_command import predict_resolve, predict_send_as
from ldapdiag.postfix.sender_login import SEND_AS_RECIPIENT
from ldapdiag.postfix.transaction import DEFAULT_MAIL_FROM, AssumedDns
from tests.differential.resolve_cases import Probe, SendAs
from tests.differential.resolve_runs import ConfigurationRun, ResolvePair, SendAsPair
from tests.differential.test_resolve_differential import explain, fold, real_replies
from tests.differential.test_send_as_differential import explain as explain_send_as
from tests.differential.test_send_as_differential import real_reply, real_sasl_name
from tests.samba_dc import AD_CONFIG, AD_ENV, AD_SCENARIO, NamedDc, ad_config, requires_samba
from tests.sandbox import layout
from tests.sandbox.dnsstub import DnsStub
from tests.sandbox.harness import missing_requirements, start_sandbox

pytestmark = [
    requires_samba,
    pytest.mark.skipif(missing_requirements() is not None, reason=f"sandbox: {missing_requirements()}"),
]
KOPANO_ENV = AD_SCENARIO / "kopano.env"
DEFAULT_DOMAIN = frozenset({DEFAULT_MAIL_FROM.rpartition("@")[2]})


@dataclass(frozen=True)
class AdConfiguration:
    name: str
    env: Path
    sets: tuple[str, ...] = ()
    dms_config: Path | None = AD_CONFIG
    probes: tuple[Probe, ...] = ()
    send_as: tuple[SendAs, ...] = field(default=())


def _p(*addresses: str, mail_from: str | None = None) -> Probe:
    return Probe(tuple(addresses), mail_from)


SEED_PROBES = (
    _p("alice@example.org"),
    _p("ALICE@EXAMPLE.ORG"),
    _p("dave.davis@example.org"),
    _p("alice+tag@example.org"),
    _p("erin@example.org"),
    _p("nobody@example.org"),
    _p("alice.adams@example.org"),
    _p("postmaster@example.org"),
    _p("info@example.org"),
    _p("Carol.Cole@example.org"),
    _p("team@example.org"),
    _p("support@example.org"),
    _p("empty@example.org"),
    _p("all-staff@example.org"),
    _p("staff0001@example.org"),
    _p("frank@partner.test"),
    _p("someone@other.test"),
    _p("alice@ad.example.org"),
    _p("alice@example.org", mail_from="bob@example.org"),
)
SEED_SEND_AS = (
    SendAs("alice@example.org", "alice", ("alice@example.org", "bob@example.org", "nobody@example.org")),
    SendAs("alice", "alice", ("alice@example.org", "info@example.org")),
    SendAs("bob@example.org", "bob", ("bob@example.org", "info@example.org", "alice@example.org")),
    SendAs(
        "carol@example.org", "carol", ("carol@example.org", "Carol.Cole@example.org", "support@example.org")
    ),
)
TLS = ("LDAP_START_TLS=yes", "SASLAUTHD_LDAP_START_TLS=yes")
CONFIGURATIONS = (
    AdConfiguration("seed", AD_ENV, probes=SEED_PROBES, send_as=SEED_SEND_AS),
    AdConfiguration(
        "kopano",
        KOPANO_ENV,
        sets=TLS,
        dms_config=None,
        probes=(
            _p("alice@example.org"),
            _p("team@example.org"),
            _p("nobody@example.org"),
            _p("frank@partner.test"),
        ),
        send_as=(SendAs("alice", "alice", ("alice@example.org", "bob@example.org")),),
    ),
)
IDS = [(c.name, i) for c in CONFIGURATIONS for i in range(len(c.probes))]
LABELS = [f"{c.name}:{p.label}" for c in CONFIGURATIONS for p in c.probes]


def run_configuration(configuration: AdConfiguration, named: NamedDc) -> ConfigurationRun:
    begin = time.monotonic()
    run = ConfigurationRun(configuration)  # type: ignore[arg-type]
    real_directory = named.dc.running
    directory = dataclasses.replace(
        real_directory,
        ldap_url=named.url(real_directory.ldap_url),
        ldaps_url=named.url(real_directory.ldaps_url or ""),
    )
    config = ad_config(
        directory.ldap_url, *configuration.sets, env=configuration.env, dms_config=configuration.dms_config
    )
    ca_files = (real_directory.ca_file,) if real_directory.ca_file else ()
    passwords = named.dc.scenario.user_passwords
    with start_sandbox(
        config,
        directory,
        dns_domains=("partner.test",),
        ldap_conf=f"TLS_CACERT\t{layout.LDAP_CA_FILE}\n",
        dns_hosts={named.name: "127.0.0.1"},
    ) as sandbox:
        stub = DnsStub(sandbox.dns_domains, "127.0.0.1", layout.UNROUTABLE_IP, port=0).start()
        try:
            dns = StdlibResolver(("127.0.0.1",), port=stub.sock.getsockname()[1], timeout=1.0)
            with named.resolving():
                for probe in configuration.probes:
                    sender = DEFAULT_MAIL_FROM if probe.mail_from is None else probe.mail_from
                    real = sandbox.rcpt(sender, list(probe.addresses))
                    predicted = predict_resolve(
                        config,
                        probe.addresses,
                        mail_from=probe.mail_from,
                        ca_files=ca_files,
                        dns=dns if probe.mail_from is not None else AssumedDns(dns, DEFAULT_DOMAIN),
                    )
                    run.resolve.append(ResolvePair(probe, real, predicted))
                for case in configuration.send_as:
                    outcomes = predict_send_as(config, case.login, case.senders, ca_files=ca_files, dns=dns)
                    for sender, outcome in zip(case.senders, outcomes, strict=True):
                        real_sub = sandbox.submission(
                            case.login, passwords[case.user], sender, SEND_AS_RECIPIENT
                        )
                        run.send_as.append(SendAsPair(case, sender, real_sub, outcome))  # type: ignore[arg-type]
        finally:
            stub.close()
            run.sandbox_report = sandbox.report(tail=40)
    run.seconds = time.monotonic() - begin
    return run


@pytest.fixture(scope="module")
def runs(named_dc: NamedDc) -> Iterator[dict[str, ConfigurationRun]]:
    yield {c.name: run_configuration(c, named_dc) for c in CONFIGURATIONS}


@pytest.mark.parametrize(("name", "index"), IDS, ids=LABELS)
def test_smtp_replies_and_deliveries_equal_postfix(
    runs: dict[str, ConfigurationRun], name: str, index: int
) -> None:
    pair = runs[name].resolve[index]
    predicted = {o.address: o.smtp_reply for o in pair.predicted.outcomes}
    assert predicted == real_replies(pair), explain(pair)
    assert {o.address: o.rcpt_reply for o in pair.predicted.outcomes} == pair.real.rcpt, explain(pair)
    assert pair.real.settled, "the sandbox's queue did not settle"
    real = sorted((fold(d.orig_to or d.to), d.to) for d in pair.real.deliveries)
    ours = sorted((fold(r.original), r.address) for o in pair.predicted.outcomes for r in o.recipients)
    assert ours == real, explain(pair)
    by_pair = {(fold(d.orig_to or d.to), d.to): d for d in pair.real.deliveries}
    for outcome in pair.predicted.outcomes:
        for recipient in outcome.recipients:
            if recipient.status is not None:
                delivery = by_pair[(fold(recipient.original), recipient.address)]
                assert (recipient.status, recipient.dsn) == (delivery.status, delivery.dsn), explain(pair)


@pytest.mark.parametrize("name", [c.name for c in CONFIGURATIONS])
def test_send_as_equals_the_submission_port(runs: dict[str, ConfigurationRun], name: str) -> None:
    differences = []
    for pair in runs[name].send_as:
        assert pair.real.auth.startswith("235"), f"the sandbox login failed: {pair.real.auth}"
        real = real_reply(pair)  # type: ignore[arg-type]
        if pair.predicted.smtp_reply != real or pair.predicted.allowed != (real is None):
            differences.append(explain_send_as(pair))  # type: ignore[arg-type]
        name_seen = real_sasl_name(pair)  # type: ignore[arg-type]
        if name_seen is not None and name_seen != pair.predicted.sasl_username:
            differences.append(explain_send_as(pair))  # type: ignore[arg-type]
    assert not differences, "\n".join(differences)


def test_kopano_resolves_without_dovecot(runs: dict[str, ConfigurationRun]) -> None:
    for pair in runs["kopano"].resolve:
        for outcome in pair.predicted.outcomes:
            assert not [
                s for s in outcome.steps if "dovecot" in s.action.lower() or "dovecot" in s.detail.lower()
            ]
            for recipient in outcome.recipients:
                assert recipient.transport == "lmtp:kopano:2003" and recipient.userdb is None


def test_domain_admin_may_send_as_anyone(runs: dict[str, ConfigurationRun]) -> None:
    allowed = {(p.case.login, p.sender): p.predicted.allowed for p in runs["seed"].send_as}
    assert (
        allowed[("alice@example.org", "nobody@example.org")]
        and allowed[("alice@example.org", "bob@example.org")]
    )
    assert not allowed[("bob@example.org", "alice@example.org")]
