"""`ldapdiag lookup PARAMETER` against `postmap -q KEY TABLE1 TABLE2...` with that parameter's tables.

A DMS-like container copy (`--from-files ROOT`: main.cf naming /etc/postfix/ldap-*.cf) on the
basic-setup directory. postmap is given the same files in the same order; the first table that
answers (a value or an error) decides, like maps_find(). virtual_mailbox_domains is a string
list: postmap cannot read /etc/postfix/vhost (not a type:table), so its ldap table is compared
and the vhost domains are checked on their own.
"""

from __future__ import annotations

import json
from pathlib import Path
from string import Template

import pytest

from ldapdiag.demo import RunningDirectory
from tests.differential import postmap
from tests.differential.cases import BASIC_KEYS, DMS, DOMAIN_KEYS, cf
from tests.differential.conftest import ldapdiag, placeholders, write_cool
from tests.oracles.postfix import POSTMAP

FILTERS = {
    "ldap-users.cf": "(&(objectClass=inetOrgPerson)(mail=%s))",
    "ldap-aliases.cf": "(&(objectClass=inetOrgPerson)(mailAlias=%s))",
    "ldap-groups.cf": "(&(objectClass=inetOrgPerson)(mailGroupMember=%s))",
    "ldap-domains.cf": "(|(mail=*@%s)(mailAlias=*@%s)(mailGroupMember=*@%s))",
    "ldap-broken.cf": "",  # DMS's empty query_filter: every lookup fails
}
MAIN_CF = """\
smtputf8_enable = no
compatibility_level = 3.6
myhostname = mail.dms.test
virtual_mailbox_domains = /etc/postfix/vhost, ldap:/etc/postfix/ldap-domains.cf
virtual_mailbox_maps = ldap:/etc/postfix/ldap-users.cf
virtual_alias_maps = ldap:/etc/postfix/ldap-aliases.cf, ldap:/etc/postfix/ldap-groups.cf
smtpd_sender_login_maps = ldap:/etc/postfix/ldap-users.cf ldap:/etc/postfix/ldap-aliases.cf
  ldap:/etc/postfix/ldap-groups.cf
relay_recipient_maps = ldap:/etc/postfix/ldap-aliases.cf, ldap:/etc/postfix/ldap-broken.cf
canonical_maps =
"""
VHOST = "dms.test\n"
PARAMETERS = {
    "virtual_alias_maps": ["ldap-aliases.cf", "ldap-groups.cf"],
    "smtpd_sender_login_maps": ["ldap-users.cf", "ldap-aliases.cf", "ldap-groups.cf"],
    "virtual_mailbox_maps": ["ldap-users.cf"],
    "relay_recipient_maps": ["ldap-aliases.cf", "ldap-broken.cf"],
}


