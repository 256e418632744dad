"""Run a resolve/send-as Configuration twice: in the sandbox (the real programs) and in ldapdiag.

Both sides see the same directory, the same rendered files and the same DNS: the sandbox's DNS
stub answers inside, and an identical stub on the host's 127.0.0.1 answers ldapdiag's queries.
SMTP probes from a mynetworks client run inside the sandbox from 127.0.0.1.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field

from ldapdiag.config.load import load_config
from ldapdiag.config.model import MailServerConfig
from ldapdiag.config.sources import SourceOptions
from ldapdiag.demo import RunningDirectory, load_scenario
from ldapdiag.postfix.dns import StdlibResolver
from ldapdiag.postfix.resolve_command import predict_resolve, predict_send_as
from ldapdiag.postfix.sender_login import SEND_AS_RECIPIENT, SendAsOutcome
from ldapdiag.postfix.transaction import DEFAULT_MAIL_FROM, AssumedDns, Transaction
from tests.differential.resolve_cases import ROUTING, Configuration, Probe, SendAs
from tests.sandbox import layout
from tests.sandbox.dnsstub import DnsStub
from tests.sandbox.harness import Sandbox, start_sandbox
from tests.sandbox.results import RcptProbe, SubmissionProbe

HOSTNAME = "mail.example.org"
DEFAULT_DOMAIN = frozenset({DEFAULT_MAIL_FROM.rpartition("@")[2]})
EXTRA_DNS = ("partner.test",)
_MYNETWORKS_PROBE = (
    "import json, sys\n"
    "from tests.sandbox import layout\n"
    "layout.CLIENT_IP = '127.0.0.1'\n"
    "from tests.sandbox import smtp_probes\n"
    "print(json.dumps(smtp_probes.rcpt_probe(sys.argv[1], sys.argv[2:])))\n"
)


@dataclass
class ResolvePair:
    """One probe: what postfix did, what ldapdiag predicted."""

    probe: Probe
    real: RcptProbe
    predicted: Transaction


@dataclass
class SendAsPair:
    """One sender of a SendAs probe: the submission replies, ldapdiag's outcome."""

    case: SendAs
    sender: str
    real: SubmissionProbe
    predicted: SendAsOutcome


@dataclass
class ConfigurationRun:
    """Everything one configuration produced, with timings."""

    configuration: Configuration
    resolve: list[ResolvePair] = field(default_factory=list)
    send_as: list[SendAsPair] = field(default_factory=list)
    seconds: float = 0.0
    sandbox_report: str = ""


def load(configuration: Configuration, directory: RunningDirectory) -> MailServerConfig:
    """ldapdiag's MailServerConfig of the configuration, pointed at the test directory."""
    options = SourceOptions(
        env_files=(configuration.env,),
        use_environment=False,
        dms_config=configuration.dms_config,
        sets=(f"LDAP_SERVER_HOST={directory.ldap_url}", f"OVERRIDE_HOSTNAME={HOSTNAME}", *configuration.sets),
    )
    return load_config(options, {})


def rcpt_from_mynetworks(sandbox: Sandbox, mail_from: str, recipients: tuple[str, ...]) -> RcptProbe:
    """The port-25 probe, but from 127.0.0.1 (inside every mynetworks DMS writes)."""
    result = sandbox.run(sys.executable, "-c", _MYNETWORKS_PROBE, mail_from, *recipients)
    if result.exit_code != 0:
        raise RuntimeError(f"mynetworks probe failed: {result.stderr}")
    return RcptProbe.from_dict(json.loads(result.stdout))


def run_configuration(configuration: Configuration, directory: RunningDirectory) -> ConfigurationRun:
    """Start the sandbox for the configuration, ask both sides every probe."""
    begin = time.monotonic()
    run = ConfigurationRun(configuration)
    config = load(configuration, directory)
    ldap_conf = f"TLS_CACERT\t{layout.LDAP_CA_FILE}\n" if configuration.trust_directory_ca else None
    ca_files = (directory.ca_file,) if directory.ca_file is not None else ()
    passwords = load_scenario(ROUTING).user_passwords
    with start_sandbox(config, directory, dns_domains=EXTRA_DNS, ldap_conf=ldap_conf) as sandbox:
        stub = DnsStub(sandbox.dns_domains, "127.0.0.1", layout.UNROUTABLE_IP, port=0).start()
        try:
            dns = StdlibResolver(("127.0.0.1",), port=stub.sock.getsockname()[1], timeout=1.0)
            for probe in configuration.probes:
                sender = DEFAULT_MAIL_FROM if probe.mail_from is None else probe.mail_from
                if probe.client == "mynetworks":
                    real = rcpt_from_mynetworks(sandbox, sender, probe.addresses)
                else:
                    real = sandbox.rcpt(sender, list(probe.addresses))
                predicted = predict_resolve(
                    config,
                    probe.addresses,
                    mail_from=probe.mail_from,
                    client=probe.client,
                    ca_files=ca_files,
                    dns=dns if probe.mail_from is not None else AssumedDns(dns, DEFAULT_DOMAIN),
                )
                run.resolve.append(ResolvePair(probe, real, predicted))
            for case in configuration.send_as:
                outcomes = predict_send_as(config, case.login, case.senders, ca_files=ca_files, dns=dns)
                for sender, outcome in zip(case.senders, outcomes, strict=True):
                    real_sub = sandbox.submission(case.login, passwords[case.user], sender, SEND_AS_RECIPIENT)
                    run.send_as.append(SendAsPair(case, sender, real_sub, outcome))
        finally:
            stub.close()
            run.sandbox_report = sandbox.report(tail=40)
    run.seconds = time.monotonic() - begin
    return run
