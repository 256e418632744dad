"""The fast path of `lookup MAP -` (postfix/ldap_prefetch.py) answers exactly like one search per key.

Each test asks the same keys twice through `lookup_keys()`: `fast=False` sends one search per key
as postfix's dict_ldap does (the reference), `fast=True` batches them. Every LookupResult (value,
error, and every step: searches with their DNs, values taken, skips, recursion, logged warnings)
must be equal, and the fast path must really have batched (fewer searches in the trace), so the
test can fail. Scenarios: every slapd scenario of scenarios/ with all its postfix maps, and a
10,000-entry directory with planted special cases (bench/data.py): multi-valued mail, duplicate
values on two entries, case variants, `* ( ) \\` in values and keys, unicode, spaces, nested groups
through special_result_attribute, result_format, domain, size_limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.data import INDEXES, write_scenario
from ldapdiag.demo import RunningDirectory, serve_scenario
from ldapdiag.demo.run import demo_config
from ldapdiag.directory.trace import Trace
from ldapdiag.postfix.lookup_command import lookup_keys
from tests.ldap_server import SCENARIOS_DIR, missing_ldap_tools

pytestmark = pytest.mark.skipif(missing_ldap_tools() is not None, reason="slapd is not installed")

SLAPD_SCENARIOS = sorted(
    folder.name
    for folder in SCENARIOS_DIR.iterdir()
    if (folder / "directory.ldif").is_file() and not (folder / "scenario-kind").exists()
)
MAPS = (
    "users",
    "aliases",
    "groups",
    "domains",
    "senders",
    "virtual_alias_maps",
    "virtual_mailbox_maps",
    "smtpd_sender_login_maps",
)
_ADDRESS = re.compile(r"^[A-Za-z]*:+ *([^\s@]*@[^\s]+)\s*$", re.MULTILINE)


def _compare(config: object, map_name: str, keys: list[str]) -> tuple[int, int, bool, bool]:
    """Both paths on the same keys, equal results: (searches plain, fast, any found, all failed)."""
    counts = []
    answers = []
    for fast in (False, True):
        trace = Trace()
        answers.append(lookup_keys(config, map_name, keys, trace=trace, fast=fast))  # type: ignore[arg-type]
        counts.append(sum(1 for event in trace.events if event.operation == "search"))
    plain, fast_answers = answers
    differences = [
        f"{a.key!r}: plain {a.value!r} {a.error!r} | fast {b.value!r} {b.error!r}"
        for a, b in zip(plain, fast_answers, strict=True)
        if a != b
    ]
    assert not differences, f"{map_name}: " + "\n".join(differences[:10])
    return counts[0], counts[1], any(answer.found for answer in plain), all(answer.error for answer in plain)


def _scenario_keys(folder: Path) -> list[str]:
    """Every address of the scenario's LDIF, case variants, their domains, and absent addresses."""
    found = sorted(set(_ADDRESS.findall((folder / "directory.ldif").read_text(encoding="utf-8"))))
    keys = [*found[:20], *(key.upper() for key in found[:6]), *(f"x{key}" for key in found[:6])]
    keys += sorted({key.rsplit("@", 1)[1] for key in found}) + sorted(
        {"@" + key.rsplit("@", 1)[1] for key in found}
    )
    return keys


@pytest.mark.parametrize("name", SLAPD_SCENARIOS)
def test_scenario_maps_answer_alike(name: str) -> None:
    folder = SCENARIOS_DIR / name
    keys = _scenario_keys(folder)
    batched, found = 0, False
    with serve_scenario(folder) as directory:  # StartTLS: some scenarios demand it
        config = demo_config(folder, directory.ldap_url)
        for map_name in MAPS:
            try:
                plain, fast, some, failed = _compare(config, map_name, keys)
            except Exception as error:  # a map this configuration lacks: both paths refuse alike
                if "ldapdiag" not in type(error).__module__:
                    raise
                continue
            batched += plain - fast
            found = found or some
            if failed:  # every lookup fails (really-simple-quoted's base): a few keys say enough
                keys = keys[:4]
    if found:  # (really-simple-quoted: every lookup fails, the keys' own searches say so)
        assert batched > 0, "the fast path never batched: this test would prove nothing"


# ---------------------------------------------------------------------------------------------
# 10,000 entries with planted special cases

TABLES = {
    "users": "query_filter = (&(objectClass=PostfixBookMailAccount)(mail=%s))\nresult_attribute = mail\n",
    "aliases": "query_filter = (mailAlias=%s)\nresult_attribute = mail, uid\n",
    "senders": "query_filter = (|(mail=%s)(mailAlias=%s)(mailGroupMember=%s))\nresult_attribute = uid\n"
    "result_format = owner-%s-%u\n",
    "groups": "query_filter = (&(objectClass=groupOfNames)(mail=%s))\nresult_attribute = mail\n"
    "special_result_attribute = member\nleaf_result_attribute = mail\n",
    "limited": "query_filter = (|(mail=%s)(mailAlias=%s))\nresult_attribute = mail\nsize_limit = 1\n"
    "domain = example.org\n",
    "localpart": "query_filter = (&(uid=%u)(mail=%s))\nsearch_base = ou=users,$base\n"
    "result_attribute = mail\n",
}


