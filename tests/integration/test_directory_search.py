"""Directory.search against slapd: the same answers as ldapsearch, raw values, limits, read-only.

The filter corpus is the seed's filters plus `(|)`, `(&)` and `mail=x` without parentheses (which
ldap3's own parser refuses and libldap accepts). Each goes through Directory (a dovecot-like
connection bound as the scenario's bind DN) and through the real ldapsearch; the DNs must come
back the same, in the same order, or both must fail with a bad filter.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ldapdiag.demo import RunningDirectory, serve_scenario
from ldapdiag.directory.directory import Directory
from ldapdiag.directory.faults import is_fault
from ldapdiag.directory.problems import DirectoryProblem, ProblemKind
from ldapdiag.directory.readonly import STARTTLS_OID, WHOAMI_OID, ReadOnlyConnection, WriteAttemptError
from ldapdiag.directory.trace import Trace
from ldapdiag.dovecot.ldap_search import SEND_ATTEMPTS, dovecot_search
from tests.integration.test_directory_connect import BASE, dovecot, password, postfix
from tests.integration.test_filters_vs_ldapsearch import BAD_FILTER, MORE_FILTERS, SEED_FILTERS
from tests.ldap_server import BASIC_SETUP, ldapsearch, missing_ldap_tools, requires_slapd

pytestmark = requires_slapd

CORPUS = list(dict.fromkeys(["(|)", "(&)", "mail=alice@example.org", "mail=*", *SEED_FILTERS, *MORE_FILTERS]))
ALLOWED_LOG_WORDS = {"BIND", "SRCH", "SEARCH", "RESULT", "EXT", "STARTTLS", "WHOAMI", "UNBIND"}


@pytest.fixture(scope="module")
def directory(basic_setup_directory: RunningDirectory) -> Iterator[Directory]:
    """One bound connection for the module's searches, as dovecot makes it."""
    with Directory(dovecot(basic_setup_directory.ldap_url, password(basic_setup_directory))) as ldap:
        yield ldap


def ldapsearch_dns(running: RunningDirectory, search_filter: str) -> list[str] | None:
    """DNs in server order, or None for "Bad search filter (-7)"."""
    result = ldapsearch(running, search_filter)
    if BAD_FILTER in result.stderr:
        return None
    assert result.returncode == 0, result.stderr
    return [line[4:] for line in result.stdout.splitlines() if line.startswith("dn: ")]


@pytest.mark.parametrize("search_filter", CORPUS)
def test_filters_answer_as_with_ldapsearch(
    directory: Directory, basic_setup_directory: RunningDirectory, search_filter: str
) -> None:
    expected = ldapsearch_dns(basic_setup_directory, search_filter)
    if expected is None:
        with pytest.raises(DirectoryProblem) as raised:
            directory.search(BASE, "sub", search_filter, ["1.1"])
        assert raised.value.problem.kind is ProblemKind.BAD_FILTER
        return
    outcome = directory.search(BASE, "sub", search_filter, ["1.1"])
    assert outcome.result_code == 0
    assert outcome.dns == expected


def test_filter_is_traced_exactly_as_given(basic_setup_directory: RunningDirectory) -> None:
    trace = Trace()
    with Directory(
        dovecot(basic_setup_directory.ldap_url, password(basic_setup_directory)), trace=trace
    ) as ldap:
        ldap.search(BASE, "one", "mail=alice@example.org", ["mail", "uid"])
    event = next(e for e in trace.events if e.operation == "search")
    assert (event.component, event.base, event.scope) == ("dovecot", BASE, "one")
    assert event.filter == "mail=alice@example.org"
    assert event.attributes == ("mail", "uid")
    assert event.result_code == 0 and event.entry_dns == ()  # users are two levels down
    assert event.duration > 0 and event.server == basic_setup_directory.ldap_url


def test_entries_have_raw_and_decoded_values(directory: Directory) -> None:
    outcome = directory.search(BASE, "sub", "(uid=alice)", ["mail", "uid", "userPassword"])
    (entry,) = outcome.entries
    assert entry.dn == "uid=alice,ou=users,dc=example,dc=org"
    assert entry.values("MAIL") == ("alice@example.org",)
    assert entry.raw_values("userpassword")[0].startswith(b"{SSHA}")
    assert set(entry.attributes) == {"mail", "uid", "userPassword"}


