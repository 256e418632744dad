"""`ldapdiag lookup` against the real `postmap -q` on the seed's AD maps, served by a Samba AD DC.

The tables are the ones ldapdiag renders from scenarios/active-directory/mailserver.env and its
config/ldap-groups.cf (the user-patches.sh lines), plus variants of one setting each. For every
key both answers (value, not found, or the temporary failure and postfix's warnings) and the
`postmap -q -` output must be equal. What the real postmap showed on Samba 4.17:

- every subtree search from the domain root also returns a search reference
  (ldap://ad.example.org/CN=Configuration,...): postfix does not chase it (chase_referrals = no)
  and the answers and their timing are unaffected;
- groups expand through `member` DNs (special_result_attribute), nested groups recursively, a
  group without members answers its own address (leaf_result_attribute), members without mail
  add nothing; the 1600-member group expands to all 1600 addresses: Samba returns every value of
  `member` in one plain search (no `member;range=0-1499` as Windows DCs send; see
  tests/integration/test_ad_limits.py);
- proxyAddresses matches case-insensitively: `smtp:%s` also finds the `SMTP:` primary address,
  `SMTP:%s` the `smtp:` aliases; the result is the entry's mail;
- `(memberOf=cn=Domain Admins,cn=Users,dc=*)` DOES match on Samba (its DN values take substring
  filters as strings), so Domain Admins own every sender; the full DN and the in-chain matching
  rule (1.2.840.113556.1.4.1941) give the same owners;
- without TLS every lookup is a temporary failure (bind refused: Strong(er) authentication).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from ldapdiag.cli import main
from ldapdiag.demo import RunningDirectory
from tests.differential import postmap
from tests.differential.conftest import MAIN_CF, write_cool
from tests.differential.test_postmap_differential import _error_differs, _ours, _theirs
from tests.oracles.postfix import POSTMAP
from tests.samba_dc import AD_CONFIG, ad_config, requires_samba

pytestmark = requires_samba
DA = "CN=Domain Admins,CN=Users,DC=ad,DC=example,DC=org"
UPPER = "(&(objectclass=person)(proxyAddresses=SMTP:%s))"
SENDERS, ALIAS = "LDAP_QUERY_FILTER_SENDERS", "LDAP_QUERY_FILTER_ALIAS"

USER_KEYS = [
    "alice@example.org", "ALICE@EXAMPLE.ORG", "dave.davis@example.org", "Dave.Davis@Example.org",
    "erin@example.org", "frank@partner.test", "staff0001@example.org", "team@example.org",
    "nobody@example.org", "alice", "alice@ad.example.org", "administrator@example.org", "",
    "@example.org", "*@example.org", "alice+x@example.org", "svc-backup@example.org", "(x)@example.org",
]  # fmt: skip
ALIAS_KEYS = [
    "alice.adams@example.org", "ALICE.ADAMS@example.org", "postmaster@example.org", "info@example.org",
    "Carol.Cole@example.org", "carol.cole@example.org", "alice@example.org", "sip:alice@example.org",
    "smtp:alice@example.org", "frank@partner.test", "team@example.org", "nobody@example.org", "alice",
    "c=US;a= ;p=Example;o=Mail;s=Evans;g=Erin;", "*@example.org",
]  # fmt: skip
GROUP_KEYS = [
    "team@example.org", "Team@Example.org", "support@example.org", "empty@example.org",
    "all-staff@example.org", "alice@example.org", "nobody@example.org", "team",
]  # fmt: skip
DOMAIN_KEYS = ["example.org", "EXAMPLE.ORG", "partner.test", "ad.example.org", "other.test", "", "*"]
SENDER_KEYS = [
    "alice@example.org", "bob@example.org", "info@example.org", "nobody@example.org", "team@example.org",
    "alice.adams@example.org", "frank@partner.test", "someone@other.test", "Dave.Davis@example.org",
]  # fmt: skip


@dataclass(frozen=True)
class Table:
    """One ldap_table file: which DMS map it is, the variables changed, the keys."""

    name: str
    map: str
    keys: list[str]
    sets: tuple[str, ...] = ()
    ldaps: bool = False


TABLES = [
    Table("users", "users", USER_KEYS),
    Table("aliases", "aliases", ALIAS_KEYS),
    Table("groups", "groups", GROUP_KEYS),
    Table("domains", "domains", DOMAIN_KEYS),
    Table("senders", "senders", SENDER_KEYS),
    Table("senders-full-dn", "senders", SENDER_KEYS, (f"{SENDERS}=(|(mail=%s)(memberOf={DA}))",)),
    Table(  # narrowed by objectClass: a bare OR'd in-chain term costs ~2 s per lookup on Samba
        "senders-in-chain",
        "senders",
        SENDER_KEYS,
        (f"{SENDERS}=(|(mail=%s)(&(objectClass=user)(memberOf:1.2.840.113556.1.4.1941:={DA})))",),
    ),
    Table("aliases-SMTP", "aliases", ALIAS_KEYS, (f"{ALIAS}={UPPER}",)),
    Table("users-ldaps", "users", USER_KEYS[:6], ("LDAP_START_TLS=no",), ldaps=True),
    Table("users-plain", "users", USER_KEYS[:4], ("LDAP_START_TLS=no",)),
    Table("groups-without-patch", "groups", GROUP_KEYS, ()),
]  # fmt: skip
NAMES = [table.name for table in TABLES]


@dataclass
class Compared:
    table: Table
    root: Path
    path: Path
    ours: list[dict[str, object]]
    theirs: postmap.Oracle
    postmap_seconds: float


def _write(table: Table, directory: RunningDirectory, tmp: Path) -> tuple[Path, Path]:
    url = directory.ldaps_url if table.ldaps else directory.ldap_url
    dms_config = None if table.name == "groups-without-patch" else AD_CONFIG
    config = ad_config(url or "", *table.sets, dms_config=dms_config)
    root = tmp / table.name
    folder = root / "etc" / "postfix"
    folder.mkdir(parents=True)
    write_cool(folder / "main.cf", MAIN_CF["dms"])
    write_cool(folder / "master.cf", "")
    path = folder / f"ldap-{table.map}.cf"
    write_cool(path, config.postfix_tables[f"/etc/postfix/ldap-{table.map}.cf"].text)
    return root, path


@pytest.fixture(scope="module")
def compared(ad_directory: RunningDirectory, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Compared]:
    if POSTMAP is None:
        pytest.skip("postmap is not installed (Debian: postfix, postfix-ldap)")
    tmp = tmp_path_factory.mktemp("ad-postmap")
    result = {}
    for table in TABLES:
        root, path = _write(table, ad_directory, tmp)
        stdin = b"".join(postmap.to_bytes(key) + b"\n" for key in table.keys)
        run = CliRunner().invoke(
            main, ["lookup", "--from-files", str(root), f"ldap:{path}", "-", "--format", "json"], input=stdin
        )
        ours = json.loads(run.stdout)
        errors = {str(a["key"]) for a in ours if a.get("error")}
        begin = time.monotonic()
        theirs = postmap.ask(path.parent, [f"ldap:{path}"], table.keys, lambda key, e=errors: key in e)
        result[table.name] = Compared(table, root, path, ours, theirs, time.monotonic() - begin)
    return result


@pytest.mark.parametrize("name", NAMES)
def test_each_key_answers_like_postmap(compared: dict[str, Compared], name: str) -> None:
    item = compared[name]
    differences = []
    for mine, answer in zip(item.ours, item.theirs.answers, strict=True):
        if _ours(mine) != _theirs(answer):
            differences.append(
                f"{answer.key!r}: postmap {_theirs(answer)} {answer.error} | ldapdiag {_ours(mine)}"
            )
        elif answer.status == "error" and (why := _error_differs(mine, answer, False)):
            differences.append(f"{answer.key!r}: {why}")
    assert not differences, "\n".join(differences)
    ours_logged = {str(line) for a in item.ours for line in a["warnings"]}  # type: ignore[attr-defined]
    assert ours_logged == item.theirs.logs


def _values(item: Compared) -> dict[str, str | None]:
    return {str(a["key"]): (str(a["value"]) if a.get("found") else None) for a in item.ours}


def _set(value: str | None) -> set[str]:
    """A value's addresses (the server's entry order is not stable: only postmap's must be equal)."""
    return set(value.split(",")) if value else set()


