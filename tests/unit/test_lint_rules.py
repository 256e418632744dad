"""Every configuration-only lint rule: a failing and a passing case (tests/data/lint/cases.yaml).

Each case layers a few variables over the DMS defaults (tests/data/lint/dms-defaults.env), loads
the configuration the way `ldapdiag lint` does and compares the problems of one rule. The
expectations come from the sources named in each case's `source`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ldapdiag.config.load import load_config
from ldapdiag.config.model import MailServerConfig
from ldapdiag.config.sources import SourceOptions
from ldapdiag.directory.ldapconf import read_ldap_conf
from ldapdiag.lint.problem import LintProblem
from ldapdiag.lint.rules import RULES, all_codes
from ldapdiag.lint.runner import lint_config

DATA = Path(__file__).parent.parent / "data" / "lint"
DEFAULTS = DATA / "dms-defaults.env"
CASES: list[dict[str, Any]] = yaml.safe_load((DATA / "cases.yaml").read_text())


def load_case(tmp_path: Path, case: dict[str, Any]) -> MailServerConfig:
    """The configuration of one case: the defaults minus `unset`, plus `env`, plus `dms_config`."""
    unset = set(case.get("unset", ()))
    base = [line for line in DEFAULTS.read_text().splitlines() if line.split("=", 1)[0] not in unset]
    base_file = tmp_path / "base.env"
    base_file.write_text("\n".join(base) + "\n")
    case_file = tmp_path / "case.env"
    case_file.write_text(case.get("env", "") + "\n")
    dms_config = None
    if case.get("dms_config"):
        dms_config = tmp_path / "config"
        dms_config.mkdir()
        for name, text in case["dms_config"].items():
            (dms_config / name).write_text(text)
    options = SourceOptions(env_files=(base_file, case_file), use_environment=False, dms_config=dms_config)
    return load_config(options, {})


def problems_of(tmp_path: Path, entry: dict[str, Any], case: dict[str, Any]) -> list[LintProblem]:
    config = load_case(tmp_path, case)
    result = lint_config(config, dms_version=entry.get("dms_version", 15), ldap_conf=read_ldap_conf())
    return [p for p in result.problems if p.code == entry["code"]]


def case_id(entry: dict[str, Any]) -> str:
    return entry["code"]


@pytest.mark.parametrize("entry", CASES, ids=case_id)
def test_fails(tmp_path: Path, entry: dict[str, Any]) -> None:
    found = problems_of(tmp_path, entry, entry["fail"])
    assert [p.level for p in found] == entry["fail"]["expect"], [p.message for p in found]
    wanted = entry["fail"]["message"]
    assert any(wanted in p.message or wanted in p.hint for p in found), [p.message for p in found]


@pytest.mark.parametrize("entry", CASES, ids=case_id)
def test_passes(tmp_path: Path, entry: dict[str, Any]) -> None:
    found = problems_of(tmp_path, entry, entry["pass"])
    assert found == [], [p.message for p in found]


def test_every_configuration_rule_has_a_case() -> None:
    covered = {entry["code"] for entry in CASES}
    offline = {code for rule in RULES if not rule.SERVER for code in rule.CODES}
    assert offline <= covered, sorted(offline - covered)


def test_codes_are_unique() -> None:
    codes = all_codes()
    assert len(codes) == len(set(codes))


def test_defaults_are_clean(tmp_path: Path) -> None:
    """The DMS defaults given explicitly: no problem at all, also with saslauthd and spoofing."""
    config = load_case(tmp_path, {})
    assert lint_config(config).problems == []
    config = load_case(tmp_path, {"env": "ENABLE_SASLAUTHD=1\nSASLAUTHD_MECHANISMS=ldap"})
    assert lint_config(config).problems == []
