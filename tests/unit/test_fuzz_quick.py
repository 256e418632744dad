"""A quick run of bench/fuzz.py: every parser ends in a result or its clean error (exit 2).

The full run is `.venv/bin/python -m bench.fuzz --count 100000`; this one feeds 2,000 mutated
inputs (fixed seed) and a few through the real CLI, plus the crashes the fuzzer found once.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bench import fuzz
from ldapdiag.config.envfile import expand_escapes
from ldapdiag.config.postfix_cf import parse_postfix_cf


@pytest.mark.parametrize("target", fuzz.targets(), ids=lambda t: t.name)
def test_parser_outcomes_are_clean(target: fuzz.Target, tmp_path: Path) -> None:
    stats = fuzz.fuzz_target(target, 200, random.Random(f"quick-{target.name}"), tmp_path)
    assert stats.crashes == [], stats.crashes[0][1]
    assert stats.parsed and stats.rejected  # the mutations reach both outcomes


def test_cli_outcomes_are_clean(tmp_path: Path) -> None:
    seeds = {t.name: t.seeds for t in fuzz.targets()}
    stats = fuzz.fuzz_cli(len(fuzz.CLI_CASES), random.Random(7), tmp_path, seeds)
    assert stats.failures == []
    assert stats.runs == len(fuzz.CLI_CASES)


def test_found_crash_ldap_table_line_starting_with_equals() -> None:
    """A table line `= 3`: postfix refuses the file ("missing attribute name"), no IndexError."""
    conf = parse_postfix_cf("bind = no\n= 3\n", "/etc/postfix/ldap-users.cf", tolerant=True)
    assert conf.refused is not None and "missing attribute name" in conf.refused


def test_found_crash_env_escape_that_go_does_not_know() -> None:
    """`\\c` in a double-quoted env value: strconv.UnquoteChar fails, compose-go keeps it as is."""
    assert expand_escapes("a\\cb\\n") == "a\\cb\n"
