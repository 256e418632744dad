"""`--from-files ROOT`: a container copy is read with the same parsers, and agrees with the env path."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from ldapdiag.cli import main
from ldapdiag.config.from_files import load_from_files
from ldapdiag.config.load import load_config
from ldapdiag.config.model import MailServerConfig
from ldapdiag.config.sources import SourceOptions
from ldapdiag.errors import InputError

COMPOSE = Path(__file__).parent.parent / "data" / "compose"


def env_config() -> MailServerConfig:
    options = SourceOptions(compose=COMPOSE / "seed-basic-setup.yml", use_environment=False)
    return load_config(options, {})


def write_container_copy(config: MailServerConfig, root: Path) -> None:
    """Write the files the env path renders where a DMS container keeps them."""
    for conf in config.files():
        target = root / conf.path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(conf.text)
    (root / "etc/postfix/vhost").write_text("".join(d + "\n" for d in config.vhost))
    (root / "etc/dms-settings").write_text("ENABLE_SASLAUTHD='1'\nSPOOF_PROTECTION='1'\n")


def values(conf) -> dict[str, str]:
    return {key: entry.value for key, entry in conf.effective().items()}


def test_container_copy_gives_the_same_configuration(tmp_path: Path) -> None:
    rendered = env_config()
    write_container_copy(rendered, tmp_path)
    copied = load_from_files(tmp_path)
    assert copied.source == "files"
    assert list(copied.postfix_tables) == [
        "/etc/postfix/ldap-domains.cf",
        "/etc/postfix/ldap-users.cf",
        "/etc/postfix/ldap-aliases.cf",
        "/etc/postfix/ldap-groups.cf",
        "/etc/postfix/ldap-senders.cf",
    ]
    for path, conf in copied.postfix_tables.items():
        assert values(conf) == values(rendered.postfix_tables[path])
    assert copied.dovecot_ldap is not None and rendered.dovecot_ldap is not None
    assert values(copied.dovecot_ldap) == values(rendered.dovecot_ldap)
    assert copied.saslauthd is not None and rendered.saslauthd is not None
    assert values(copied.saslauthd) == values(rendered.saslauthd)
    assert (copied.identity.hostname, copied.identity.domainname) == ("mail.example.com", "example.com")
    assert copied.vhost == ("example.com",)
    assert copied.settings.value("SPOOF_PROTECTION") == "1"
    assert copied.dovecot_main is not None
    assert [db.driver for db in copied.dovecot_main.passdbs] == ["ldap"]


def test_user_patches_edit_is_honoured(tmp_path: Path) -> None:
    write_container_copy(env_config(), tmp_path)
    groups = tmp_path / "etc/postfix/ldap-groups.cf"
    groups.write_text(
        groups.read_text() + "leaf_result_attribute = mail\nspecial_result_attribute = member\n"
    )
    copied = load_from_files(tmp_path)
    conf = copied.postfix_tables["/etc/postfix/ldap-groups.cf"]
    assert conf.value("special_result_attribute") == "member"
    assert conf.get("leaf_result_attribute").origin.location == "/etc/postfix/ldap-groups.cf:10"


@pytest.mark.skipif(shutil.which("doveconf") is None, reason="doveconf (dovecot-core) is not installed")
def test_doveconf_dump_as_dovecot_conf(tmp_path: Path) -> None:
    rendered = env_config()
    write_container_copy(rendered, tmp_path)
    real = tmp_path / "etc/dovecot/dovecot.conf"
    real.write_text(real.read_text() + "ssl = no\n")
    dump = subprocess.run(
        ["doveconf", "-n", "-c", str(real)], capture_output=True, text=True, check=True
    ).stdout
    real.write_text(dump.replace(str(tmp_path), ""))
    copied = load_from_files(tmp_path)
    assert copied.dovecot_main is not None and copied.dovecot_main.dump_version
    assert [(db.driver, db.args) for db in copied.dovecot_main.userdbs] == [
        ("ldap", "/etc/dovecot/dovecot-ldap.conf.ext")
    ]
    assert copied.dovecot_ldap is not None
    assert values(copied.dovecot_ldap) == values(rendered.dovecot_ldap)


def test_missing_main_cf_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_from_files(tmp_path)
    assert "main.cf" in str(caught.value)
    result = CliRunner().invoke(main, ["config", "--from-files", str(tmp_path)])
    assert result.exit_code == 2 and "main.cf" in result.stderr


def test_from_files_flag_without_value_means_root(monkeypatch, tmp_path: Path) -> None:
    seen: list[Path] = []
    monkeypatch.setattr("ldapdiag.config.from_files.load_from_files", lambda root: seen.append(root) or 1 / 0)
    CliRunner().invoke(main, ["config", "--from-files"])
    assert seen == [Path("/")]
