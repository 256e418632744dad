"""Helpers of the resolve / send-as unit tests: a container copy with inline tables, fake DNS.

The main.cf below carries DMS v15.1.0's restriction lists (a `--from-files` copy gets no DMS
defaults), so the engine runs exactly as for a container, without any LDAP server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ldapdiag.config.from_files import load_from_files
from ldapdiag.config.model import MailServerConfig
from ldapdiag.postfix.dns import DNS_NOTFOUND, DnsAnswer
from ldapdiag.postfix.maps import build_factory
from ldapdiag.postfix.params import DMS_MAIN
from ldapdiag.postfix.sender_login import SendAsOutcome, send_as
from ldapdiag.postfix.tables import LookupResult
from ldapdiag.postfix.transaction import Transaction, run_transaction

DMS_RESTRICTIONS = (
    "smtpd_helo_restrictions",
    "smtpd_relay_restrictions",
    "smtpd_recipient_restrictions",
    "smtpd_client_restrictions",
    "smtpd_sender_restrictions",
    "smtpd_data_restrictions",
    "dms_smtpd_sender_restrictions",
    "mua_sender_restrictions",
)
BASE_MAIN: dict[str, str] = {
    "myhostname": "mail.example.org",
    "mydomain": "example.org",
    "mydestination": "localhost.$mydomain, localhost",
    "mynetworks": "127.0.0.0/8",
    "recipient_delimiter": "+",
    "smtputf8_enable": "no",
    "compatibility_level": "3.6",
    "virtual_mailbox_domains": "/etc/postfix/vhost, inline:{ other.test=yes }",
    "virtual_mailbox_maps": "inline:{ alice@example.org=a, bob@example.org=b, Dave.Davis@example.org=d, "
    "erin@other.test=e }",
    "virtual_alias_maps": "inline:{ {info@example.org=alice@example.org,bob@example.org}, "
    "self@example.org=self@example.org, {list@example.org=list@example.org,bob@example.org}, "
    "loop-a@example.org=loop-b@example.org, loop-b@example.org=loop-a@example.org, "
    "{dup@example.org=alice@example.org,ALICE@example.org,Bob@Example.org}, "
    "team@example.org=info@example.org, "
    "fwd@example.org=someone@example.com, bare@example.org=carol, domain@example.org=@other.test }",
    "virtual_transport": "lmtp:unix:/var/run/dovecot/lmtp",
    **{name: DMS_MAIN[name] for name in DMS_RESTRICTIONS},
    "smtpd_sasl_type": "dovecot",
    "smtpd_sasl_local_domain": "$mydomain",
    "smtpd_sender_login_maps": "inline:{ {alice@example.org=alice@example.org alice}, "
    "{info@example.org=alice@example.org, bob@example.org}, @example.org=postmaster@example.org }",
}


def container(tmp_path: Path, **overrides: str | None) -> MailServerConfig:
    """A `--from-files` root whose main.cf is BASE_MAIN with `overrides` (None removes a line)."""
    root = tmp_path / "root"
    (root / "etc" / "postfix").mkdir(parents=True, exist_ok=True)
    params = dict(BASE_MAIN)
    for key, value in overrides.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    text = "".join(f"{key} = {value}\n" for key, value in params.items())
    (root / "etc" / "postfix" / "main.cf").write_text(text)
    (root / "etc" / "postfix" / "vhost").write_text("example.org\n")
    return load_from_files(root)


@dataclass
class FakeDns:
    """Mail-host answers from a dict (status per domain); unknown domains are not found."""

    answers: Mapping[str, int] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def mailhost(self, name: str) -> DnsAnswer:
        self.asked.append(name)
        return DnsAnswer(name, self.answers.get(name.lower(), DNS_NOTFOUND), (f"MX {name}",))


RESOLVING = {"example.net": 0, "example.com": 0}


def predict(
    config: MailServerConfig,
    addresses: Sequence[str],
    *,
    mail_from: str = "someone@example.net",
    client: str = "external",
    dns: FakeDns | None = None,
) -> Transaction:
    """run_transaction() with inline tables and fake DNS."""
    factory = build_factory(config)
    return run_transaction(
        config,
        addresses,
        mail_from=mail_from,
        client=client,
        factory=factory,
        dns=dns or FakeDns(RESOLVING),
    )


def replies(transaction: Transaction) -> dict[str, str | None]:
    """address -> smtp_reply."""
    return {o.address: o.smtp_reply for o in transaction.outcomes}


def recipients(transaction: Transaction) -> dict[str, list[str]]:
    """address -> the queued final recipients."""
    return {o.address: [r.address for r in o.recipients] for o in transaction.outcomes}


def sends(
    config: MailServerConfig, login: str, senders: Sequence[str], **kwargs: object
) -> list[SendAsOutcome]:
    """send_as() with inline tables and fake DNS."""
    return send_as(
        config, login, list(senders), factory=build_factory(config), dns=FakeDns(RESOLVING), **kwargs
    )  # type: ignore[arg-type]


@dataclass
class RecordingTable:
    """A table that records the keys it is asked and answers from a dict (or fails for some keys)."""

    values: Mapping[str, str]
    failing: frozenset[str] = frozenset()
    name: str = "test:table"
    asked: list[str] = field(default_factory=list)

    def lookup(self, key: str) -> LookupResult:
        self.asked.append(key)
        if key.lower() in self.failing:
            return LookupResult(key, self.name, None, f"{self.name}: lookup error for {key}")
        return LookupResult(key, self.name, self.values.get(key.lower()))