def test_size_limit_exceeded(directory: Directory) -> None:
    """saslauthd's default ldap_size_limit 1 with a filter that matches several entries."""
    outcome = directory.search(BASE, "sub", "(objectClass=inetOrgPerson)", ["1.1"], size_limit=1)
    assert outcome.result_code == 4 and len(outcome.entries) == 1
    assert outcome.problem is not None and outcome.problem.kind is ProblemKind.SIZE_LIMIT


def test_missing_base(directory: Directory) -> None:
    outcome = directory.base_exists("ou=nowhere,dc=example,dc=org")
    assert outcome.result_code == 32
    assert outcome.problem is not None and outcome.problem.kind is ProblemKind.SEARCH_BASE_MISSING


def test_root_dse_facts(directory: Directory) -> None:
    dse = directory.root_dse()
    assert dse.readable and dse.vendor == "OpenLDAP"
    assert dse.get("namingContexts") == ("dc=example,dc=org",)
    assert dse.absolute_filters and dse.paged_results


def test_the_empty_filter_makes_slapd_hang_up(basic_setup_directory: RunningDirectory) -> None:
    """What DMS writes for an unset LDAP_QUERY_FILTER_X: slapd answers with a notice of disconnection."""
    policy = postfix(basic_setup_directory.ldap_url, password(basic_setup_directory))
    with Directory(policy) as ldap, pytest.raises(DirectoryProblem) as raised:
        ldap.search(BASE, "sub", "", ["mail"])
    problem = raised.value.problem
    assert problem.kind is ProblemKind.SERVER_CLOSED and problem.code == 2
    assert not is_fault(problem) and ldap.trace.faults.faults == []  # the request's own, every slapd alike


def test_dovecot_sends_a_search_the_server_hangs_up_on_three_times(
    basic_setup_directory: RunningDirectory,
) -> None:
    """db-ldap.c: a request whose connection the server closed is sent again on a new connection,
    DB_LDAP_REQUEST_MAX_ATTEMPT_COUNT (3) times in all, then failed; the connection is there for
    the next lookup. The empty filter: no fault, a certain temp_fail."""
    policy = dovecot(basic_setup_directory.ldap_url, password(basic_setup_directory))
    with Directory(policy) as ldap:
        failed = dovecot_search(ldap, BASE, "sub", "", ["mail"])
        searches = [event for event in ldap.trace.events if event.operation == "search"]
        binds = [event for event in ldap.trace.events if event.operation == "bind"]
        answered = dovecot_search(ldap, BASE, "sub", "(mail=alice@example.org)", ["mail"])
        faults = ldap.trace.faults.faults
    assert failed.error is not None and "(temp_fail)" in failed.error and failed.entries == ()
    assert len(searches) == SEND_ATTEMPTS == 3 and len(binds) == 3
    assert answered.error is None and answered.entry is not None and faults == []


# --- read-only --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_directory() -> Iterator[RunningDirectory]:
    """A server of its own, so that its access log holds only this module's operations."""
    missing = missing_ldap_tools()
    if missing:
        pytest.skip(f"{missing} is not installed")
    with serve_scenario(BASIC_SETUP) as running:
        yield running


def operations_in(log: Path) -> tuple[set[str], set[str]]:
    """The operation words and extended-operation OIDs slapd logged."""
    text = log.read_text(errors="replace")
    return set(re.findall(r"conn=\d+ op=\d+ (\S+)", text)), set(re.findall(r" EXT oid=(\S+)", text))


BOB = "uid=bob,ou=users,dc=example,dc=org"


def try_to_write(connection: ReadOnlyConnection) -> None:
    """Every kind of write ldap3 offers, and a compare and an abandon: each refused before sending."""
    attempts = [
        lambda: connection.add("cn=x,dc=example,dc=org", "organizationalRole", {"cn": "x"}),
        lambda: connection.delete(BOB),
        lambda: connection.modify(BOB, {"sn": [("MODIFY_REPLACE", ["x"])]}),
        lambda: connection.modify_dn(BOB, "uid=robert"),
        lambda: connection.compare(BOB, "sn", "x"),
        lambda: connection.extend.standard.modify_password(BOB, "x", "y"),
        lambda: connection.abandon(0),  # message id 0: ldap3 sends it without an operation
    ]
    for attempt in attempts:
        with pytest.raises(WriteAttemptError):
            attempt()