@pytest.fixture(scope="module")
def big_directory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningDirectory, list[str], Path]]:
    work = tmp_path_factory.mktemp("fast-path")
    generated = write_scenario(work / "scenario", 10_000)
    sample = [*generated.present[::7], *generated.absent[:600], *generated.special]
    with serve_scenario(generated.folder, tls=False, indexes=INDEXES) as directory:
        yield directory, sample, work


def _table(directory: RunningDirectory, work: Path, name: str) -> Path:
    password = directory.password_file.read_text(encoding="utf-8")
    body = TABLES[name].replace("$base", directory.base)
    text = (
        f"server_host = {directory.ldap_url}\nbind = yes\nbind_dn = {directory.bind_dn}\n"
        f"bind_pw = {password}\nversion = 3\n"
        + ("" if "search_base" in body else f"search_base = {directory.base}\n")
        + body
    )
    path = work / f"{name}.cf"
    path.write_text(text, encoding="utf-8")
    return path


def _config(work: Path) -> object:
    from ldapdiag.config.load import load_config
    from ldapdiag.config.sources import SourceOptions

    root = work / "root" / "etc" / "postfix"
    root.mkdir(parents=True, exist_ok=True)
    (root / "main.cf").write_text("smtputf8_enable = no\ncompatibility_level = 3.6\n", encoding="utf-8")
    return load_config(SourceOptions(from_files=work / "root", use_environment=False), {})


@pytest.mark.parametrize("name", sorted(TABLES))
def test_planted_directory_answers_alike(
    big_directory: tuple[RunningDirectory, list[str], Path], name: str
) -> None:
    directory, sample, work = big_directory
    table = _table(directory, work, name)
    plain, fast, _found, _failed = _compare(_config(work), f"ldap:{table}", sample)
    assert fast < plain / 2, f"{name}: the fast path sent {fast} searches for {plain} keys"


def test_without_the_searches_every_answer_and_log_line_stays(
    big_directory: tuple[RunningDirectory, list[str], Path],
) -> None:
    """searches_shown=False (the text output's lookups) leaves out the search and values steps, and
    nothing else: the same values, errors and steps otherwise, on every planted table."""
    from dataclasses import replace

    directory, sample, work = big_directory
    dropped = 0
    for name in sorted(TABLES):
        table = f"ldap:{_table(directory, work, name)}"
        shown = lookup_keys(_config(work), table, sample)  # type: ignore[arg-type]
        lean = lookup_keys(_config(work), table, sample, searches_shown=False)  # type: ignore[arg-type]
        kept = [
            replace(result, steps=tuple(s for s in result.steps if s.action not in ("search", "values")))
            for result in shown
        ]
        assert lean == kept, name
        dropped += sum(len(a.steps) - len(b.steps) for a, b in zip(shown, lean, strict=True))
    assert dropped > len(sample)  # the steps really were left out


def test_fast_lookup_prints_what_postmap_prints(
    big_directory: tuple[RunningDirectory, list[str], Path],
) -> None:
    """`ldapdiag lookup ldap:FILE -` (fast path) vs the real `postmap -q - ldap:FILE`, byte for byte."""
    from tests.differential import postmap
    from tests.differential.conftest import ldapdiag, write_cool
    from tests.oracles.postfix import POSTMAP

    if POSTMAP is None:
        pytest.skip("postmap is not installed (Debian: postfix, postfix-ldap)")
    directory, sample, work = big_directory
    root = work / "postmap-root"
    config_dir = root / "etc" / "postfix"
    config_dir.mkdir(parents=True, exist_ok=True)
    write_cool(config_dir / "main.cf", "smtputf8_enable = no\ncompatibility_level = 3.6\n")
    write_cool(config_dir / "master.cf", "")
    for name in ("users", "senders", "groups"):
        table = config_dir / f"{name}.cf"
        write_cool(table, _table(directory, work, name).read_text(encoding="utf-8"))
        keys = [key for key in sample if key]  # postmap -q - ends at an empty line
        theirs = postmap.run(config_dir, [f"ldap:{table}"], None, keys)
        assert theirs.fatal is None, theirs.fatal
        stdin = b"".join(postmap.to_bytes(key) + b"\n" for key in keys)
        code, out, _err = ldapdiag(root, [f"ldap:{table}", "-"], stdin)
        assert (code, out) == (theirs.returncode, theirs.stdout), name
        assert out.count(b"\n") > {"groups": 20}.get(name, 500), (
            f"{name}: too few keys found to prove anything"
        )


def test_batches_over_the_servers_size_limit_are_split_and_answer_alike(
    big_directory: tuple[RunningDirectory, list[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """slapd's default sizelimit (500 entries, slapd.conf(5)) cuts a batch of 2,000 keys short: the
    halves are sent once the other batches are in, and every answer stays the per-key search's."""
    from ldapdiag.postfix import ldap_prefetch

    monkeypatch.setattr(ldap_prefetch, "BATCH_SIZE", 2000)
    directory, sample, work = big_directory
    table = _table(directory, work, "users")
    trace = Trace()
    fast = lookup_keys(_config(work), f"ldap:{table}", sample, trace=trace)  # type: ignore[arg-type]
    cut = [event for event in trace.events if event.result == "sizeLimitExceeded"]
    assert cut, "no batch met the size limit: this test would prove nothing"
    plain = lookup_keys(_config(work), f"ldap:{table}", sample, fast=False)  # type: ignore[arg-type]
    assert fast == plain
    assert not trace.faults.faults
