"""What `ldapdiag lookup MAP` queries: DMS map names, files, type:name tables, main.cf parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from ldapdiag.config.model import ConfFile, HostIdentity, MailServerConfig
from ldapdiag.config.origin import Origin
from ldapdiag.config.postfix_cf import parse_postfix_cf
from ldapdiag.config.settings import Settings
from ldapdiag.errors import LdapdiagError
from ldapdiag.postfix.ldap_config import LdapConfigError
from ldapdiag.postfix.ldap_table import LdapTable
from ldapdiag.postfix.maps import (
    FixedTable,
    MapError,
    UnavailableTable,
    build_factory,
    parameter_value,
    resolve_map,
    smtputf8_enabled,
)
from ldapdiag.postfix.match_list import StringList
from ldapdiag.postfix.tables import TableList

USERS = (
    "server_host = ldap://127.0.0.1:1\nsearch_base = dc=x\nquery_filter = (mail=%s)\nbind_pw = secret-pw\n"
)


def config(
    main: str, tables: dict[str, str] | None = None, vhost: tuple[str, ...] = ("dms.test",)
) -> MailServerConfig:
    origin = Origin("file", "test")
    identity = HostIdentity("mail.dms.test", origin, "dms.test", origin)
    return MailServerConfig(
        source="files",
        identity=identity,
        settings=Settings(),
        postfix_main=parse_postfix_cf(main, "/etc/postfix/main.cf"),
        postfix_tables={path: parse_postfix_cf(text, path) for path, text in (tables or {}).items()},
        vhost=vhost,
        dovecot_ldap=None,
        dovecot_main=None,
        saslauthd=None,
    )


DMS_MAIN = """\
virtual_mailbox_domains = /etc/postfix/vhost, ldap:/etc/postfix/ldap-domains.cf
virtual_mailbox_maps = ldap:/etc/postfix/ldap-users.cf
virtual_alias_maps = ldap:/etc/postfix/ldap-aliases.cf, ldap:/etc/postfix/ldap-groups.cf
smtputf8_enable = no
"""
DMS_TABLES = {f"/etc/postfix/ldap-{n}.cf": USERS for n in ("users", "aliases", "groups", "domains")}


def test_dms_names_open_the_dms_files() -> None:
    factory = build_factory(config(DMS_MAIN, DMS_TABLES))
    resolved = resolve_map("users", factory)
    assert isinstance(resolved.table, LdapTable) and resolved.description == "ldap:/etc/postfix/ldap-users.cf"
    with pytest.raises(MapError, match=r"no /etc/postfix/ldap-senders\.cf"):
        resolve_map("senders", factory)


def test_table_lists_and_string_lists() -> None:
    factory = build_factory(config(DMS_MAIN, DMS_TABLES))
    aliases = resolve_map("virtual_alias_maps", factory)
    assert isinstance(aliases.table, TableList) and aliases.semantics == "maps"
    assert [t.name for t in aliases.table.tables] == [
        "ldap:/etc/postfix/ldap-aliases.cf",
        "ldap:/etc/postfix/ldap-groups.cf",
    ]
    domains = resolve_map("virtual_mailbox_domains", factory)
    assert isinstance(domains.table, StringList) and domains.semantics == "string-list"
    assert domains.table.lookup("DMS.test").value == "dms.test"  # from the vhost file, no LDAP needed


def test_parameters_get_postfix_defaults_and_expansion() -> None:
    main = parse_postfix_cf("virtual_mailbox_maps = ldap:/a.cf\nmine = $virtual_mailbox_maps\n", "/m")
    assert parameter_value(main, "virtual_mailbox_domains") == "ldap:/a.cf"  # default $virtual_mailbox_maps
    assert parameter_value(main, "virtual_alias_maps") == ""
    assert parameter_value(main, "mine") == "ldap:/a.cf"
    assert parameter_value(main, "not_a_parameter") is None


@pytest.mark.parametrize(
    ("main", "utf8"),
    [
        ("", False),
        ("compatibility_level = 3.6\n", True),
        ("compatibility_level = 3.6\nsmtputf8_enable = no\n", False),
        ("smtputf8_enable = yes\n", True),
    ],
)
def test_smtputf8_follows_postfix_defaults(main: str, utf8: bool) -> None:
    assert smtputf8_enabled(parse_postfix_cf(main, "/m")) is utf8


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("canonical_maps", "canonical_maps is empty in main.cf"),
        ("mydestination", "a list with its own matching rules"),
        ("nonsense", "not users, aliases, groups, domains, senders"),
        ("myhostname", "is not a type:name table"),
    ],
)
def test_maps_ldapdiag_cannot_query_are_one_line_errors(name: str, message: str) -> None:
    factory = build_factory(config("mydestination = localhost\nmyhostname = mail.dms.test\n"))
    with pytest.raises(LdapdiagError, match=message):
        resolve_map(name, factory)


def test_other_table_types(tmp_path: Path) -> None:
    factory = build_factory(config(""))
    assert resolve_map("static:{ a value }", factory).table.lookup("x").value == "a value"
    inline = resolve_map("inline:{ Key=one, {k2 = two, three} }", factory).table
    assert (inline.lookup("KEY").value, inline.lookup("k2").value) == ("one", "two, three")
    assert resolve_map("fail:x", factory).table.lookup("x").error is not None
    hashed = resolve_map("hash:/etc/postfix/virtual", factory).table
    assert isinstance(hashed, UnavailableTable) and hashed.lookup("x").error is not None
    assert isinstance(resolve_map("inline:{a=b}", factory).table, FixedTable)


def test_table_files_from_this_machine_and_postfix_fatals(tmp_path: Path) -> None:
    good = tmp_path / "good.cf"
    good.write_text(USERS)
    bad = tmp_path / "bad.cf"
    bad.write_text("start_tls = maybe\n")
    factory = build_factory(config(""))
    assert isinstance(resolve_map(str(good), factory).table, LdapTable)
    assert isinstance(resolve_map(f"ldap:{good}", factory).table, LdapTable)
    with pytest.raises(LdapConfigError, match=r"fatal: .*bad boolean configuration: start_tls = maybe"):
        resolve_map(str(bad), factory)
    missing = resolve_map(f"ldap:{tmp_path}/missing.cf", factory).table
    assert (
        missing.lookup("k").error
        == f"ldap:{tmp_path}/missing.cf is unavailable. open {tmp_path}/missing.cf: No such file or directory"
    )


def test_main_cf_style_ldap_tables() -> None:
    """ldap:NAME (no slash) reads NAME_server_host... from main.cf, $name expanded."""
    main = "base = dc=x\nldapsource_server_host = ldap://h:1\nldapsource_search_base = ou=u,$base\n"
    table = resolve_map("ldap:ldapsource", build_factory(config(main))).table
    assert isinstance(table, LdapTable)
    assert (table.config.server_host, table.config.search_base) == ("ldap://h:1", "ou=u,dc=x")


def test_conf_file_is_not_leaking_the_password() -> None:
    factory = build_factory(config(DMS_MAIN, DMS_TABLES))
    assert "secret-pw" not in repr(resolve_map("users", factory))
    assert isinstance(config(DMS_MAIN, DMS_TABLES).postfix_tables["/etc/postfix/ldap-users.cf"], ConfFile)
