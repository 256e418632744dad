"""HOSTNAME and DOMAINNAME as DMS v15's helpers/dns.sh derives them, from every source in order."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ldapdiag.config.hostname import derive_identity, identity_from_main_cf
from ldapdiag.config.load import load_config
from ldapdiag.config.origin import Origin
from ldapdiag.config.settings import Setting, Settings
from ldapdiag.config.sources import SourceOptions


def setting(name: str, value: str, kind: str = "compose") -> Setting:
    return Setting(name, value, Origin(kind, "compose.yaml:3", name))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fqdn", "domain"),
    [
        ("mail.example.com", "example.com"),  # > 2 labels: minus the first
        ("mx.mail.example.co.uk", "mail.example.co.uk"),
        ("example.com", "example.com"),  # 2 labels: the same
        ("mail", "mail"),
    ],
)
def test_override_hostname(fqdn: str, domain: str) -> None:
    settings = Settings({"OVERRIDE_HOSTNAME": setting("OVERRIDE_HOSTNAME", fqdn, "set")})
    identity, findings = derive_identity(settings)
    assert (identity.hostname, identity.domainname) == (fqdn, domain)
    assert identity.hostname_origin.variable == "OVERRIDE_HOSTNAME"
    assert findings == []


def test_override_wins_over_compose_hostname() -> None:
    settings = Settings({"OVERRIDE_HOSTNAME": setting("OVERRIDE_HOSTNAME", "mx.example.net", "set")})
    identity, _ = derive_identity(settings, setting("hostname", "mail.example.com"))
    assert identity.hostname == "mx.example.net"


def test_compose_hostname_and_domainname_join() -> None:
    identity, _ = derive_identity(
        Settings(), setting("hostname", "mail"), setting("domainname", "example.org")
    )
    assert (identity.hostname, identity.domainname) == ("mail.example.org", "example.org")
    assert identity.hostname_origin.location == "compose.yaml:3"


def test_without_any_source_uses_this_machine_and_says_so() -> None:
    identity, findings = derive_identity(Settings())
    assert identity.hostname == socket.getfqdn()
    assert [f.level for f in findings] == ["info"]
    _, inside = derive_identity(Settings(), inside_container=True)
    assert inside == []


def test_main_cf_identity() -> None:
    identity = identity_from_main_cf("mail.example.com", None, "/etc/postfix/main.cf:3")
    assert identity.domainname == "example.com"
    explicit = identity_from_main_cf("mail.example.com", "example.net", "/etc/postfix/main.cf:3")
    assert explicit.domainname == "example.net"


def test_set_override_hostname_reaches_main_cf_and_vhost(tmp_path: Path) -> None:
    env = tmp_path / "m.env"
    env.write_text("ACCOUNT_PROVISIONER=LDAP\nLDAP_SERVER_HOST=ldap://ldap\n")
    options = SourceOptions(env_files=(env,), use_environment=False, sets=("OVERRIDE_HOSTNAME=mx.a.example",))
    config = load_config(options, {})
    assert config.postfix_main.value("myhostname") == "mx.a.example"
    assert config.postfix_main.value("mydomain") == "a.example"
    assert config.vhost == ("a.example",)


def test_config_volume_files(tmp_path: Path) -> None:
    volume = tmp_path / "config"
    volume.mkdir()
    (volume / "postfix-main.cf").write_text("recipient_delimiter = +-\n")
    (volume / "dovecot.cf").write_text("auth_username_format = %Ln\n")
    (volume / "postfix-virtual.cf").write_text("info@other.example alice@example.org\n")
    (volume / "user-patches.sh").write_text("#!/bin/bash\n")
    env = tmp_path / "m.env"
    env.write_text("ACCOUNT_PROVISIONER=LDAP\nLDAP_SERVER_HOST=ldap://ldap\n")
    options = SourceOptions(
        env_files=(env,),
        use_environment=False,
        sets=("OVERRIDE_HOSTNAME=mail.example.org",),
        dms_config=volume,
    )
    config = load_config(options, {})
    delimiter = config.postfix_main.get("recipient_delimiter")
    assert delimiter is not None and delimiter.value == "+-"
    assert delimiter.origin.location == f"{volume / 'postfix-main.cf'}:1"
    assert config.dovecot_main is not None
    assert config.dovecot_main.settings.value("auth_username_format") == "%Ln"
    assert config.vhost == ("example.org", "other.example")
    assert any("user-patches.sh" in f.where and "--from-files" in f.message for f in config.findings)
