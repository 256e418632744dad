"""saslauthd.conf (lak_config_read()) and /etc/default/saslauthd parsing, checked against the programs."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ldapdiag.config.origin import Origin
from ldapdiag.config.saslauthd_conf import (
    SASLAUTHD_ALIASES,
    SASLAUTHD_KEYS,
    effective_settings,
    parse_saslauthd_conf,
    parse_shell_defaults,
    read_saslauthd_conf,
    saslauthd_conf_findings,
)
from ldapdiag.errors import InputError
from tests.oracles.saslauthd import Directory, directory, saslauthd_answer

DATA = Path(__file__).resolve().parent.parent / "data" / "parsers" / "saslauthd"
CANARY = "CANARY-9d1e"


@pytest.fixture(scope="module")
def ldap() -> Iterator[Directory]:
    with directory() as server:
        yield server


def good_conf(ldap: Directory) -> str:
    return f"ldap_servers: {ldap.uri}\nldap_search_base: {ldap.suffix}\nldap_filter: (uid=%u)\n"


def parses(text: str) -> bool:
    try:
        parse_saslauthd_conf(text, "/etc/saslauthd.conf")
    except InputError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# what saslauthd accepts and rejects: our InputError exactly where saslauthd answers NO


def test_dms_style_file_works(ldap: Directory) -> None:
    text = (DATA / "dms-saslauthd.conf").read_text().replace("@URI@", ldap.uri)
    conf = parse_saslauthd_conf(text, "/etc/saslauthd.conf")
    assert conf.value("ldap_filter") == "(&(uid=%u)(objectClass=person))"
    assert conf.value("ldap_auth_method") == "bind"
    assert "log_level" in conf.effective() and "log_level" not in effective_settings(conf)
    assert saslauthd_answer(text) == "OK"


@pytest.mark.parametrize(
    ("name", "edit", "accepted"),
    [
        ("upper-case keys", lambda t: t.replace("ldap_servers", "LDAP_SERVERS"), True),
        (
            "comments and indentation",
            lambda t: "  # c\n\n\t" + t.replace("\nldap_filter", "\n   ldap_filter"),
            True,
        ),
        ("unknown key", lambda t: t + "log_level: 10\n", True),
        ("blank before the colon", lambda t: t.replace("ldap_servers:", "ldap_servers :"), False),
        ("empty value", lambda t: t + "ldap_bind_dn:\n", False),
        ("empty value with blanks", lambda t: t + "ldap_bind_dn:   \n", False),
        ("line without a colon", lambda t: t + "ldap_referrals yes\n", False),
        ("key with a dot", lambda t: t + "ldap.debug: 1\n", False),
    ],
)
def test_accepted_exactly_when_saslauthd_accepts(ldap: Directory, name: str, edit, accepted: bool) -> None:
    text = edit(good_conf(ldap))
    assert (saslauthd_answer(text) == "OK") is accepted, name
    assert parses(text) is accepted, name


@pytest.mark.parametrize(
    ("name", "extra", "answer"),
    [
        # '#' after the value is value text: the filter becomes invalid
        ("trailing comment", "ldap_filter: (uid=%u) # c\n", "NO"),
        # trailing blanks and a CR stay in the value
        ("trailing blanks", "ldap_filter: (uid=%u)   \n", "NO"),
        ("carriage return", "ldap_filter: (uid=%u)\r\n", "NO"),
        # the last line for a key wins
        ("last wins", "ldap_search_base: dc=nowhere,dc=org\nldap_search_base: dc=example,dc=org\n", "OK"),
        ("last wins (bad)", "ldap_search_base: dc=nowhere,dc=org\n", "NO"),
        # an enum value lak.c does not recognise ("sub") changes nothing: base stays
        ("scope base", "ldap_scope: base\n", "NO"),
        ("scope base then sub", "ldap_scope: base\nldap_scope: sub\n", "NO"),
        ("scope one", "ldap_scope: one\n", "OK"),
    ],
)
def test_values_as_saslauthd_reads_them(ldap: Directory, name: str, extra: str, answer: str) -> None:
    text = good_conf(ldap) + extra
    assert saslauthd_answer(text) == answer, name
    conf = parse_saslauthd_conf(text, "/etc/saslauthd.conf")
    effective = {key: entry.value for key, entry in effective_settings(conf).items()}
    works = (
        effective["ldap_filter"] == "(uid=%u)"
        and effective["ldap_search_base"] == ldap.suffix
        and effective.get("ldap_scope", "sub").lower() in ("sub", "one")
    )
    assert works is (answer == "OK"), effective


@pytest.mark.parametrize(
    ("extra", "answer"),
    [
        ("ldap_bind_pw: {pw}\nldap_password: wrong\n", "NO"),
        ("ldap_password: wrong\nldap_bind_pw: {pw}\n", "OK"),
    ],
)
def test_aliases_share_one_setting(ldap: Directory, extra: str, answer: str) -> None:
    text = good_conf(ldap) + f"ldap_bind_dn: {ldap.root_dn}\n" + extra.format(pw=ldap.root_pw)
    assert saslauthd_answer(text) == answer
    conf = parse_saslauthd_conf(text, "/etc/saslauthd.conf")
    assert (conf.value("ldap_bind_pw") == ldap.root_pw) is (answer == "OK")
    assert "ldap_password" not in conf.effective()


# ---------------------------------------------------------------------------------------------
# from lak.c alone


def test_key_table_covers_lak_c() -> None:
    assert len(SASLAUTHD_KEYS) == 36 and len(SASLAUTHD_ALIASES) == 6
    assert set(SASLAUTHD_ALIASES.values()) <= set(SASLAUTHD_KEYS)


def test_lines_and_origins() -> None:
    text = "# c\nldap_servers: ldap://a\n\nLDAP_Filter: (uid=%u)\n"
    conf = parse_saslauthd_conf(text, "/etc/saslauthd.conf")
    entry = conf.get("ldap_filter")
    assert entry is not None and (entry.line, entry.last_line) == (4, 4)
    assert entry.origin == Origin("file", "/etc/saslauthd.conf:4")
    via = Origin("env-file", "mailserver.env:2", "SASLAUTHD_LDAP_FILTER")
    rendered = parse_saslauthd_conf(text, "/etc/saslauthd.conf", {4: via})
    assert rendered.get("ldap_filter").origin == via  # type: ignore[union-attr]
    assert rendered.rendered and rendered.format == "saslauthd"


def test_effective_settings_cut_to_buffer_sizes() -> None:
    text = f"ldap_bind_pw: {'p' * 200}\nldap_filter: {'(uid=%u)' * 10}\nldap_auth_method: custom\n"
    text += "ldap_auth_method: bind\nldap_auth_method: Fastbind\nldap_deref: bogus\n"
    conf = parse_saslauthd_conf(text, "/etc/saslauthd.conf")
    effective = effective_settings(conf)
    assert effective["ldap_bind_pw"].value == "p" * 127  # LAK_BUF_LEN 128
    assert effective["ldap_filter"].value == "(uid=%u)" * 10
    assert effective["ldap_auth_method"].value == "Fastbind"
    assert "ldap_deref" not in effective
    findings = saslauthd_conf_findings(conf)
    assert [f.where for f in findings] == ["/etc/saslauthd.conf:1", "/etc/saslauthd.conf:6"]
    assert all("p" * 20 not in f.message for f in findings)


def test_errors_never_quote_values() -> None:
    for text in (
        f"ldap_bind_pw {CANARY}\n",
        f"ldap_bind_pw = {CANARY}\n",
        f"ldap bind pw: {CANARY}\n",
        f"{CANARY}:\n",
    ):
        with pytest.raises(InputError) as err:
            parse_saslauthd_conf("ldap_servers: ldap://x\n" + text, "/etc/saslauthd.conf")
        assert CANARY not in str(err.value)
        assert err.value.where == "/etc/saslauthd.conf:2"


def test_non_utf8_long_lines_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        parse_saslauthd_conf(b"ldap_servers: x\nldap_bind_pw: \xff" + CANARY.encode(), "/etc/saslauthd.conf")
    assert err.value.where == "/etc/saslauthd.conf:2" and CANARY not in str(err.value)
    with pytest.raises(InputError, match="longer"):
        parse_saslauthd_conf("ldap_filter: " + "x" * 5000 + "\n", "/etc/saslauthd.conf")
    with pytest.raises(InputError, match="not found"):
        read_saslauthd_conf(tmp_path / "saslauthd.conf")


# ---------------------------------------------------------------------------------------------
# /etc/default/saslauthd against sh


def sh_values(text: str, names: list[str], tmp_path: Path) -> dict[str, str]:
    """Source the file with /bin/sh and print the variables (NUL-separated)."""
    sh = shutil.which("sh")
    if sh is None:
        pytest.skip("no /bin/sh")
    file = tmp_path / "defaults"
    file.write_text(text)
    script = '. "$1"; shift; for n in "$@"; do eval "printf \'%s\\0\' \\"\\$$n\\""; done'
    result = subprocess.run(
        [sh, "-c", script, "sh", str(file), *names], capture_output=True, text=True, check=True
    )
    return dict(zip(names, result.stdout.split("\0")[:-1], strict=True))


INSTALLED_DEFAULTS = Path("/etc/default/saslauthd")  # Debian's sasl2-bin file, read where installed

SHELL_CASES = [
    pytest.param(
        INSTALLED_DEFAULTS.read_text() if INSTALLED_DEFAULTS.exists() else "",
        marks=pytest.mark.skipif(not INSTALLED_DEFAULTS.exists(), reason="sasl2-bin is not installed"),
        id="installed-etc-default-saslauthd",
    ),
    'MECHANISMS="ldap"\nOPTIONS="-c -m /var/run/saslauthd"  # comment\nTHREADS=5;NAME=x\n',
    'A=\'single $X "q"\' B="dq \\$ \\" \\\\ \\x" C=un\\ quoted\\\\x\n',
    'export RUN=/var/run\nexport OPTIONS="-m $RUN/saslauthd ${RUN}x" NAME\nreadonly R=1\n',
    'MULTI="a\nb" CONT=a\\\nb\nEMPTY=\nDOLLAR=$ END=x#y\n',
]


@pytest.mark.parametrize("text", SHELL_CASES)
def test_shell_defaults_match_sh(text: str, tmp_path: Path) -> None:
    conf = parse_shell_defaults(text, "/etc/default/saslauthd")
    ours = {key: entry.value for key, entry in conf.effective().items()}
    assert ours
    assert sh_values(text, list(ours), tmp_path) == ours


def test_shell_defaults_lines() -> None:
    conf = parse_shell_defaults('# c\nA=1\nB="x\ny"\nC=2\n', "/etc/default/saslauthd")
    assert [(e.key, e.line, e.last_line) for e in conf.entries] == [("A", 2, 2), ("B", 3, 4), ("C", 5, 5)]
    assert conf.format == "shell"
    assert conf.get("A").origin == Origin("file", "/etc/default/saslauthd:2")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('A=1\nB="unterminated\n', 2),
        ("A=1\nB='unterminated\n", 2),
        ("A=1\necho hello\n", 2),
        ("A=1\nB=$(hostname)\n", 2),
        ("A=1\nB=`hostname`\n", 2),
        ("A=1\nif true; then B=1; fi\n", 2),
        (f"A=1\nOPTIONS = {CANARY}\n", 2),
    ],
)
def test_shell_defaults_errors(text: str, line: int) -> None:
    with pytest.raises(InputError) as err:
        parse_shell_defaults(text, "/etc/default/saslauthd")
    assert err.value.where == f"/etc/default/saslauthd:{line}"
    assert CANARY not in str(err.value)
