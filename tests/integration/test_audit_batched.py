"""`ldapdiag audit` with batched searches (ldapdiag/audit/batch.py) says exactly what it says
with every search sent on its own (`fast=False`, postfix's and dovecot's one search per key).

Both runs go against the same real slapd: every scenario served by slapd, and the generated
directory with one planted fault of each kind (bench/audit_data.py), where the batches meet every
case the assignment must get right: two entries for one key (dovecot's "multiple entries"),
mixed-case values under caseExactIA5Match, alias loops, group members, renamed logins. Only the
number of LDAP searches and the time may differ; the batched run must send fewer searches (a
fast path that never batched would pass the equality trivially).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.audit_data import INDEXES, write_audit_scenario
from ldapdiag.audit import batch
from ldapdiag.audit.batch import ChunkPrefetch
from ldapdiag.audit.command import run_audit
from ldapdiag.config.load import load_config
from ldapdiag.config.sources import SourceOptions
from ldapdiag.demo import RunningDirectory, serve_scenario
from ldapdiag.demo.run import demo_overrides
from ldapdiag.directory.directory import Directory
from ldapdiag.directory.filters import encode
from tests.ldap_server import SCENARIOS_DIR, requires_slapd

pytestmark = requires_slapd

MAILBOXES = 600  # more than two chunks (batch.CHUNK) of addresses
SLAPD_SCENARIOS = sorted(
    p.name
    for p in SCENARIOS_DIR.iterdir()
    if (p / "mailserver.env").is_file() and p.name != "active-directory"
)


def audit(
    env_file: Path, sets: list[str], fast: bool, capsys: pytest.CaptureFixture[str]
) -> tuple[list, dict, int]:
    """One in-process audit: the address lines, the summary line, the exit code."""
    config = load_config(SourceOptions(env_files=(env_file,), use_environment=False, sets=tuple(sets)), {})
    capsys.readouterr()
    code = run_audit(config, output_format="json", fast=fast)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    summary = lines[-1]
    assert summary["type"] == "summary"
    return lines[:-1], summary, code


def same_results(env_file: Path, sets: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[dict, dict]:
    slow_lines, slow, slow_code = audit(env_file, sets, False, capsys)
    fast_lines, fast, fast_code = audit(env_file, sets, True, capsys)
    assert fast_lines == slow_lines
    assert fast_code == slow_code
    times = ("ldap_searches", "seconds")
    assert {k: v for k, v in fast.items() if k not in times} == {
        k: v for k, v in slow.items() if k not in times
    }
    return slow, fast


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, RunningDirectory]]:
    folder = write_audit_scenario(tmp_path_factory.mktemp("batched") / "generated", MAILBOXES)
    with serve_scenario(folder, indexes=INDEXES, size_limit="unlimited") as directory:
        yield folder, directory


def test_planted_faults_same_with_and_without_batches(
    generated: tuple[Path, RunningDirectory], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, directory = generated
    slow, fast = same_results(folder / "mailserver.env", [f"LDAP_SERVER_HOST={directory.ldap_url}"], capsys)
    assert slow["addresses"] > 2 * 250 and slow["broken"] > 0
    assert fast["ldap_searches"] * 3 < slow["ldap_searches"]  # the batches answered most searches


def test_a_table_opened_twice_shares_its_batches(
    generated: tuple[Path, RunningDirectory],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """virtual_alias_maps' tables are opened twice (as maps, and as match lists of
    virtual_alias_domains = $virtual_alias_maps): within one round of batches, no batch search is
    sent twice (each answer goes to both tables)."""
    rounds: list[list[tuple[object, ...]]] = []
    opened: set[tuple[str, bool]] = set()
    postfix_round, search_many = ChunkPrefetch._postfix, Directory.search_many

    def one_round(self: ChunkPrefetch, keys: list[str], specs: frozenset[str] | None = None) -> set[str]:
        rounds.append([])
        opened.update(self.engine.factory._opened)
        return postfix_round(self, keys, specs)

    def sent(self: Directory, searches: list, window: int = 4) -> list:
        if rounds:
            key = self.policy.connection_key()
            rounds[-1] += [(key, s.base, encode(s.node), tuple(s.attributes)) for s in searches]
        return search_many(self, searches, window)

    monkeypatch.setattr(ChunkPrefetch, "_postfix", one_round)
    monkeypatch.setattr(Directory, "search_many", sent)
    folder, directory = generated
    audit(folder / "mailserver.env", [f"LDAP_SERVER_HOST={directory.ldap_url}"], True, capsys)
    specs = [spec for spec, _fold in opened]
    assert len(specs) > len(set(specs))  # a table file is opened twice
    assert sum(map(len, rounds)) > 10
    for searches in rounds:
        assert len(searches) == len(set(searches))


def test_passdb_and_userdb_share_their_batches(
    generated: tuple[Path, RunningDirectory],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """dovecot's passdb and userdb send the same filter (DOVECOT_PASS_FILTER defaults to
    DOVECOT_USER_FILTER) for the IMAP login, the LMTP name and the name the login is renamed to
    (pass_attrs uid=user): one set of batches answers all three, so within one round an entry
    comes back once (twice only for a login renamed to something other than its local part)."""
    rounds: list[list[str]] = []
    dovecot_round, search_many = ChunkPrefetch._dovecot, Directory.search_many

    def one_round(self: ChunkPrefetch, recipients: list[str], logins: list[str]) -> None:
        rounds.append([])
        dovecot_round(self, recipients, logins)

    def sent(self: Directory, searches: list, window: int = 4) -> list:
        outcomes = search_many(self, searches, window)
        if rounds and self.policy.component == "dovecot":
            rounds[-1] += [entry.dn for outcome in outcomes for entry in outcome.entries]
        return outcomes

    monkeypatch.setattr(ChunkPrefetch, "_dovecot", one_round)
    monkeypatch.setattr(Directory, "search_many", sent)
    folder, directory = generated
    audit(folder / "mailserver.env", [f"LDAP_SERVER_HOST={directory.ldap_url}"], True, capsys)
    returned = sum(map(len, rounds))
    again = sum(len(dns) - len(set(dns)) for dns in rounds)
    assert returned > MAILBOXES  # every mailbox's entry came back from a batch
    assert again < returned // 50, f"{again} of {returned} entries came back twice in a round"


def test_alias_targets_are_fetched_from_the_alias_tables_only(
    generated: tuple[Path, RunningDirectory],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """cleanup asks virtual_alias_maps again for each target of an alias or a group; the mailbox
    map is asked for the addresses smtpd receives. With room for fewer answers than a directory's
    users (a large directory), each mailbox's entry still comes back from the batches about once,
    not once more as some group's member."""
    users: list[str] = []
    search_many = Directory.search_many

    def sent(self: Directory, searches: list, window: int = 4) -> list:
        outcomes = search_many(self, searches, window)
        for spec, outcome in zip(searches, outcomes, strict=True):
            if "mailAlias" not in encode(spec.node) and "mailGroupMember" not in encode(spec.node):
                users.extend(entry.dn for entry in outcome.entries if self.policy.component == "postfix")
        return outcomes

    monkeypatch.setattr(batch, "TABLE_ANSWERS", 300)
    monkeypatch.setattr(Directory, "search_many", sent)
    folder, directory = generated
    audit(folder / "mailserver.env", [f"LDAP_SERVER_HOST={directory.ldap_url}"], True, capsys)
    assert len(set(users)) > MAILBOXES // 2
    assert len(users) < 1.1 * len(set(users)), f"{len(users)} entries for {len(set(users))} mailboxes"


@pytest.mark.parametrize("name", SLAPD_SCENARIOS)
def test_scenario_same_with_and_without_batches(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    folder = SCENARIOS_DIR / name
    with serve_scenario(folder) as directory:
        sets = list(demo_overrides(folder / "mailserver.env", directory.ldap_url))
        same_results(folder / "mailserver.env", sets, capsys)
