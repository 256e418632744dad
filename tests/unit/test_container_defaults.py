"""Inside a DMS container (issue 13): with no source option, ldapdiag reads the container's own files.

A fake container root (the `--from-files` layout, written by the env path's renderer, plus DMS's
markers) stands in for `/`; LDAPDIAG_ROOT points ldapdiag at it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ldapdiag.cli import main
from ldapdiag.config.load import ROOT_VARIABLE, container_root, load_config
from ldapdiag.config.sources import SourceOptions
from tests.unit.test_from_files import env_config, write_container_copy


@pytest.fixture
def container(tmp_path: Path) -> Path:
    """A copy of a DMS container's generated files, with /etc/dms-settings and the config volume."""
    root = tmp_path / "container"
    write_container_copy(env_config(), root)
    (root / "tmp/docker-mailserver").mkdir(parents=True)
    return root


def run(args: list[str], env: dict[str, str]) -> tuple[str, str, int]:
    result = CliRunner().invoke(main, args, env=env)
    assert "Traceback" not in result.output
    return result.stdout, result.stderr, result.exit_code


def test_the_container_files_are_the_default(container: Path) -> None:
    stdout, stderr, code = run(["config", "--format", "json", "--no-env"], {ROOT_VARIABLE: str(container)})
    explicit, _, explicit_code = run(["config", "--format", "json", "--from-files", str(container)], {})
    assert stderr.splitlines()[0] == (
        f"ldapdiag: inside a docker-mailserver container: reading the files DMS generated under {container} "
        "(/etc/postfix, /etc/dovecot, /etc/saslauthd.conf, /etc/dms-settings); "
        "give --env-file, --set or --dms-config to predict from variables instead"
    )
    assert (json.loads(stdout), code) == (json.loads(explicit), explicit_code)
    assert json.loads(stdout)["files"], "the container's files were read"


def test_the_environment_fills_what_dms_settings_lacks(container: Path) -> None:
    environ = {ROOT_VARIABLE: str(container), "SASLAUTHD_MECHANISMS": "rimap", "SPOOF_PROTECTION": "0"}
    config = load_config(SourceOptions(), environ)
    assert config.source == "files"
    mechanisms = config.settings["SASLAUTHD_MECHANISMS"]
    assert (mechanisms.value, mechanisms.origin.kind) == ("rimap", "environment")
    # /etc/dms-settings records what DMS made of the variables: it wins
    spoof = config.settings["SPOOF_PROTECTION"]
    assert (spoof.value, spoof.origin.location) == ("1", "/etc/dms-settings:2")
    _, stderr, _ = run(["config"], environ)
    assert stderr.splitlines()[0].endswith(
        "/etc/dms-settings) and the container's environment; "
        "give --env-file, --set or --dms-config to predict from variables instead"
    )


@pytest.mark.parametrize(
    "options",
    [
        SourceOptions(sets=("OVERRIDE_HOSTNAME=mail.example.org",)),
        SourceOptions(env_files=(Path("mailserver.env"),)),
        SourceOptions(dms_config=Path("/tmp/docker-mailserver")),
        SourceOptions(from_files=Path("/")),
    ],
    ids=["set", "env-file", "dms-config", "from-files"],
)
def test_an_explicit_source_wins(container: Path, options: SourceOptions) -> None:
    assert container_root(options, {ROOT_VARIABLE: str(container)}) is None


def test_no_markers_no_container(container: Path) -> None:
    (container / "etc/dms-settings").unlink()
    (container / "tmp/docker-mailserver").rmdir()
    assert container_root(SourceOptions(), {ROOT_VARIABLE: str(container)}) is None


def test_a_sidecar_with_only_the_config_volume_uses_variables(tmp_path: Path) -> None:
    """`docker run -v ./docker-data/dms/config:/tmp/docker-mailserver:ro --env-file ...`: the
    variables, and the config volume as --dms-config (its ldap-groups.cf replaces DMS's template)."""
    volume = tmp_path / "tmp/docker-mailserver"
    volume.mkdir(parents=True)
    (volume / "ldap-groups.cf").write_text("special_result_attribute = member\n")
    assert container_root(SourceOptions(), {ROOT_VARIABLE: str(tmp_path)}) is None
    env = {ROOT_VARIABLE: str(tmp_path), "ACCOUNT_PROVISIONER": "LDAP", "LDAP_SERVER_HOST": "ldap://ldap"}
    stdout, stderr, _ = run(["config", "--format", "json"], env)
    assert "inside a docker-mailserver container" not in stderr
    assert json.loads(stdout)["source"] == "env"
    config = load_config(SourceOptions(), env)
    groups = config.postfix_tables["/etc/postfix/ldap-groups.cf"]
    assert groups.value("special_result_attribute") == "member"
    assert any(f.message.startswith("DMS's config volume is mounted here") for f in config.findings)
    # without the volume, DMS's own template
    volume.joinpath("ldap-groups.cf").unlink()
    volume.rmdir()
    plain = load_config(SourceOptions(), env).postfix_tables["/etc/postfix/ldap-groups.cf"]
    assert plain.value("special_result_attribute") != "member"
