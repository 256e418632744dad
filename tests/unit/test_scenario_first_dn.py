"""first_dn(): the scenario's base is the DN of the first LDIF entry, read without loading the file."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from ldapdiag.demo.scenario import ScenarioError, first_dn


def test_folded_dn_after_a_folded_comment(tmp_path: Path) -> None:
    ldif = tmp_path / "d.ldif"
    ldif.write_text("# a comment\n  that goes on\ndn: uid=a,\n dc=example,dc=org\nuid: a\n\ndn: uid=b\n")
    assert first_dn(ldif) == "uid=a,dc=example,dc=org"


def test_base64_dn(tmp_path: Path) -> None:
    ldif = tmp_path / "d.ldif"
    ldif.write_text(f"dn:: {base64.b64encode('cn=é,dc=x'.encode()).decode()}\n", encoding="utf-8")
    assert first_dn(ldif) == "cn=é,dc=x"


def test_no_entry_is_an_error(tmp_path: Path) -> None:
    ldif = tmp_path / "d.ldif"
    ldif.write_text("# nothing\n")
    with pytest.raises(ScenarioError, match="no entry"):
        first_dn(ldif)
    with pytest.raises(ScenarioError, match="cannot read"):
        first_dn(tmp_path / "missing.ldif")
