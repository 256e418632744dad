"""An attribute the server sends twice in one entry: ldapdiag answers what `postmap -q` and
`doveadm user` answer.

slapd sends an attribute twice in one search result entry when slapadd loaded an LDIF naming it
on non-adjacent lines. libldap's callers walk every copy (ldap_first/next_attribute) but
ldap_get_values_len() returns the first copy's values each time, so postfix answers `a,a`, not
`a,b` (and not `b`, what ldap3's dict of attributes kept). The directory is basic-setup with
alice's `mail` repeated after her first `mailAlias`; ldapsearch shows the two copies apart.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ldapdiag.config.load import load_config
from ldapdiag.config.model import MailServerConfig
from ldapdiag.config.sources import SourceOptions
from ldapdiag.demo import RunningDirectory, load_scenario, serve_scenario
from ldapdiag.directory.trace import Trace
from ldapdiag.dovecot.engine import DovecotAuth, directory_factory
from ldapdiag.dovecot.lmtp import lmtp_rcpt
from ldapdiag.postfix.lookup_command import lookup_keys
from tests.differential import postmap
from tests.differential.conftest import ldapdiag, write_cool
from tests.ldap_server import BASIC_SETUP, SCENARIOS_DIR, missing_ldap_tools
from tests.oracles.dovecot import (
    DOVEADM,
    DOVECOT,
    EXIT_RESULTS,
    DovecotSandbox,
    passdb_result,
    sandbox_settings,
)
from tests.oracles.postfix import POSTMAP

pytestmark = [
    pytest.mark.skipif(missing_ldap_tools() is not None, reason="slapd is not installed"),
    pytest.mark.skipif(POSTMAP is None, reason="postmap is not installed (Debian: postfix, postfix-ldap)"),
]

FIRST = "mail: alice@example.org\nmailAlias: alice.adams@example.org\n"
REPEATED = FIRST + "mail: alice.second@example.org\n"
TABLES = {
    "by-mail": "query_filter = (mail=%s)\nresult_attribute = mail\n",
    "by-alias": "query_filter = (mailAlias=%s)\nresult_attribute = mail, mailAlias\n",
    "format": "query_filter = (|(mail=%s)(uid=%u))\nresult_attribute = mail\nresult_format = <%s>\n",
}
KEYS = [
    "alice@example.org",
    "alice.second@example.org",
    "alice.adams@example.org",
    "info@example.org",
    "bob@example.org",
    "alice",
    "nobody@example.org",
]


@pytest.fixture(scope="module")
def repeated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningDirectory, Path]]:
    work = tmp_path_factory.mktemp("repeated")
    folder = work / "scenario"
    shutil.copytree(SCENARIOS_DIR / "basic-setup", folder)
    ldif = folder / "directory.ldif"
    text = ldif.read_text(encoding="utf-8")
    assert FIRST in text
    ldif.write_text(text.replace(FIRST, REPEATED, 1), encoding="utf-8")
    with serve_scenario(folder, tls=False) as directory:
        yield directory, work


def _root(directory: RunningDirectory, work: Path) -> Path:
    root = work / "root"
    config_dir = root / "etc" / "postfix"
    if not config_dir.is_dir():
        config_dir.mkdir(parents=True)
        write_cool(config_dir / "main.cf", "smtputf8_enable = no\ncompatibility_level = 3.6\n")
        write_cool(config_dir / "master.cf", "")
        password = directory.password_file.read_text(encoding="utf-8")
        for name, lines in TABLES.items():
            write_cool(
                config_dir / f"{name}.cf",
                f"server_host = {directory.ldap_url}\nsearch_base = {directory.base}\nbind = yes\n"
                f"bind_dn = {directory.bind_dn}\nbind_pw = {password}\nversion = 3\n{lines}",
            )
    return root


def test_the_server_sends_the_attribute_twice(repeated: tuple[RunningDirectory, Path]) -> None:
    """The premise: slapd really sends `mail` twice in alice's entry (else the tests prove nothing)."""
    directory, _work = repeated
    proc = subprocess.run(
        [
            *("ldapsearch", "-x", "-LLL", "-H", directory.ldap_url, "-D", directory.bind_dn),
            *("-y", str(directory.password_file), "-b", directory.base, "(uid=alice)", "mail", "mailAlias"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines.count("mail: alice@example.org") == 1
    mail = [i for i, line in enumerate(lines) if line.startswith("mail:")]
    assert len(mail) == 2 and mail[1] - mail[0] > 1, proc.stdout


@pytest.mark.parametrize("name", sorted(TABLES))
@pytest.mark.parametrize("fast", [False, True], ids=["per-key", "batched"])
def test_lookup_prints_what_postmap_prints(
    repeated: tuple[RunningDirectory, Path], name: str, fast: bool
) -> None:
    directory, work = repeated
    root = _root(directory, work)
    table = root / "etc" / "postfix" / f"{name}.cf"
    theirs = postmap.run(table.parent, [f"ldap:{table}"], None, KEYS)
    assert theirs.fatal is None, theirs.fatal
    if fast:
        stdin = b"".join(postmap.to_bytes(key) + b"\n" for key in KEYS)
        code, out, _err = ldapdiag(root, [f"ldap:{table}", "-"], stdin)
        assert (code, out) == (theirs.returncode, theirs.stdout)
    else:  # one search per key, as postmap sends them
        config = load_config(SourceOptions(from_files=root, use_environment=False), {})
        results = lookup_keys(config, f"ldap:{table}", KEYS, fast=False)
        out = "".join(f"{r.key}\t{r.value}\n" for r in results if r.value is not None).encode()
        assert out == theirs.stdout
    if name == "by-mail":
        assert b"alice@example.org,alice@example.org\n" in theirs.stdout  # the first copy, twice


USER_ATTRS = "mail=x_mail,mailAlias=x_alias,=home=/var/mail/%{ldap:mail},uidNumber=uid,gidNumber=gid"
PASS_ATTRS = "uid=user,userPassword=password,mail=x_mail"


@pytest.fixture(scope="module")
def dovecot_pair(
    repeated: tuple[RunningDirectory, Path],
) -> Iterator[tuple[MailServerConfig, DovecotSandbox]]:
    """A real dovecot whose user_attrs and pass_attrs ask for the repeated `mail`, and its configuration."""
    directory, _work = repeated
    sets = (
        f"LDAP_SERVER_HOST={directory.ldap_url}",
        f"LDAP_BIND_PW__FILE={directory.password_file}",
        f"DOVECOT_USER_ATTRS={USER_ATTRS}",
        f"DOVECOT_PASS_ATTRS={PASS_ATTRS}",
    )
    options = SourceOptions(env_files=(BASIC_SETUP / "mailserver.env",), use_environment=False, sets=sets)
    config = load_config(options, {})
    assert config.dovecot_ldap is not None
    with DovecotSandbox(config.dovecot_ldap.text, sandbox_settings(config.dovecot_main)) as real:
        yield config, real


NAMES = ("alice@example.org", "bob@example.org")


@pytest.mark.skipif(DOVECOT is None or DOVEADM is None, reason="dovecot-core/dovecot-ldap is not installed")
@pytest.mark.parametrize("name", NAMES)
def test_dovecot_answers_as_ldapdiag_predicts(
    dovecot_pair: tuple[MailServerConfig, DovecotSandbox], name: str
) -> None:
    """dovecot 2.3's auth process dies on an entry with a repeated attribute it asked for (the hash.c
    assertion in get_ldap_fields()): doveadm user, LMTP RCPT, doveadm auth test and login answer as
    ldapdiag predicts. bob's entry, without a repeat, is the control."""
    config, real = dovecot_pair
    factory = directory_factory(Trace(), max_wait=30)
    password = load_scenario(BASIC_SETUP).user_passwords[name.split("@")[0]]  # by uid
    with DovecotAuth(config, factory) as engine:
        predicted = engine.user(name, service="lmtp")
        passdb, _request = engine.verify(name, password, service="imap")
        login = engine.login(name, password, service="imap")
    answer = real.user(name)
    assert (predicted.result, predicted.fields) == (EXIT_RESULTS.get(answer.exit_code), answer.fields), (
        answer.stdout,
        answer.log[-3:],
    )
    assert lmtp_rcpt(config, factory, name).reply == real.lmtp_rcpt(name)
    test = real.auth("test", name, password)
    real_passdb = "ok" if test.exit_code == 0 else passdb_result(test.log)
    if "code=temp_fail" in test.stdout or "temp" in test.fields:  # the auth process died: "temp"
        real_passdb = "internal_failure"
    assert passdb.result == real_passdb, (test.stdout, test.log[-3:])
    assert login.imap_login == (real.auth("login", name, password).exit_code == 0)
    crashed = any("hash_table_insert_node" in line for line in answer.log)
    assert crashed == (name == "alice@example.org") == (predicted.result == "internal_failure")
