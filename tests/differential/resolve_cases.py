"""The configurations and probes of the resolve / send-as differential tests.

Every configuration runs against tests/data/resolve/routing (see its README.md) and in one
sandbox (the real postfix 3.7, dovecot 2.3, saslauthd 2.1 with DMS v15's files). Values that the
seed leaves to "the other examples" (server, bind account) are the test directory's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROUTING = ROOT / "tests" / "data" / "resolve" / "routing"
DMS_DIR = ROOT / "tests" / "data" / "resolve" / "dms"
BASIC_ENV = ROOT / "scenarios" / "basic-setup" / "mailserver.env"
SIMPLE_ENV = ROOT / "tests" / "data" / "seed" / "really-simple.env"
AD_ENV = ROOT / "tests" / "data" / "seed" / "active-directory.env"
BIND_DN = "LDAP_BIND_DN=cn=admin,ou=users,dc=example,dc=org"
DEFAULT = None  # ldapdiag's default sender (someone@example.net, assumed to resolve)


@dataclass(frozen=True)
class Probe:
    """One SMTP transaction on port 25: MAIL FROM, RCPT TO each address, DATA."""

    addresses: tuple[str, ...]
    mail_from: str | None = DEFAULT
    client: str = "external"

    @property
    def label(self) -> str:
        sender = "" if self.mail_from is DEFAULT else f" from {self.mail_from or '<>'}"
        client = " (mynetworks)" if self.client == "mynetworks" else ""
        return ",".join(self.addresses) + sender + client


@dataclass(frozen=True)
class SendAs:
    """AUTH as `login` (password of `user` in passwords.yaml), then MAIL FROM each sender."""

    login: str
    user: str
    senders: tuple[str, ...]


@dataclass(frozen=True)
class Configuration:
    """A DMS configuration: env file, `--set` values, a `--dms-config` folder, the probes."""

    name: str
    env: Path
    sets: tuple[str, ...] = ()
    dms_config: Path | None = None
    trust_directory_ca: bool = False  # /etc/ldap/ldap.conf names the directory's CA (StartTLS peers)
    probes: tuple[Probe, ...] = ()
    send_as: tuple[SendAs, ...] = field(default=())


def _p(*addresses: str, mail_from: str | None = DEFAULT, client: str = "external") -> Probe:
    return Probe(tuple(addresses), mail_from, client)


BASIC_PROBES = (
    _p("alice@example.org"),
    _p("bob@example.org"),
    _p("carol@example.org"),
    _p("ALICE@EXAMPLE.ORG"),
    _p("Alice@Example.Org"),
    _p("dave.davis@example.org"),
    _p("Dave.Davis@example.org"),
    _p("nobody@example.org"),
    _p("alice+tag@example.org"),
    _p("alice+@example.org"),
    _p("+alice@example.org"),
    _p("alice+a+b@example.org"),
    _p("nobody+tag@example.org"),
    _p("info@example.org"),
    _p("INFO@Example.org"),
    _p("info+x@example.org"),
    _p("team@example.org"),
    _p("team+foo@example.org"),
    _p("support@example.org"),
    _p("postmaster@example.org"),
    _p("alice.adams@example.org"),
    _p("crew@example.org"),
    _p("list@example.org"),
    _p("List@Example.org"),
    _p("self@example.org"),
    _p("fwd@example.org"),
    _p("loop-a@example.org"),
    _p("erin@other.test"),
    _p("nobody@other.test"),
    _p("unknown@catchall.test"),
    _p("cu@catchall.test"),
    _p("catcher@catchall.test"),
    _p("x@partner.test"),
    _p("someone@partner.test"),
    _p("someone@example.com"),
    _p("someone@example.net"),
    _p("alice"),
    _p("postmaster"),
    _p("alice@example.org."),
    _p("alice@EXAMPLE.org"),
    _p("a%b@example.org"),
    _p("info@example.org", "team@example.org"),
    _p("info@example.org", "INFO@example.org"),
    _p("bob@example.org", "nobody@example.org", "someone@example.com", "crew@example.org"),
    _p("devs@example.org"),
    _p("alice@example.org", mail_from=""),
    _p("nobody@example.org", mail_from=""),
    _p("alice@example.org", mail_from="someone@nowhere.invalid"),
    _p("someone@example.com", mail_from="someone@nowhere.invalid"),
    _p("alice@example.org", mail_from="bob@example.org"),
    _p("info@example.org", mail_from="erin@other.test"),
    _p("alice@example.org", mail_from="someone@example.net"),
    _p("alice@example.org", mail_from="x@partner.test"),
    _p("alice@example.org", client="mynetworks"),
    _p("nobody@example.org", client="mynetworks"),
    _p("someone@example.com", client="mynetworks"),
    _p("alice", client="mynetworks"),
    _p("info@example.org", "someone@example.com", client="mynetworks"),
    _p("alice@example.org", mail_from="someone@nowhere.invalid", client="mynetworks"),
)

BASIC_SEND_AS = (
    SendAs(
        "alice@example.org",
        "alice",
        (
            "alice@example.org",
            "ALICE@example.org",
            "alice+tag@example.org",
            "alice.adams@example.org",
            "postmaster@example.org",
            "info@example.org",
            "team@example.org",
            "crew@example.org",
            "bob@example.org",
            "nobody@example.org",
            "someone@example.com",
            "alice",
            "",
        ),
    ),
    SendAs("alice", "alice", ("alice@example.org", "bob@example.org")),
    SendAs("ALICE@EXAMPLE.ORG", "alice", ("alice@example.org", "bob@example.org")),
    SendAs(
        "bob@example.org",
        "bob",
        ("bob@example.org", "info@example.org", "alice@example.org", "support@example.org"),
    ),
    SendAs(
        "dave.davis@example.org",
        "dave",
        ("Dave.Davis@example.org", "dave.davis@example.org", "team@example.org"),
    ),
)

CONFIGURATIONS = (
    # the basic setup's probes in three sandboxes (they run in parallel)
    Configuration("basic", BASIC_ENV, probes=BASIC_PROBES[:30]),
    Configuration("basic-2", BASIC_ENV, probes=BASIC_PROBES[30:]),
    Configuration("basic-submission", BASIC_ENV, send_as=BASIC_SEND_AS),
    Configuration(
        "basic-senders-unset",
        BASIC_ENV,
        sets=("LDAP_QUERY_FILTER_SENDERS=",),
        probes=(_p("alice@example.org"),),
        send_as=(
            SendAs(
                "alice@example.org",
                "alice",
                (
                    "alice@example.org",
                    "info@example.org",
                    "team@example.org",
                    "bob@example.org",
                    "nobody@example.org",
                ),
            ),
        ),
    ),
    Configuration(
        "basic-no-spoof-protection",
        BASIC_ENV,
        sets=("SPOOF_PROTECTION=",),
        send_as=(
            SendAs(
                "alice@example.org", "alice", ("bob@example.org", "someone@example.com", "alice@example.org")
            ),
        ),
    ),
    Configuration(
        "group-filter-unset",
        BASIC_ENV,
        sets=("LDAP_QUERY_FILTER_GROUP=",),
        probes=(
            _p("alice@example.org"),
            _p("team@example.org"),
            _p("someone@example.com"),
            _p("alice@example.org", mail_from=""),
            _p("postmaster"),
        ),
        send_as=(SendAs("alice@example.org", "alice", ("alice@example.org", "bob@example.org")),),
    ),
    Configuration(
        "domain-filter-unset",
        BASIC_ENV,
        sets=("LDAP_QUERY_FILTER_DOMAIN=",),
        probes=(
            _p("alice@example.org"),
            _p("erin@other.test"),
            _p("someone@example.com"),
            _p("alice@example.org", mail_from=""),
            _p("alice@example.org", mail_from="bob@example.org"),
            _p("info@example.org", mail_from="erin@other.test"),
        ),
    ),
    Configuration(
        "user-filter-unset",
        BASIC_ENV,
        sets=("LDAP_QUERY_FILTER_USER=",),
        probes=(
            _p("alice@example.org"),
            _p("info@example.org"),
            _p("nobody@example.org"),
            _p("someone@example.com"),
            _p("erin@other.test"),
        ),
    ),
    Configuration(
        "server-down",
        BASIC_ENV,
        sets=("LDAP_SERVER_HOST=ldap://127.0.0.1:1",),
        probes=(
            _p("alice@example.org"),
            _p("someone@example.com"),
            _p("alice@example.org", mail_from=""),
            _p("postmaster"),
        ),
    ),
    Configuration(
        "expansion-limit",
        BASIC_ENV,
        dms_config=DMS_DIR / "expansion-limit",
        probes=(
            _p("crew@example.org"),
            _p("team@example.org"),
            _p("support@example.org"),
            _p("alice@example.org", "crew@example.org"),
            _p("info@example.org"),
        ),
    ),
    Configuration(
        "really-simple",
        SIMPLE_ENV,
        sets=(BIND_DN,),
        probes=(
            _p("alice@example.org"),
            _p("info@example.org"),
            _p("someone@example.com"),
            _p("alice@example.org", mail_from=""),
        ),
    ),
    Configuration(
        "really-simple-base-fixed",
        SIMPLE_ENV,
        sets=(
            BIND_DN,
            "LDAP_SEARCH_BASE=dc=example,dc=org",
            # dovecot SASL for the submission probes (the seed's example names no dovecot filter)
            "DOVECOT_USER_FILTER=(&(objectClass=inetOrgPerson)(mail=%u))",
            "DOVECOT_PASS_ATTRS=userPassword=password",
        ),
        probes=(
            _p("alice@example.org"),
            _p("Dave.Davis@example.org"),
            _p("info@example.org"),
            _p("team@example.org"),
            _p("nobody@example.org"),
            _p("alice+tag@example.org"),
            _p("erin@other.test"),
            _p("someone@example.com"),
            _p("unknown@catchall.test"),
        ),
        send_as=(
            SendAs(
                "alice@example.org", "alice", ("alice@example.org", "bob@example.org", "info@example.org")
            ),
            SendAs("ALICE@Example.org", "alice", ("alice@example.org", "bob@example.org")),
            SendAs(
                "admin@example.org",
                "admin",
                ("alice@example.org", "someone@example.com", "nobody@example.org"),
            ),
        ),
    ),
    Configuration(
        "active-directory",
        AD_ENV,
        sets=(BIND_DN,),
        dms_config=DMS_DIR / "ad-groups",
        trust_directory_ca=True,
        probes=(
            _p("alice@example.org"),
            _p("jdoe@example.org"),
            _p("JDoe@Example.org"),
            _p("john.doe@example.org"),
            _p("a.adams@example.org"),
            _p("info@example.org"),
            _p("devs@example.org"),
            _p("nested@example.org"),
            _p("mixedcase@example.org"),
            _p("partners@example.org"),
            _p("devs+x@example.org"),
            _p("nobody@example.org"),
            _p("devs@example.org", "nested@example.org"),
            _p("selfgrp@example.org"),  # a group that is its own member: recursion limit (~10 s)
        ),
        send_as=(
            SendAs(
                "jdoe@example.org",
                "jdoe",
                (
                    "jdoe@example.org",
                    "john.doe@example.org",
                    "JDoe@example.org",
                    "alice@example.org",
                    "devs@example.org",
                ),
            ),
            SendAs(
                "alice@example.org", "alice", ("a.adams@example.org", "alice@example.org", "jdoe@example.org")
            ),
        ),
    ),
)
