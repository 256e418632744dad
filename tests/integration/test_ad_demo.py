"""`ldapdiag demo ad`: the Active Directory scenario served by a throwaway Samba AD DC."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ldapdiag.cli import main
from ldapdiag.demo.ad_scenario import load_ad_scenario
from tests.samba_dc import AD_SCENARIO, requires_samba


@requires_samba
def test_demo_ad_serves_the_scenario_and_runs_ldapdiag() -> None:
    result = CliRunner().invoke(main, ["demo", "ad"])
    assert result.exit_code == 0, result.output[-2000:]
    output = result.output
    assert "a Samba AD DC (its own self-signed certificate) serves DC=ad,DC=example,DC=org" in output
    for command in ("$ ldapdiag config", "$ ldapdiag check --ca-file", "$ ldapdiag lint --server --ca-file"):
        assert command in output
    assert "(expected: Samba's self-signed certificate names the DC" in output  # dovecot, by IP
    assert "dn-substring-samba" in output and "ad-large-group" in output
    scenario = load_ad_scenario(AD_SCENARIO)
    for secret in (scenario.bind_password, *scenario.user_passwords.values()):
        assert secret not in output


def test_demo_ad_without_samba_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "ldapdiag.demo.samba.samba_missing",
        lambda: "samba is not installed (Debian: samba samba-dsdb-modules)",
    )
    result = CliRunner().invoke(main, ["demo", "ad"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "samba is not installed" in lines[0], result.output


def test_unknown_scenario_lists_the_ad_one() -> None:
    result = CliRunner().invoke(main, ["demo", "no-such-scenario"])
    assert result.exit_code == 2 and "active-directory" in result.output
