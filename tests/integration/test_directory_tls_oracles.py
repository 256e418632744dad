"""Does the component connect? ldapdiag's prediction against the real postmap and dovecot.

The same table / dovecot-ldap.conf.ext text goes to the real program and to ldapdiag's policy
derivation; the real program either answers a lookup or fails to connect, and ldapdiag must
predict the same. These are the cases where libldap's behaviour is least obvious: postfix does
not use ldap.conf's TLS_CACERT, and dovecot's tls_require_cert does not govern the host-name check.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from ldapdiag.config.dovecot_conf import parse_dovecot_ldap_ext
from ldapdiag.config.postfix_cf import parse_postfix_cf
from ldapdiag.demo import RunningDirectory
from ldapdiag.directory.directory import Directory
from ldapdiag.directory.ldapconf import read_ldap_conf
from ldapdiag.directory.policies import dovecot_policy, postfix_policy
from ldapdiag.directory.problems import DirectoryProblem
from tests.ldap_server import requires_slapd
from tests.oracles import dovecot as dovecot_oracle
from tests.oracles import postfix as postfix_oracle

pytestmark = requires_slapd
BASE = "dc=example,dc=org"
BIND_DN = "cn=admin,ou=users,dc=example,dc=org"


def ldapdiag_connects(policy) -> bool:
    with Directory(policy) as directory:
        try:
            directory.connect()
        except DirectoryProblem:
            return False
    return True


# --- postfix ----------------------------------------------------------------------------------


def postmap_answers(table: str, ldap_conf: Path) -> bool:
    """`postmap -q alice@example.org ldap:TABLE` with LDAPCONF set: True when it found the user."""
    program = postfix_oracle.require(postfix_oracle.POSTMAP, "postmap")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDAP")}
    env["LDAPCONF"] = str(ldap_conf)
    with tempfile.TemporaryDirectory(prefix="ldapdiag-postmap-") as tmp:
        postfix_oracle._write_cool(Path(tmp) / "main.cf", "")
        path = Path(tmp) / "t.cf"
        postfix_oracle._write_cool(path, table)
        result = subprocess.run(
            [program, "-c", tmp, "-q", "alice@example.org", f"ldap:{path}"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
    if result.returncode == 0:
        assert result.stdout.strip() == "alice"
        return True
    assert "query error" in result.stderr, result.stderr
    return False


def postfix_table(url: str, password: str, extra: str) -> str:
    return (
        f"server_host = {url}\nsearch_base = {BASE}\nbind_dn = {BIND_DN}\nbind_pw = {password}\n"
        f"query_filter = (mail=%s)\nresult_attribute = uid\nversion = 3\ntimeout = 5\n{extra}"
    )


POSTFIX_CASES = [
    # (server fixture, use ldaps, table settings ({ca} = the server's CA file))
    ("basic_setup_directory", False, "start_tls = yes\ntls_require_cert = yes\n"),  # ldap.conf's CA unused
    ("basic_setup_directory", False, "start_tls = yes\ntls_require_cert = yes\ntls_ca_cert_file = {ca}\n"),
    ("basic_setup_directory", True, "tls_require_cert = yes\ntls_ca_cert_file = {ca}\n"),
    ("expired_directory", True, ""),  # tls_require_cert = no: anything goes
    ("expired_directory", True, "tls_require_cert = yes\ntls_ca_cert_file = {ca}\n"),
    ("other_ip_directory", True, "tls_require_cert = yes\ntls_ca_cert_file = {ca}\n"),
    ("other_ip_directory", False, "start_tls = yes\n"),
    ("basic_setup_directory", True, "start_tls = yes\n"),  # StartTLS inside ldaps: "Operations error"
]


@pytest.mark.parametrize(("server", "ldaps", "settings"), POSTFIX_CASES)
def test_postfix_connects_when_postmap_does(
    request: pytest.FixtureRequest, tmp_path: Path, server: str, ldaps: bool, settings: str
) -> None:
    running: RunningDirectory = request.getfixturevalue(server)
    url = running.ldaps_url if ldaps else running.ldap_url
    assert url is not None and running.ca_file is not None
    ldap_conf = tmp_path / "ldap.conf"
    ldap_conf.write_text(f"TLS_CACERT {running.ca_file}\n")  # what a user might expect postfix to use
    table = postfix_table(url, running.password_file.read_text(), settings.format(ca=running.ca_file))
    policy = postfix_policy(parse_postfix_cf(table, "/etc/postfix/t.cf"), read_ldap_conf(ldap_conf))
    assert ldapdiag_connects(policy) is postmap_answers(table, ldap_conf)


# --- dovecot ----------------------------------------------------------------------------------


def dovecot_answers(ldap_text: str) -> bool:
    """`doveadm user alice@example.org` through a throwaway dovecot with this LDAP file."""
    dovecot = dovecot_oracle.require(dovecot_oracle.DOVECOT, "dovecot")
    doveadm = dovecot_oracle.require(dovecot_oracle.DOVEADM, "doveadm")
    user, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    with tempfile.TemporaryDirectory(prefix="ldapdiag-dovecot-") as tmp:
        root = Path(tmp)
        (root / "run").mkdir()
        (root / "state").mkdir()
        (root / "dovecot-ldap.conf.ext").write_text(ldap_text)
        config = root / "dovecot.conf"
        config.write_text(dovecot_oracle._DOVECOT_CONF.format(tmp=tmp, user=user, group=group))
        master = subprocess.Popen([dovecot, "-F", "-c", str(config)], stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while not (root / "run" / "auth-userdb").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            try:
                result = subprocess.run(
                    [doveadm, "-c", str(config), "user", "alice@example.org"],
                    capture_output=True,
                    text=True,
                    timeout=8,
                    check=False,
                )
                code = result.returncode
            except subprocess.TimeoutExpired:  # a StartTLS failure: dovecot keeps trying
                code = -1
            log = (root / "dovecot.log").read_text(errors="replace")
        finally:
            dovecot_oracle._stop(master)
    if code == 0:
        return True
    assert "Can't connect to server" in log or "ldap_start_tls_s() failed" in log, log[-2000:]
    return False


def dovecot_file(url: str, password: str, extra: str) -> str:
    """A dovecot-ldap.conf.ext; `extra` may use {ca}."""
    return (
        f"uris = {url}\nbase = {BASE}\ndn = {BIND_DN}\ndnpass = {password}\n"
        f"user_filter = (mail=%u)\nuser_attrs = =uid=1000,=gid=1000\n{extra}"
    )


DOVECOT_CASES = [
    # (server fixture, use StartTLS, settings)
    (
        "dns_only_directory",
        True,
        "tls = yes\ntls_require_cert = never\ntls_ca_cert_file = {ca}\n",
    ),  # name checked
    ("dns_only_directory", False, "tls_require_cert = never\ntls_ca_cert_file = {ca}\n"),  # second try passes
    ("basic_setup_directory", False, "tls_require_cert = never\n"),  # untrusted CA, right name: accepted
    ("basic_setup_directory", False, ""),  # ldap.conf default demand, CA unknown to the system store
    ("basic_setup_directory", False, "tls_require_cert = demand\ntls_ca_cert_file = {ca}\n"),
]


@pytest.mark.parametrize(("server", "starttls", "settings"), DOVECOT_CASES)
def test_dovecot_connects_when_doveadm_does(
    request: pytest.FixtureRequest, server: str, starttls: bool, settings: str
) -> None:
    running: RunningDirectory = request.getfixturevalue(server)
    assert running.ldaps_url is not None and running.ca_file is not None
    url = running.ldap_url if starttls else running.ldaps_url
    text = dovecot_file(url, running.password_file.read_text(), settings.format(ca=running.ca_file))
    policy = dovecot_policy(
        parse_dovecot_ldap_ext(text, "/etc/dovecot/dovecot-ldap.conf.ext"), read_ldap_conf()
    )
    assert ldapdiag_connects(policy) is dovecot_answers(text)
