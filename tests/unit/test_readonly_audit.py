"""The end-of-run read-only audit (tests/conftest.py) flags writes and passes reads."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import forbidden_operations

READS = b"""6b06 0x7f conn=1000 fd=12 ACCEPT from IP=127.0.0.1:40000
6b06 0x7f conn=1000 op=0 EXT oid=1.3.6.1.4.1.1466.20037
6b06 0x7f conn=1000 op=0 STARTTLS
6b06 0x7f conn=1000 op=1 BIND dn="cn=admin,ou=users,dc=example,dc=org" method=128
6b06 0x7f conn=1000 op=1 RESULT tag=97 err=0 text=
6b06 0x7f conn=1000 op=2 SRCH base="dc=example,dc=org" scope=2 deref=0 filter="(mail=a)"
6b06 0x7f conn=1000 op=2 SEARCH RESULT tag=101 err=0 nentries=1 text=
6b06 0x7f conn=1000 op=3 EXT oid=1.3.6.1.4.1.4203.1.11.3
6b06 0x7f conn=1000 op=3 WHOAMI
6b06 0x7f conn=1000 op=4 SRCH base="dc=example,dc=org" scope=2 deref=0 filter="(mail=b)"
6b06 0x7f conn=1000 op=5 ABANDON msg=5
6b06 0x7f conn=1000 op=6 UNBIND
"""


def test_reads_pass(tmp_path: Path) -> None:
    log = tmp_path / "reads.log"
    log.write_bytes(READS)
    assert forbidden_operations(log) == []


def test_writes_and_other_extended_operations_are_flagged(tmp_path: Path) -> None:
    log = tmp_path / "writes.log"
    log.write_bytes(
        READS
        + b'6b06 0x7f conn=1000 op=7 MOD dn="uid=alice,ou=users,dc=example,dc=org"\n'
        + b"6b06 0x7f conn=1000 op=8 EXT oid=1.3.6.1.4.1.4203.1.11.1\n"
        + b'6b06 0x7f conn=1000 op=9 ADD dn="cn=x"\n'
    )
    flagged = forbidden_operations(log)
    assert [line.split(" op=")[1].split()[1] for line in flagged] == ["MOD", "EXT", "ADD"]
