"""`--explain`'s ldapsearch commands carry the trust of a component that checks certificates.

A component that verifies the server certificate (dovecot: libldap's TLS_REQCERT demand; saslauthd
with ldap_tls_check_peer: yes) gets `LDAPTLS_CACERT=...` in front of its ldapsearch: ldapdiag's
`--ca-file` when given, else the CA file the component names (saslauthd's ldap_tls_cacert_file).
Pasted into sh against the suite's basic-setup slapd (StartTLS and ldaps, a throwaway CA that no
system bundle holds; tests/ldap_server.py), with no LDAP* setting of its own but
LDAPTLS_REQCERT=demand, each command finds the entries the explanation lists; without the prefix
the same command fails the certificate check, so the prefix is what makes it work.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from click.testing import CliRunner

from ldapdiag.cli import main
from ldapdiag.demo import RunningDirectory
from tests.ldap_server import BASIC_SETUP, dns_of, paste_explained, requires_slapd

pytestmark = requires_slapd


def _queries(args: list[str], directory: RunningDirectory, url: str) -> list[dict]:
    config = ["--no-env", "--env-file", str(BASIC_SETUP / "mailserver.env")]
    config += ["--set", f"LDAP_SERVER_HOST={url}", "--set", "OVERRIDE_HOSTNAME=mail.example.org"]
    result = CliRunner().invoke(main, [*args, "--explain", "--format", "json", *config])
    data = json.loads(result.stdout)
    items = data if isinstance(data, list) else [data]
    return [q for item in items for lookup in item["explain"] for q in lookup["queries"]]


def _works_only_with_the_prefix(query: dict, directory: RunningDirectory, ca_file: Path) -> None:
    command = query["ldapsearch"]
    # (saslauthd's ldap_tls_check_peer: yes is libldap's level hard: LDAPTLS_REQCERT=hard first)
    assert re.match(
        rf"^(LDAPTLS_REQCERT=hard )?LDAPTLS_CACERT={re.escape(str(ca_file))} ldapsearch ", command
    )
    result = paste_explained(command, directory)
    assert result.returncode == 0, f"{command}: {result.stderr}"
    found = dns_of(result.stdout)
    assert found == query["entries"] and found, command
    bare = paste_explained(re.sub(r"LDAPTLS_CACERT=\S+ ", "", command, count=1), directory)
    # libldap (GnuTLS) says "ldap_start_tls: Connect error (-11)" / "Can't contact LDAP server"
    assert bare.returncode != 0 and "dn: " not in bare.stdout, bare


def test_starttls_dovecot_with_ca_file(basic_setup_directory: RunningDirectory) -> None:
    directory = basic_setup_directory
    assert directory.ca_file is not None
    args = ["user", "alice@example.org", "--set", "DOVECOT_TLS=yes", "--ca-file", str(directory.ca_file)]
    queries = _queries(args, directory, directory.ldap_url)
    assert len(queries) == 1 and queries[0]["start_tls"] and " -ZZ " in queries[0]["ldapsearch"]
    _works_only_with_the_prefix(queries[0], directory, directory.ca_file)


def test_ldaps_saslauthd_with_its_own_ca_setting(
    basic_setup_directory: RunningDirectory, tmp_path: Path
) -> None:
    directory = basic_setup_directory
    assert directory.ca_file is not None and directory.ldaps_url is not None
    password = tmp_path / "alice.pw"
    password.write_text("alice-in-wonderland")
    args = ["login", "alice@example.org", "--password-file", str(password)]
    args += [
        "--set",
        "SASLAUTHD_LDAP_TLS_CHECK_PEER=yes",
        "--set",
        f"SASLAUTHD_LDAP_TLS_CACERT_FILE={directory.ca_file}",
    ]
    queries = [q for q in _queries(args, directory, directory.ldaps_url) if q["table"] is None]
    # saslauthd's filter (SASLAUTHD_LDAP_FILTER); dovecot (demand, no CA of this test) sends nothing
    sasl = [q for q in queries if q["filter"] == "(&(mail=alice@example.org)(objectClass=inetOrgPerson))"]
    assert sasl, [q["ldapsearch"] for q in queries]
    _works_only_with_the_prefix(sasl[-1], directory, directory.ca_file)


def test_starttls_dovecot_with_ca_dir(basic_setup_directory: RunningDirectory, tmp_path: Path) -> None:
    """--ca-dir (a hashed CA directory, `openssl rehash`) becomes LDAPTLS_CACERTDIR, which libldap reads;
    without it the same pasted command fails the certificate check."""
    directory = basic_setup_directory
    assert directory.ca_file is not None
    ca_dir = tmp_path / "cas"
    ca_dir.mkdir()
    (ca_dir / "throwaway-ca.pem").write_bytes(directory.ca_file.read_bytes())
    subprocess.run(["openssl", "rehash", str(ca_dir)], check=True, capture_output=True)
    args = ["user", "alice@example.org", "--set", "DOVECOT_TLS=yes", "--ca-dir", str(ca_dir)]
    queries = _queries(args, directory, directory.ldap_url)
    assert len(queries) == 1 and queries[0]["start_tls"]
    command = queries[0]["ldapsearch"]
    # dovecot's own CA file (DMS: the system bundle, which lacks the throwaway CA) stays beside it
    prefix = rf"^(LDAPTLS_CACERT=\S+ )?LDAPTLS_CACERTDIR={re.escape(str(ca_dir))} ldapsearch "
    assert re.match(prefix, command), command
    result = paste_explained(command, directory)
    assert result.returncode == 0, f"{command}: {result.stderr}"
    found = dns_of(result.stdout)
    assert found == queries[0]["entries"] and found, command
    bare = paste_explained(re.sub(r"LDAPTLS_CACERTDIR=\S+ ", "", command, count=1), directory)
    assert bare.returncode != 0 and "dn: " not in bare.stdout, bare
