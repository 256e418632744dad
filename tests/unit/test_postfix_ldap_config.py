"""ldap_table parameters: defaults, parsing and fatal errors as Debian's postfix 3.7.11 has them.

The defaults are checked against `postmap -v` (its cfg_get_* log lines), which needs no server.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ldapdiag.config.postfix_cf import parse_postfix_cf
from ldapdiag.postfix.ldap_config import LdapConfigError, LdapTableConfig, read_ldap_table
from tests.oracles.postfix import NON_UTF8_KEY, POSTMAP, _write_cool, require

_CFG = re.compile(r"^postmap: cfg_get_(?:str|int|bool): (?P<path>.+?): (?P<name>\w+) = (?P<value>.*)$")
_FATAL = re.compile(r"^postmap: fatal: (?P<text>.*)$", re.MULTILINE)


def postmap_view(text: str) -> tuple[dict[str, str], list[str], str | None, str]:
    """(parameters as postmap -v logs them, warnings, fatal text, table path)."""
    program = require(POSTMAP, "postmap")
    with tempfile.TemporaryDirectory(prefix="ldapdiag-cfg-") as tmp:
        _write_cool(Path(tmp) / "main.cf", "")
        table = Path(tmp) / "t.cf"
        _write_cool(table, text)
        proc = subprocess.run(
            [program, "-c", tmp, "-v", "-q", NON_UTF8_KEY, f"ldap:{table}"],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=30,
            check=False,
        )
    values: dict[str, str] = {}
    warnings = []
    for line in proc.stderr.splitlines():
        match = _CFG.match(line)
        if match:
            values.setdefault(match.group("name"), match.group("value"))
        elif line.startswith("postmap: warning: dict_ldap_open"):
            warnings.append(line.removeprefix("postmap: "))
    fatal = _FATAL.search(proc.stderr)
    return values, warnings, fatal.group("text") if fatal else None, str(table)


def ours(text: str, path: str = "/t.cf") -> LdapTableConfig:
    return read_ldap_table(parse_postfix_cf(text, path))


def test_defaults_match_postmap() -> None:
    values, warnings, fatal, _path = postmap_view("")
    assert fatal is None
    config = ours("")
    assert values["server_host"] == "localhost" and config.server_host == "ldap://localhost:389"
    assert int(values["server_port"]) == config.server_port == 389
    assert int(values["version"]) == config.version == 3  # Debian: 3 (upstream: 2)
    assert values["scope"] == "sub" and config.scope == 2
    assert values["search_base"] == config.search_base == ""
    assert int(values["timeout"]) == config.timeout == 10
    assert values["query_filter"] == config.query_filter == "(mailacceptinggeneralid=%s)"
    assert values["result_format"] == "<NULL>" and values["result_filter"] == config.result_format == "%s"
    assert values["result_attribute"] == "maildrop" and config.result_attributes == ("maildrop",)
    assert values["bind"] == "yes" and config.bind == "simple"
    assert int(values["recursion_limit"]) == config.recursion_limit == 1000
    assert int(values["expansion_limit"]) == config.expansion_limit == 0
    assert int(values["size_limit"]) == config.size_limit == 0
    assert int(values["dereference"]) == config.dereference == 0
    assert values["chase_referrals"] == "off" and config.chase_referrals is False
    assert values["start_tls"] == "off" and config.start_tls is False
    assert values["tls_require_cert"] == "off" and config.tls_require_cert is False
    assert warnings == [] and config.warnings == ()


@pytest.mark.parametrize(
    "text",
    [
        "version = 2\n",
        "version = 9\n",
        "size_limit = 5\nexpansion_limit = 3\n",
        "expansion_limit = 3\n",
        "scope = ONE\n",
        "scope = nonsense\n",
        "dereference = 9\n",
        "server_host = ldaps://h.example, h2:1389 h3\nserver_port = 10389\nversion = 2\n",
        "start_tls = YES\nversion = 2\n",
        "result_format =\nresult_filter = <%s>\n",
        "query_filter = (mail=%%s)\n",
        "cache = yes\ncache_size = 1\ncache_expiry = 0\n",
        "bind = NONE\nchase_referrals = Yes\n",
        "server_port = -5\ntimeout = +7\n",
    ],
)
def test_parsing_matches_postmap(text: str) -> None:
    values, warnings, fatal, path = postmap_view(text)
    assert fatal is None
    config = ours(text, path)
    expected_version = 3 if ("start_tls" in text or "ldaps" in text) else {"2": 2}.get(values["version"], 3)
    assert config.version == expected_version  # postfix logs the value before it switches to 3
    if "server_host" in text:
        assert config.server_host == "ldaps://h.example ldap://h2:1389 ldap://h3:10389"
    assert int(values["size_limit"]) == config.size_limit
    assert int(values["timeout"]) == config.timeout
    assert int(values["server_port"]) == config.server_port
    assert values["result_filter"] == "<%s>" or config.result_format == (
        values["result_format"] if values["result_format"] != "<NULL>" else values["result_filter"]
    )
    assert [line.removeprefix("warning: ") for line in config.warnings] == [
        line.removeprefix("warning: ") for line in warnings
    ]


FATAL_TEXTS = [
    "start_tls = maybe\n",
    "timeout = 10s\n",
    "timeout =\n",
    "version = 1\n",
    "recursion_limit = 0\n",
    "bind = maybe\n",
    "query_filter = (mail=%x)\n",
    "result_format = %s%\n",
    "search_base = ou=%q\n",
    "scope =\n",
    "server_host =\n",
    "server_port = 99999999999\n",
]


@pytest.fixture(scope="module")
def fatal_views() -> dict[str, tuple[str | None, str]]:
    """postmap's fatal text per table text, asked in parallel (each fatal exit sleeps 1 s)."""
    require(POSTMAP, "postmap")
    with ThreadPoolExecutor(max_workers=len(FATAL_TEXTS)) as pool:
        views = dict(zip(FATAL_TEXTS, pool.map(postmap_view, FATAL_TEXTS), strict=True))
    return {text: (view[2], view[3]) for text, view in views.items()}


@pytest.mark.parametrize("text", FATAL_TEXTS)
def test_fatal_settings_match_postmap(fatal_views: dict[str, tuple[str | None, str]], text: str) -> None:
    fatal, path = fatal_views[text]
    assert fatal is not None
    with pytest.raises(LdapConfigError) as raised:
        ours(text, path)
    assert str(raised.value) == fatal


def test_attribute_lists_in_postfix_order() -> None:
    config = ours(
        "terminal_result_attribute = t1\nleaf_result_attribute = l1, l2\n"
        "result_attribute = mail uid\nspecial_result_attribute = member,memberURL\n"
    )
    assert config.attributes == ("t1", "l1", "l2", "mail", "uid", "member", "memberURL")
    assert config.num_attributes == 5


def test_password_is_not_in_repr() -> None:
    config = ours("bind_pw = s3cret-value\n")
    assert "s3cret-value" not in repr(config)
    assert config.bind_pw.reveal() == "s3cret-value"


def test_dynamic_base_and_fixed_filter_warning() -> None:
    config = ours("search_base = ou=%d,dc=x\nquery_filter = (objectClass=*)\n")
    assert config.dynamic_base
    assert config.warnings == (
        "warning: dict_ldap_open: /t.cf: Fixed query_filter (objectClass=*) is probably useless",
    )
