"""`ldapdiag lookup` against the real `postmap -q` (Debian postfix-ldap 3.7.11) on the same files.

For every case of cases.py (an ldap_table file on one of two test directories, and its keys):
each key's answer (value, not found, or the temporary failure with postfix's warning text), the
set of lines postfix logs, and the command output itself (`-` batches and single keys: stdout
bytes and exit status) must be equal. postmap exits 1 on a lookup error (fatal), ldapdiag 2.
"""

from __future__ import annotations

import pytest

from tests.differential import postmap
from tests.differential.cases import BASIC_CASES, FATAL_CASES, MAPS_CASES, Case
from tests.differential.conftest import Compared, ldapdiag

CASES = [case.name for case in (*BASIC_CASES, *MAPS_CASES)]


def _theirs(answer: postmap.Answer) -> str:
    if answer.status == "error":
        return "error"
    if answer.status == "found":
        return f"found: {answer.value!r}"
    return "not found"


def _ours(answer: dict[str, object]) -> str:
    if answer.get("error"):
        return "error"
    if answer.get("found"):
        return f"found: {postmap.to_bytes(str(answer['value']))!r}"
    return "not found"


def _error_differs(mine: dict[str, object], answer: postmap.Answer, utf8: bool) -> str | None:
    """Both failed: ldapdiag's error is a line postfix logged, and postfix's last line one ldapdiag logged."""
    logged = [postmap.printable(line.split(": ", 1)[1], utf8) for line in answer.logs]
    ours = [postmap.printable(str(line).split(": ", 1)[1], utf8) for line in mine["warnings"]]  # type: ignore[attr-defined]
    error = postmap.printable(str(mine["error"]), utf8)
    if error not in logged or postmap.printable(answer.error or "", utf8) not in ours:
        return f"postmap logged {logged} | ldapdiag: error {mine['error']!r}, logged {ours}"
    return None


@pytest.mark.parametrize("name", CASES)
def test_each_key_answers_like_postmap(compared: dict[str, Compared], name: str) -> None:
    item = compared[name]
    ours = item.prepared.answers
    theirs = item.oracle.answers
    assert [a["key"] for a in ours] == [a.key for a in theirs] == list(item.prepared.case.keys)
    differences = []
    for mine, answer in zip(ours, theirs, strict=True):
        if _ours(mine) != _theirs(answer):
            differences.append(
                f"{answer.key!r}: postmap {_theirs(answer)} {answer.error or ''} | "
                f"ldapdiag {_ours(mine)} {mine['error'] or ''}"
            )
        elif answer.status == "error" and (
            why := _error_differs(mine, answer, item.prepared.case.main == "utf8")
        ):
            differences.append(f"{answer.key!r}: {why}")
    assert not differences, "\n".join(differences)


@pytest.mark.parametrize("name", CASES)
def test_logged_warnings_equal_postmap(compared: dict[str, Compared], name: str) -> None:
    item = compared[name]
    utf8 = item.prepared.case.main == "utf8"
    ours = {postmap.printable(str(line), utf8) for a in item.prepared.answers for line in a["warnings"]}
    theirs = {postmap.printable(line, utf8) for line in item.oracle.logs}
    assert ours == theirs


@pytest.mark.parametrize("name", CASES)
def test_command_output_equals_postmap(compared: dict[str, Compared], name: str) -> None:
    item = compared[name]
    spec = f"ldap:{item.prepared.table}"
    for keys, run in item.oracle.runs:
        if len(keys) == 1 and (run.fatal is not None or keys == [item.prepared.case.keys[0]]):
            code, out, _err = ldapdiag(item.prepared.root, [spec, keys[0]])
        else:
            stdin = b"".join(postmap.to_bytes(key) + b"\n" for key in keys)
            code, out, _err = ldapdiag(item.prepared.root, [spec, "-"], stdin)
        if run.fatal is not None:
            assert (code, run.returncode) == (2, 1), keys
            assert out == b"" or len(keys) > 1
        else:
            assert (code, out) == (run.returncode, run.stdout), keys


@pytest.mark.parametrize("case", FATAL_CASES, ids=[case.name for case in FATAL_CASES])
def test_tables_postfix_refuses_are_refused_alike(compared: dict[str, Compared], case: Case) -> None:
    item = compared[case.name]
    fatal = {run.fatal for _keys, run in item.oracle.runs}
    assert len(fatal) == 1 and None not in fatal
    code, out, err = ldapdiag(item.prepared.root, [f"ldap:{item.prepared.table}", *case.keys])
    assert code == 2 and out == b""
    assert f"fatal: {fatal.pop()}" in err.decode()


def test_enough_keys_are_compared(compared: dict[str, Compared]) -> None:
    keys = sum(len(compared[name].prepared.case.keys) for name in CASES)
    assert keys >= 300
