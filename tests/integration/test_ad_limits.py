"""AD's limits on plain searches (MaxPageSize, MaxValRange): what Samba does, what postfix does.

postfix sends one plain search per lookup: no paged-results control, no range retrieval.
- Samba 4.17 publishes lDAPAdminLimits MaxPageSize=1000 and MaxValRange=1500 in its Default Query
  Policy but enforces neither: a plain search returns all 1600 `member` values of the scenario's
  all-staff group (no `member;range=0-1499`) and all 1600+ entries of `(mail=*@example.org)`
  (real ldapsearch below); postmap and ldapdiag therefore both see every member
  (test_ad_postmap.py). `lint --server` still warns (ad-large-group, ad-page-size): a Windows DC
  would cut both.
- What a Windows DC sends instead is served by tests/fake_ad.py, and there the real postmap and
  `ldapdiag lookup` must agree: postfix takes `member;range=0-1499` as `member` (a subtype,
  attrdesc_subtype()) and expands only those 1500 members; since ldap_get_values_len(entry,
  "member") finds no plain `member`, the group also counts as a leaf and its own mail joins the
  result (leaf_result_attribute = mail). A domain search past MaxPageSize ends in
  sizeLimitExceeded, which postfix takes as a temporary failure ("Search error 4").
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ldapdiag.cli import main
from ldapdiag.demo import RunningDirectory
from tests.differential import postmap
from tests.differential.conftest import MAIN_CF, write_cool
from tests.differential.test_postmap_differential import _error_differs, _ours, _theirs
from tests.fake_ad import FakeAdServer
from tests.oracles.postfix import POSTMAP
from tests.samba_dc import cli_args, requires_samba

BASE = "DC=fake,DC=test"
MEMBERS = 1600
ALL_STAFF = "CN=All Staff,OU=Staff,DC=ad,DC=example,DC=org"


def _samba_search(directory: RunningDirectory, search_filter: str, *attrs: str) -> str:
    args = ["ldapsearch", "-x", "-ZZ", "-LLL", "-o", "ldif-wrap=no", "-H", directory.ldap_url]
    args += [
        "-D",
        directory.bind_dn,
        "-y",
        str(directory.password_file),
        "-b",
        directory.base,
        search_filter,
        *attrs,
    ]
    env = {"LDAPTLS_REQCERT": "never", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@requires_samba
def test_samba_enforces_neither_limit_on_plain_searches(ad_directory: RunningDirectory) -> None:
    group = _samba_search(ad_directory, "(mail=all-staff@example.org)", "member")
    lines = group.splitlines()
    assert sum(1 for line in lines if line.startswith("member: ")) == MEMBERS
    assert not [line for line in lines if line.lower().startswith("member;range=")]
    domain = _samba_search(ad_directory, "(mail=*@example.org)", "1.1")
    assert sum(1 for line in domain.splitlines() if line.startswith("dn: ")) > 1000
    # range retrieval works when asked for (what postfix never does)
    ranged = _samba_search(ad_directory, "(mail=all-staff@example.org)", "member;range=0-99")
    assert sum(1 for line in ranged.splitlines() if line.lower().startswith("member;range=0-99: ")) == 100


@requires_samba
def test_lint_warns_about_windows_limits_on_samba(ad_directory: RunningDirectory) -> None:
    result = CliRunner().invoke(
        main,
        ["lint", *cli_args(ad_directory.ldap_url), "--server", "--format", "json"],
        catch_exceptions=False,
    )
    problems = {p["code"]: p for p in json.loads(result.stdout)["problems"]}
    group = problems["ad-large-group"]
    assert "all-staff@example.org" in group["message"] and "1600 values of member" in group["message"]
    assert "virtual_alias_expansion_limit" in group["message"]
    domain = problems["ad-page-size"]
    assert "example.org" in domain["message"] and "MaxPageSize" in domain["message"]


# --- what a Windows DC sends: tests/fake_ad.py, postmap against ldapdiag ------------------------


def _directory() -> dict[str, dict[str, list[str]]]:
    entries: dict[str, dict[str, list[str]]] = {BASE: {"objectClass": ["domain"]}}
    members = []
    for n in range(1, MEMBERS + 1):
        dn = f"CN=member{n:05d},OU=Staff,{BASE}"
        members.append(dn)
        entries[dn] = {"objectClass": ["contact"], "mail": [f"staff{n:04d}@example.org"]}
    entries[f"CN=Big,{BASE}"] = {"objectClass": ["group"], "mail": ["big@example.org"], "member": members}
    entries[f"CN=Small,{BASE}"] = {
        "objectClass": ["group"],
        "mail": ["small@example.org"],
        "member": members[:2],
    }
    entries[f"CN=Other,{BASE}"] = {"objectClass": ["contact"], "mail": ["x@other.test"]}
    return entries


TABLE = "server_host = {url}\nsearch_base = DC=fake,DC=test\nbind = no\nversion = 3\n"
TABLES = {
    "groups": (
        "query_filter = (&(objectClass=group)(mail=%s))\nresult_attribute = mail\n"
        "leaf_result_attribute = mail\nspecial_result_attribute = member\n",
        ["big@example.org", "small@example.org", "nobody@example.org"],
    ),
    "domains": (
        "query_filter = (mail=*@%s)\nresult_attribute = mail\n",
        ["example.org", "other.test", "none.test"],
    ),
}


@pytest.fixture(scope="module")
def fake_dc() -> Iterator[FakeAdServer]:
    server = FakeAdServer(_directory()).start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def compared(fake_dc: FakeAdServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    if POSTMAP is None:
        pytest.skip("postmap is not installed (Debian: postfix, postfix-ldap)")
    root = tmp_path_factory.mktemp("fake-ad")
    folder = root / "etc" / "postfix"
    folder.mkdir(parents=True)
    write_cool(folder / "main.cf", MAIN_CF["dms"])
    write_cool(folder / "master.cf", "")
    result = {}
    for name, (text, keys) in TABLES.items():
        path = folder / f"{name}.cf"
        write_cool(path, TABLE.format(url=fake_dc.url) + text)
        stdin = "".join(f"{key}\n" for key in keys)
        run = CliRunner().invoke(
            main, ["lookup", "--from-files", str(root), f"ldap:{path}", "-", "--format", "json"], input=stdin
        )
        ours = json.loads(run.stdout)
        errors = {a["key"] for a in ours if a.get("error")}
        theirs = postmap.ask(folder, [f"ldap:{path}"], keys, lambda key, e=errors: key in e)
        result[name] = (ours, theirs, path)
    return result


@pytest.mark.parametrize("name", list(TABLES))
def test_windows_limits_handled_like_postmap(compared: dict[str, tuple], name: str) -> None:
    ours, theirs, _path = compared[name]
    for mine, answer in zip(ours, theirs.answers, strict=True):
        assert _ours(mine) == _theirs(answer), answer.key
        if answer.status == "error":
            assert _error_differs(mine, answer, False) is None
    assert {str(line) for a in ours for line in a["warnings"]} == theirs.logs


def test_ranged_member_expands_1500_members_and_the_group_itself(compared: dict[str, tuple]) -> None:
    ours, _theirs, _path = compared["groups"]
    value = {a["key"]: a.get("value") for a in ours}
    big = str(value["big@example.org"]).split(",")
    staff = [address for address in big if address.startswith("staff")]
    assert len(staff) == 1500 and staff[-1] == "staff1500@example.org"
    assert "big@example.org" in big  # the leaf quirk: no plain `member` on the entry
    assert value["small@example.org"] == "staff0001@example.org,staff0002@example.org"


def test_domain_search_past_max_page_size_is_a_temporary_failure(compared: dict[str, tuple]) -> None:
    ours, theirs, _path = compared["domains"]
    by_key = {a["key"]: a for a in ours}
    assert by_key["example.org"]["error"] and "Search error 4" in str(by_key["example.org"]["error"])
    assert by_key["other.test"]["value"] == "x@other.test"
    assert [a.status for a in theirs.answers] == ["error", "found", "notfound"]


def test_fake_server_really_limits(fake_dc: FakeAdServer, tmp_path: Path) -> None:
    """The stand-in itself, with the real ldapsearch: a plain search is cut, a paged one is not."""
    base = ["ldapsearch", "-x", "-LLL", "-H", fake_dc.url, "-b", BASE]
    plain = subprocess.run(
        [*base, "(mail=*@example.org)", "1.1"], capture_output=True, text=True, check=False
    )
    assert plain.returncode == 4 and plain.stdout.count("dn: ") == 1000
    paged = subprocess.run(
        [*base, "-E", "pr=500/noprompt", "(mail=*@example.org)", "1.1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert paged.stdout.count("dn: ") == MEMBERS + 2  # the contacts and both groups
