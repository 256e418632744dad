"""`ldapdiag audit` on Active Directory: Windows' limits (tests/fake_ad.py) and the Samba AD DC.

Windows limits, served by tests/fake_ad.py with the DMS docs' AD settings (scenarios/active-directory's
mailserver.env and config/ldap-groups.cf, TLS off: the stand-in speaks plain LDAP):
- more than MaxPageSize (1000) entries: a plain search stops at 1000 with sizeLimitExceeded, so the
  audit reads the tables in RFC 2696 pages (the stand-in records every page it served) and reaches
  every entry;
- a group with more than MaxValRange (1500) members comes back as `member;range=0-1499`; postfix
  takes those 1500 and never asks for the rest (test_ad_limits.py proves it with the real postmap).
  The audit reports exactly the groups postfix truncates (1501 and 1600 members, not 1500), and the
  number of members it names is the number the real `postmap -q` expands.

On the Samba AD DC (tests/samba_dc.py), the scenario's README facts: Dave.Davis@ (account dave),
the contacts and empty@ pass postfix and bounce at dovecot's LMTP (sAMAccountName=%n); erin (no
uidNumber) is deferred by LMTP; all-staff@'s 1600 members exceed virtual_alias_expansion_limit;
tests/differential/test_ad_resolve.py checked the same addresses against the real programs.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Iterator
from multiprocessing.queues import SimpleQueue
from pathlib import Path

import pytest
from click.testing import CliRunner

from ldapdiag.cli import main
from ldapdiag.directory.directory import AD_CAPABILITY
from tests.differential import postmap
from tests.differential.conftest import MAIN_CF, write_cool
from tests.fake_ad import FakeAdServer
from tests.oracles.postfix import POSTMAP
from tests.samba_dc import AD_CONFIG, AD_ENV, NamedDc, ad_config, cli_args, requires_samba

BASE = "DC=fake,DC=test"
STAFF = 1600
GROUPS = {"big": STAFF, "edge1501": 1501, "edge1500": 1500, "small": 2}  # mail local part: members
TRUNCATED = {"big@example.org": 1500, "edge1501@example.org": 1500}  # what postfix keeps of `member`
USERS_PRESENCE = "(&(objectclass=person)(mail=*))"
PLAIN = ("LDAP_START_TLS=no", "DOVECOT_TLS=no", "SASLAUTHD_LDAP_START_TLS=no", f"LDAP_SEARCH_BASE={BASE}")


def _directory() -> dict[str, dict[str, list[str]]]:
    """A root DSE saying Active Directory, one account, STAFF contacts, the GROUPS."""
    entries: dict[str, dict[str, list[str]]] = {
        "": {"supportedCapabilities": [AD_CAPABILITY], "defaultNamingContext": [BASE]},
        BASE: {"objectClass": ["domain"]},
        f"CN=alice,CN=Users,{BASE}": {
            "objectClass": ["top", "person", "user"],
            "sAMAccountName": ["alice"],
            "mail": ["alice@example.org"],
            "uidNumber": ["10001"],
        },
    }
    staff = []
    for n in range(1, STAFF + 1):
        dn = f"CN=staff{n:04d},OU=Staff,{BASE}"
        staff.append(dn)
        entries[dn] = {"objectClass": ["top", "person", "contact"], "mail": [f"staff{n:04d}@example.org"]}
    for name, count in GROUPS.items():
        entries[f"CN={name},OU=Groups,{BASE}"] = {
            "objectClass": ["top", "group"],
            "mail": [f"{name}@example.org"],
            "member": staff[:count],
        }
    return entries


class _Pages:
    """FakeAdServer.pages in the server's process: each page served is sent to the test's."""

    def __init__(self, queue: SimpleQueue) -> None:
        self.queue = queue

    def append(self, page: tuple[str, int, int]) -> None:
        self.queue.put(page)


class FakeDcProcess:
    """tests/fake_ad.py's server in a process of its own: ldapdiag's ~8,000 searches then do not wait
    for the server's threads to get this process's GIL (in-process, a third of the audit's time
    went to socket calls waiting for it)."""

    def __init__(self, entries: dict[str, dict[str, list[str]]]) -> None:
        context = multiprocessing.get_context("fork")
        self.server = FakeAdServer(entries)
        self.queue: SimpleQueue = context.SimpleQueue()
        self.process = context.Process(target=self._serve, daemon=True)
        self.pages: list[tuple[str, int, int]] = []

    @property
    def url(self) -> str:
        return self.server.url

    def _serve(self) -> None:
        self.server.pages = _Pages(self.queue)  # type: ignore[assignment]
        self.server._accept()

    def start(self) -> FakeDcProcess:
        self.process.start()
        return self

    def served_pages(self) -> list[tuple[str, int, int]]:
        while not self.queue.empty():
            self.pages.append(self.queue.get())
        return self.pages

    def close(self) -> None:
        self.process.terminate()
        self.process.join(10)
        self.server.close()


def json_lines(text: str) -> tuple[list[dict], dict]:
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines and lines[-1]["type"] == "summary", text[-2000:]
    return lines[:-1], lines[-1]


def findings(lines: list[dict], kind: str) -> dict[str, str]:
    return {a["address"]: f["detail"] for a in lines for f in a["findings"] if f["kind"] == kind}


@pytest.fixture(scope="module")
def windows() -> Iterator[tuple[FakeDcProcess, list[dict], dict, int]]:
    server = FakeDcProcess(_directory()).start()
    try:
        args = cli_args(server.url, *PLAIN)
        result = CliRunner().invoke(main, ["audit", "--format", "json", *args])
        lines, summary = json_lines(result.stdout)
        yield server, lines, summary, result.exit_code
    finally:
        server.close()


def test_audit_pages_past_max_page_size(windows: tuple[FakeDcProcess, list[dict], dict, int]) -> None:
    server, lines, summary, _code = windows
    assert summary["errors"] == [], summary["errors"]
    # users: alice + the contacts; groups: the four groups (aliases: no proxyAddresses here)
    assert summary["entries"] == 1 + STAFF + len(GROUPS)
    assert summary["addresses"] == len(lines) == 1 + STAFF + len(GROUPS)
    users = [(size, start) for filter_, size, start in server.served_pages() if filter_ == USERS_PRESENCE]
    # the users table's filter, key made presence: pages of 500 (below MaxPageSize), every cookie followed
    assert users == [(500, 0), (500, 500), (500, 1000), (500, 1500)]


def test_audit_reports_exactly_the_groups_postfix_truncates(
    windows: tuple[FakeDcProcess, list[dict], dict, int], tmp_path: Path
) -> None:
    server, lines, summary, code = windows
    truncated = findings(lines, "ad-truncated")
    assert set(truncated) == set(TRUNCATED)
    assert summary["findings"]["ad-truncated"] == len(TRUNCATED) and code == 1
    for address, kept in TRUNCATED.items():
        assert f"member;range=0-{kept - 1}" in truncated[address], truncated[address]
        assert f"only those {kept} members" in truncated[address], truncated[address]
    if POSTMAP is None:
        pytest.skip("postmap is not installed (Debian: postfix, postfix-ldap)")
    # the real postmap on the groups table DMS renders: the truncated groups expand to 1500 members
    # (and, with no plain `member` left, the group's own mail as a leaf); the others to all of them
    config = ad_config(server.url, *PLAIN)
    folder = tmp_path / "etc" / "postfix"
    folder.mkdir(parents=True)
    write_cool(folder / "main.cf", MAIN_CF["dms"])
    write_cool(folder / "master.cf", "")
    table = folder / "ldap-groups.cf"
    write_cool(table, config.postfix_tables["/etc/postfix/ldap-groups.cf"].text)
    keys = [f"{name}@example.org" for name in GROUPS]
    answers = postmap.ask(folder, [f"ldap:{table}"], keys, lambda _key: False).answers
    expanded = {a.key: (a.value or b"").decode().split(",") for a in answers}
    for name, count in GROUPS.items():
        address = f"{name}@example.org"
        staff = [value for value in expanded[address] if value.startswith("staff")]
        assert len(staff) == TRUNCATED.get(address, count), address
        assert (address in expanded[address]) is (address in TRUNCATED), address


# --- the Samba AD DC: what the scenario's README says postfix and dovecot do --------------------

SAMBA_FINDINGS = {
    # account dave: LMTP looks up sAMAccountName=Dave.Davis and finds nothing (README "LMTP looks
    # mailboxes up by sAMAccountName"; the real dovecot in test_ad_resolve.py: dave.davis@ bounces)
    ("Dave.Davis@example.org", "bounce"),
    ("Dave.Davis@example.org", "mailbox"),
    # a contact: (objectclass=person) finds it, it has no account (test_ad_resolve: frank@partner.test)
    ("frank@partner.test", "bounce"),
    ("frank@partner.test", "mailbox"),
    # no members: the group answers its own address, which dovecot does not know
    ("empty@example.org", "bounce"),
    ("empty@example.org", "mailbox"),
    # no uidNumber: "Invalid UID value ''", LMTP defers (test_ad_resolve: erin@example.org); the
    # mailbox finding explains the deferral, which is not listed again
    ("erin@example.org", "mailbox"),
    # groups reaching those: team@ (erin, Frank, nested support@), support@ (dave); info@, the
    # proxyAddresses alias of bob and dave (smtp:info@), expands to both: dave's copy bounces
    ("team@example.org", "dangling"),
    ("support@example.org", "dangling"),
    ("info@example.org", "dangling"),
    # 1600 members > virtual_alias_expansion_limit (1000): 451 4.6.0 at DATA (test_ad_resolve);
    # Samba sends all 1600 `member` values to postfix too: nothing is truncated (no ad-truncated)
    ("all-staff@example.org", "defer"),
}


@requires_samba
def test_samba_audit_matches_the_scenario(named_dc: NamedDc) -> None:
    """By the DC's name, its CA trusted: dovecot accepts the certificate, as in test_ad_resolve.py."""
    url = named_dc.url(named_dc.dc.running.ldap_url)
    args = [*cli_args(url, env=AD_ENV, dms_config=AD_CONFIG), "--ca-file", str(named_dc.dc.running.ca_file)]
    # one process: resolving() answers the DC's name in this process only (audit workers would not see it)
    args += ["--jobs", "1"]
    with named_dc.resolving():
        result = CliRunner().invoke(main, ["audit", "--format", "json", *args])
    lines, summary = json_lines(result.stdout)
    assert summary["errors"] == [] and summary["unchecked"] == 0
    found = {(a["address"], f["kind"]) for a in lines for f in a["findings"]}
    contacts = {(f"staff{n:04d}@example.org", kind) for n in range(1, 1601) for kind in ("bounce", "mailbox")}
    assert found == SAMBA_FINDINGS | contacts
    assert result.exit_code == 1 == summary["exit_code"]
    bounce, mailbox = findings(lines, "bounce"), findings(lines, "mailbox")
    # the LMTP reply the README quotes from the real dovecot (test_ad_resolve compares it exactly)
    reply = "550 5.1.1 <Dave.Davis@example.org> User doesn't exist: Dave.Davis@example.org"
    assert reply in bounce["Dave.Davis@example.org"] and reply in mailbox["Dave.Davis@example.org"]
    assert "Dave.Davis@example.org" in findings(lines, "dangling")["info@example.org"]
    assert "4.6.0" in findings(lines, "defer")["all-staff@example.org"]
    # the proxyAddresses aliases (smtp:%s, the prefix taken off) are audited, and deliver
    healthy = {a["address"] for a in lines if not a["findings"]}
    aliases = {"alice.adams@example.org", "postmaster@example.org", "Carol.Cole@example.org"}
    assert {"alice@example.org", "bob@example.org", "carol@example.org"} | aliases <= healthy
    assert {a["found_in"] for a in lines if a["address"] in aliases} == {"aliases"}