@pytest.fixture(scope="module")
def container(basic_setup_directory: RunningDirectory, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ROOT of a container copy: etc/postfix/main.cf, vhost and the ldap-*.cf files."""
    if POSTMAP is None:
        pytest.skip("postmap is not installed (Debian: postfix, postfix-ldap)")
    root = tmp_path_factory.mktemp("container")
    config_dir = root / "etc" / "postfix"
    config_dir.mkdir(parents=True)
    write_cool(config_dir / "main.cf", MAIN_CF)
    write_cool(config_dir / "master.cf", "")
    write_cool(config_dir / "vhost", VHOST)
    values = placeholders(basic_setup_directory, config_dir)
    for name, query in FILTERS.items():
        write_cool(config_dir / name, Template(cf(DMS, query_filter=query)).substitute(values))
    return root


def _ours(root: Path, name: str, keys: list[str]) -> list[dict[str, object]]:
    stdin = b"".join(postmap.to_bytes(key) + b"\n" for key in keys)
    code, out, err = ldapdiag(root, [name, "-", "--format", "json"], stdin)
    assert code in (0, 1, 2), err
    return json.loads(out)


@pytest.mark.parametrize("parameter", sorted(PARAMETERS))
def test_parameter_answers_like_postmap_with_its_tables(container: Path, parameter: str) -> None:
    config_dir = container / "etc" / "postfix"
    maps = [f"ldap:{config_dir / name}" for name in PARAMETERS[parameter]]
    ours = _ours(container, parameter, BASIC_KEYS)
    errors = {str(answer["key"]) for answer in ours if answer["error"]}
    oracle = postmap.ask(config_dir, maps, BASIC_KEYS, lambda key: key in errors)
    for mine, theirs in zip(ours, oracle.answers, strict=True):
        assert mine["key"] == theirs.key
        if theirs.status == "error":
            logged = [line.split(": ", 1)[1] for line in theirs.logs]
            assert mine["error"] in logged, (theirs.key, logged, mine)
        elif theirs.status == "found":
            assert (mine["found"], postmap.to_bytes(str(mine["value"]))) == (True, theirs.value), theirs.key
        else:
            assert (mine["found"], mine["error"]) == (False, None), theirs.key
    # the tables' own paths differ (container path vs. the copy), the rest of each line is equal
    theirs_logs = {line.replace(str(container), "") for line in oracle.logs}
    ours_logs = {str(line) for answer in ours for line in answer["warnings"]}  # type: ignore[attr-defined]
    assert {postmap.printable(line, False) for line in ours_logs} == {
        postmap.printable(line, False) for line in theirs_logs
    }


def test_parameter_text_output_equals_postmap(container: Path) -> None:
    config_dir = container / "etc" / "postfix"
    maps = [f"ldap:{config_dir / name}" for name in PARAMETERS["virtual_alias_maps"]]
    result = postmap.run(config_dir, maps, None, BASIC_KEYS)
    stdin = b"".join(postmap.to_bytes(key) + b"\n" for key in BASIC_KEYS)
    code, out, _err = ldapdiag(container, ["virtual_alias_maps", "-"], stdin)
    assert result.fatal is None
    assert (code, out) == (result.returncode, result.stdout) == (0, result.stdout)
    for key in ("team@example.org", "nobody@example.org"):
        single = postmap.run(config_dir, maps, key)
        code, out, _err = ldapdiag(container, ["virtual_alias_maps", key])
        assert (code, out) == (single.returncode, single.stdout)


def test_virtual_mailbox_domains_is_a_string_list(container: Path) -> None:
    """trivial-rewrite matches the domain: vhost's domains first, then the ldap table (as postmap)."""
    config_dir = container / "etc" / "postfix"
    keys = [*DOMAIN_KEYS, "dms.test", "DMS.TEST", "mail.dms.test"]
    ours = _ours(container, "virtual_mailbox_domains", keys)
    oracle = postmap.ask(config_dir, [f"ldap:{config_dir / 'ldap-domains.cf'}"], keys, lambda key: False)
    for mine, theirs in zip(ours, oracle.answers, strict=True):
        if str(mine["key"]).lower() == "dms.test":
            assert (mine["found"], mine["value"]) == (True, "dms.test")
        elif theirs.status == "found":
            assert (mine["found"], postmap.to_bytes(str(mine["value"]))) == (True, theirs.value), theirs.key
        else:
            assert (mine["found"], mine["error"]) == (False, None), theirs.key


def test_empty_parameter_is_one_line_and_exit_2(container: Path) -> None:
    code, out, err = ldapdiag(container, ["canonical_maps", "alice@example.org"])
    assert (code, out) == (2, b"")
    assert err.decode().strip().splitlines() == [
        "ldapdiag: error: canonical_maps is empty in main.cf: there is no table to query"
    ]


def test_unset_parameter_with_empty_default_is_empty_too(container: Path) -> None:
    code, _out, err = ldapdiag(container, ["sender_canonical_maps", "alice@example.org"])
    assert code == 2 and "sender_canonical_maps is empty" in err.decode()