def test_groups_expand_member_dns_nested_and_empty(compared: dict[str, Compared]) -> None:
    values = _values(compared["groups"])
    team = set(str(values["team@example.org"]).split(","))
    assert team == {
        "alice@example.org", "bob@example.org", "erin@example.org", "frank@partner.test",
        "carol@example.org", "Dave.Davis@example.org",  # through the nested Support group
    }  # fmt: skip
    assert values["empty@example.org"] == "empty@example.org"
    staff = str(values["all-staff@example.org"]).split(",")
    assert len(staff) == len(set(staff)) == 1600
    without_patch = _values(compared["groups-without-patch"])
    assert without_patch["team@example.org"] == "team@example.org"  # the group's own mail only


def test_proxy_addresses_prefix_is_case_insensitive(compared: dict[str, Compared]) -> None:
    lower, upper = _values(compared["aliases"]), _values(compared["aliases-SMTP"])
    assert {k: _set(v) for k, v in lower.items()} == {k: _set(v) for k, v in upper.items()}
    assert lower["alice@example.org"] == "alice@example.org"  # SMTP: primary, found by smtp:%s
    assert _set(lower["info@example.org"]) == {"bob@example.org", "Dave.Davis@example.org"}
    assert lower["carol.cole@example.org"] == "carol@example.org"
    assert lower["sip:alice@example.org"] is None and lower["smtp:alice@example.org"] is None


def test_memberof_substring_matches_on_samba_like_the_full_dn(compared: dict[str, Compared]) -> None:
    seed = _values(compared["senders"])
    assert seed["nobody@example.org"] == "alice@example.org"  # alice is a Domain Admin
    assert _set(seed["bob@example.org"]) == {"alice@example.org", "bob@example.org"}
    for variant in ("senders-full-dn", "senders-in-chain"):
        values = _values(compared[variant])
        assert values["nobody@example.org"] == "alice@example.org"
        assert values["someone@other.test"] == "alice@example.org"


def test_without_tls_every_lookup_fails(compared: dict[str, Compared]) -> None:
    item = compared["users-plain"]
    assert all(answer.status == "error" for answer in item.theirs.answers)
    assert any("Strong(er) authentication required" in line for line in item.theirs.logs)


def test_search_references_neither_break_nor_slow_lookups(compared: dict[str, Compared]) -> None:
    steps = [step for a in compared["users"].ours for step in a["steps"]]  # type: ignore[attr-defined]
    notes = [s["detail"] for s in steps if "reference" in str(s.get("detail", ""))]
    assert notes and all("not followed" in note for note in notes)
    item = compared["aliases"]
    assert item.postmap_seconds < 10, item.postmap_seconds  # 15 keys; a chased reference would hang