def test_only_read_operations_reach_the_server(private_directory: RunningDirectory) -> None:
    running = private_directory
    assert running.ldaps_url is not None and running.access_log is not None
    secret = password(running)
    for policy in (
        dovecot(running.ldap_url, secret, "tls = yes\n"),
        postfix(running.ldaps_url, secret),
        postfix(running.ldap_url, secret, "bind = no\n"),
    ):
        with Directory(policy, ca_files=(running.ca_file,) if running.ca_file else ()) as ldap:
            ldap.search(BASE, "sub", "(|(mail=*)(uid=bob))", ["mail"])
            ldap.root_dse()
            ldap.who_am_i()
            try_to_write(ldap.connect().connection)
    time.sleep(0.3)  # slapd writes its log asynchronously
    words, oids = operations_in(running.access_log)
    assert {"BIND", "SRCH", "EXT", "UNBIND"} <= words
    assert words <= ALLOWED_LOG_WORDS, words - ALLOWED_LOG_WORDS
    assert oids <= {STARTTLS_OID, WHOAMI_OID}


def test_shared_server_saw_only_read_operations(basic_setup_directory: RunningDirectory) -> None:
    """The suite's shared slapd (every test so far used it): no write ever reached it."""
    assert basic_setup_directory.access_log is not None
    words, oids = operations_in(basic_setup_directory.access_log)
    assert not words & {"ADD", "DEL", "MOD", "MODRDN", "CMP", "ABANDON", "PASSMOD"}
    assert oids <= {STARTTLS_OID, WHOAMI_OID}


@pytest.mark.parametrize("scope", ["sub", "one", "base", 2])
def test_search_many_takes_the_scopes_search_takes(directory: Directory, scope: str | int) -> None:
    """search_many() (the pipelined batches) answers each search as search() does, named scopes too."""
    from ldapdiag.directory import filters
    from ldapdiag.directory.ldap3_filter import SearchSpec

    texts = ["(mail=*)", "(objectClass=*)"]
    base = BASE if scope != "base" else f"ou=users,{BASE}"
    specs = [SearchSpec(base, scope, filters.parse(text), ["mail"]) for text in texts]
    many = directory.search_many(specs)
    for text, outcome in zip(texts, many, strict=True):
        one = directory.search(base, scope, text, ["mail"], size_limit=0, time_limit=0, deref=0)
        assert outcome.result_code == one.result_code == 0
        assert [e.dn for e in outcome.entries] == [e.dn for e in one.entries]
        assert [e.raw for e in outcome.entries] == [e.raw for e in one.entries]
    assert any(outcome.entries for outcome in many)


@pytest.mark.parametrize("mode", ["starttls", "ldaps"])
def test_search_many_over_tls_answers_as_search(basic_setup_directory: RunningDirectory, mode: str) -> None:
    """The pipelined batches write their requests straight to the socket: over TLS (StartTLS, ldaps://)
    too, each answered as search() answers it, more requests than the window holds."""
    from ldapdiag.directory import filters
    from ldapdiag.directory.ldap3_filter import SearchSpec

    running = basic_setup_directory
    url = running.ldaps_url if mode == "ldaps" else running.ldap_url
    assert url is not None
    extra = "tls = yes\n" if mode == "starttls" else ""
    texts = ["(mail=*)", "(objectClass=*)", "(uid=alice)", "(|(mail=bob@example.org)(cn=*))"] * 3
    with Directory(dovecot(url, password(running), extra), ca_files=(running.ca_file,)) as ldap:
        specs = [SearchSpec(BASE, "sub", filters.parse(text), ["mail", "cn"]) for text in texts]
        many = ldap.search_many(specs, window=2)
        assert ldap.session is not None and ldap.session.tls_mode == mode
        for text, outcome in zip(texts, many, strict=True):
            one = ldap.search(BASE, "sub", text, ["mail", "cn"], size_limit=0, time_limit=0, deref=0)
            assert outcome.result_code == one.result_code == 0
            assert [(e.dn, e.raw) for e in outcome.entries] == [(e.dn, e.raw) for e in one.entries]
    assert sum(len(outcome.entries) for outcome in many) > len(texts)
