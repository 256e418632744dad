"""DMS's shell quirks, checked against the real bash and sed that DMS runs them with.

The expected behaviour comes from docker-mailserver v15.1.0 `helpers/utils.sh`
(`_replace_by_env_in_file`: `IFS='=' read -r KEY VALUE` and `sed -E "s#^key[[:space:]]*=.*#key = value#g"`)
and `variables-stack.sh` (`__environment_variables_from_files`: a nameref assignment, not exported).
Each test asks bash itself with a one-line probe of the shell construct, not DMS's code.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from ldapdiag.config.dms_render import RenderedFile, bash_read_value, replace_by_env_in_file
from ldapdiag.config.origin import Finding, Origin
from ldapdiag.config.settings import Setting

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")

READ_CASES = ["a", "a=", "a==", "=", "a=b", "a=b=", "=a=", "==", "x==y=", "a= ", " a ", "(mail=%s)", ""]


def bash_read(rest: str) -> str:
    """What `IFS='=' read -r KEY VALUE` assigns to VALUE for the env line `K=<rest>`."""
    probe = 'IFS="=" read -r KEY VALUE <<< "K=$1"; printf %s "$VALUE"'
    return subprocess.run(["bash", "-c", probe, "_", rest], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("rest", READ_CASES)
def test_bash_read_value_matches_bash(rest: str) -> None:
    assert bash_read_value(rest) == bash_read(rest)


def test_only_first_line_of_a_multiline_value_is_read() -> None:
    assert bash_read_value("first\nsecond") == bash_read("first\nsecond") == "first"


def test_nameref_assignment_is_not_exported() -> None:
    probe = 'f(){ local -n T=LDAPDIAG_PROBE; T=1; }; f; echo "$LDAPDIAG_PROBE"; env | grep -c LDAPDIAG_PROBE'
    result = subprocess.run(["bash", "-c", probe], capture_output=True, text=True)
    assert result.stdout.split() == ["1", "0"]


def _render(lines: list[str], value: str) -> tuple[list[str], list[Finding]]:
    document = RenderedFile("/etc/postfix/ldap-users.cf", "postfix")
    for line in lines:
        document.add(line, Origin("default"))
    findings: list[Finding] = []
    setting = Setting("LDAP_QUERY_FILTER", value, Origin("env-file", "x.env:1"))
    replace_by_env_in_file(document, "LDAP_", [setting], findings)
    return document.lines, findings


def sed_replace(lines: list[str], value: str, tmp_path) -> list[str]:
    """Run the same `sed -E` substitution DMS builds, with its escaping, on a real file."""
    path = tmp_path / "t.cf"
    path.write_text("".join(line + "\n" for line in lines))
    escape = r"""sed -E 's#([\=\&\|\$\.\*\/\[\\^]|\])#\\\1#g'"""
    probe = (
        f'EK=$({escape} <<< "query_filter"); EV=$({escape} <<< "$1"); '
        '[[ -n $EV ]] && EV=" $EV"; sed -i -E "s#^${EK}[[:space:]]*=.*#${EK} =${EV}#g" "$2"'
    )
    subprocess.run(["bash", "-c", probe, "_", value, str(path)], capture_output=True)
    return path.read_text().splitlines()


TEMPLATE = [
    "query_filter     = (old)",
    "query_filter_x = keep",
    "  query_filter = continued",
    "query_filter=x",
]


@pytest.mark.parametrize("value", ["(mail=%s)", "", "x&y\\z", "a|b.c*[d]^$", "a#b", "(|)"])
def test_replace_matches_sed(value: str, tmp_path) -> None:
    ours, findings = _render(TEMPLATE, value)
    assert ours == sed_replace(TEMPLATE, value, tmp_path)
    assert bool(findings) == ("#" in value)


def test_replaced_line_carries_the_variable_origin() -> None:
    document = RenderedFile("/etc/postfix/ldap-users.cf", "postfix")
    document.add("bind_dn = x", Origin("default"))
    setting = Setting("LDAP_BIND_DN", "cn=admin", Origin("env-file", "m.env:3"))
    replace_by_env_in_file(document, "LDAP_", [setting], [])
    assert document.origins[1] == Origin("env-file", "m.env:3", "LDAP_BIND_DN")
