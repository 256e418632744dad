"""dict_ldap_lookup()/dict_ldap_get_values() logic over a scripted directory (no server).

The real behaviour is proven against postmap in tests/differential; these tests pin the
branches a test directory cannot easily produce (servers returning more than size_limit
entries, connection phases, the reconnect) and the steps ldapdiag records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ldapdiag.config.postfix_cf import parse_postfix_cf
from ldapdiag.directory.directory import Entry, SearchOutcome
from ldapdiag.directory.problems import DirectoryProblem, Problem, ProblemKind
from ldapdiag.directory.trace import Trace
from ldapdiag.postfix.keys import KeyPolicy
from ldapdiag.postfix.ldap_config import read_ldap_table
from ldapdiag.postfix.ldap_table import LdapTable
from ldapdiag.postfix.match_list import parse_string_list

Entries = list[tuple[str, list[tuple[str, list[bytes]]]]]


def entry(dn: str, **attributes: list[str] | list[bytes]) -> tuple[str, list[tuple[str, list[bytes]]]]:
    return dn, [
        (name, [v if isinstance(v, bytes) else v.encode() for v in values])
        for name, values in attributes.items()
    ]


def outcome(entries: Entries, code: int = 0) -> SearchOutcome:
    return SearchOutcome(
        entries=tuple(
            Entry(dn, tuple((name, tuple(values)) for name, values in attrs)) for dn, attrs in entries
        ),
        references=(),
        result_code=code,
        result_name=str(code),
        message="",
    )


@dataclass
class FakeDirectory:
    """Answers searches from a function of (base, scope, filter)."""

    answer: Callable[[str, int, str], SearchOutcome]
    connect_error: DirectoryProblem | None = None
    trace: Trace = field(default_factory=Trace)
    searches: list[tuple[str, int, str, tuple[str, ...], int, int]] = field(default_factory=list)
    connects: int = 0

    def connect(self) -> None:
        self.connects += 1
        if self.connect_error is not None:
            raise self.connect_error

    def search(  # the Directory.search() signature
        self,
        base: str,
        scope: int,
        filter_: str,
        attributes: tuple[str, ...],
        *,
        size_limit: int,
        time_limit: int,
        deref: int,
    ) -> SearchOutcome:
        self.connect()
        self.searches.append((base, scope, filter_, tuple(attributes), size_limit, time_limit))
        return self.answer(base, scope, filter_)


@dataclass
class FakeConnection:
    directory: FakeDirectory
    resets: int = 0

    def get(self) -> FakeDirectory:
        return self.directory

    def reset(self) -> None:
        self.resets += 1


def table(
    text: str, answer: Callable[[str, int, str], SearchOutcome], **kwargs: object
) -> tuple[LdapTable, FakeConnection]:
    config = read_ldap_table(parse_postfix_cf(text, "/t.cf"))
    connection = FakeConnection(FakeDirectory(answer, **kwargs))  # type: ignore[arg-type]
    return LdapTable(config, connection, keys=KeyPolicy()), connection  # type: ignore[arg-type]


BASE = "server_host = ldap://h\nsearch_base = dc=x\nresult_attribute = mail\n"


def by_filter(mapping: dict[str, Entries]) -> Callable[[str, int, str], SearchOutcome]:
    return lambda base, scope, query: outcome(mapping.get(query, mapping.get(base, [])))


def test_values_of_all_entries_in_server_order_comma_joined() -> None:
    answer = by_filter(
        {"(mailacceptinggeneralid=k@x)": [entry("cn=a", mail=["b@x", "a@x"]), entry("cn=b", mail=["a@x"])]}
    )
    ldap, connection = table(BASE, answer)
    result = ldap.lookup("K@X")
    assert (result.value, result.error) == ("b@x,a@x,a@x", None)
    base, scope, query, attributes, size, time = connection.directory.searches[0]
    assert (base, scope, query, attributes, size, time) == (
        "dc=x",
        2,
        "(mailacceptinggeneralid=k@x)",
        ("mail",),
        0,
        10,
    )


def test_values_are_cut_at_nul_bytes_and_empty_ones_ignored() -> None:
    answer = by_filter({"(mailacceptinggeneralid=k@x)": [entry("cn=a", mail=[b"a\x00b", b"\x00c"])]})
    result = table(BASE, answer)[0].lookup("k@x")
    assert result.value == "a"
    assert any("empty lookup result" in step.detail for step in result.steps)


def test_size_limit_counted_by_postfix_when_the_server_sends_more() -> None:
    answer = by_filter(
        {"(mailacceptinggeneralid=k@x)": [entry(f"cn={i}", mail=[f"{i}@x"]) for i in range(3)]}
    )
    result = table(BASE + "size_limit = 2\n", answer)[0].lookup("k@x")
    assert result.error == "dict_ldap_get_values[1]: /t.cf: Query size limit (2) exceeded"


def test_search_error_resets_the_connection_like_dict_ldap_unbind() -> None:
    ldap, connection = table(BASE, lambda *_: outcome([], code=4))
    result = ldap.lookup("k@x")
    assert result.error == "dict_ldap_lookup: Search error 4: Size limit exceeded "
    assert connection.resets == 1


def test_lost_connection_is_reopened_and_the_search_sent_again() -> None:
    calls: list[int] = []

    def answer(base: str, scope: int, query: str) -> SearchOutcome:
        calls.append(1)
        if len(calls) == 1:
            raise DirectoryProblem(Problem(ProblemKind.SERVER_CLOSED, "closed", "ldap://h", phase="search"))
        return outcome([entry("cn=a", mail=["a@x"])])

    ldap, connection = table(BASE, answer)
    assert ldap.lookup("k@x").value == "a@x"
    assert connection.resets == 1 and len(calls) == 2


def test_bind_failure_words_by_phase() -> None:
    refused = DirectoryProblem(
        Problem(ProblemKind.CONNECTION_REFUSED, "refused", "ldap://h", phase="connect")
    )
    result = table(BASE, lambda *_: outcome([]), connect_error=refused)[0].lookup("k@x")
    assert result.error == (
        "dict_ldap_connect: Unable to bind to server ldap://h with dn empty or implicit: "
        "-1 (Can't contact LDAP server)"
    )
    wrong = DirectoryProblem(
        Problem(ProblemKind.INVALID_CREDENTIALS, "bad", "ldap://h", code=49, phase="bind")
    )
    result = table(BASE + "bind_dn = cn=me\n", lambda *_: outcome([]), connect_error=wrong)[0].lookup("k@x")
    assert result.error.endswith("with dn cn=me: 49 (Invalid credentials)")
    tls = DirectoryProblem(Problem(ProblemKind.CERT_UNTRUSTED, "untrusted", "ldap://h", phase="starttls"))
    result = table(BASE + "start_tls = yes\n", lambda *_: outcome([]), connect_error=tls)[0].lookup("k@x")
    assert result.error == "dict_ldap_connect: Unable to set STARTTLS: -11: Connect error"
    assert [s.detail for s in result.steps if s.action == "log"][-1].startswith("error: ")


def test_connect_failure_fails_even_keys_whose_query_is_suppressed() -> None:
    """dict_ldap_connect() runs before the templates are expanded (bind = yes)."""
    refused = DirectoryProblem(
        Problem(ProblemKind.CONNECTION_REFUSED, "refused", "ldap://h", phase="connect")
    )
    ldap = table(BASE + "query_filter = (mail=%d)\n", lambda *_: outcome([]), connect_error=refused)[0]
    assert ldap.lookup("nodomain").error is not None
    unbound = table(
        BASE + "bind = no\nquery_filter = (mail=%d)\n", lambda *_: outcome([]), connect_error=refused
    )[0]
    assert unbound.lookup("nodomain").error is None


def test_terminal_state_carries_over_and_is_reported() -> None:
    answer = by_filter(
        {
            "(mailacceptinggeneralid=k@x)": [entry("cn=t", term=["t@x"]), entry("cn=r", mail=["r@x"])],
        }
    )
    result = table(BASE + "terminal_result_attribute = term\n", answer)[0].lookup("k@x")
    assert result.value == "t@x"
    assert [s.action for s in result.steps].count("quirk") == 1


def test_leaf_state_carries_over_and_is_reported() -> None:
    answer = by_filter(
        {
            "(mailacceptinggeneralid=k@x)": [
                entry("cn=g", member=["cn=m"]),
                entry("cn=l", leaf=["l@x"], mail=["m@x"]),
            ],
            "cn=m": [entry("cn=m", mail=["member@x"], leaf=["memberleaf@x"])],
        }
    )
    result = table(BASE + "leaf_result_attribute = leaf\nspecial_result_attribute = member\n", answer)[
        0
    ].lookup("k@x")
    assert result.value == "member@x,memberleaf@x,m@x"
    assert any(s.action == "quirk" and "leaf-only leaf" in s.detail for s in result.steps)


def test_recursion_limit_and_missing_member_dns() -> None:
    loop = by_filter(
        {
            "(mailacceptinggeneralid=k@x)": [entry("cn=a", member=["cn=b"])],
            "cn=b": [entry("cn=b", member=["cn=a"], mail=["b@x"])],
            "cn=a": [entry("cn=a", member=["cn=b"])],
        }
    )
    result = table(BASE + "special_result_attribute = member\nrecursion_limit = 3\n", loop)[0].lookup("k@x")
    assert (
        result.error
        == "dict_ldap_get_values[3]: /t.cf: Recursion limit exceeded for special attribute member=cn=b"
    )

    def missing(base: str, scope: int, query: str) -> SearchOutcome:
        if base == "cn=gone":
            return outcome([], code=32)
        return outcome([entry("cn=a", member=["cn=gone"], mail=["a@x"])])

    result = table(BASE + "special_result_attribute = member\n", missing)[0].lookup("k@x")
    assert (result.value, result.error) == ("a@x", None)
    logs = [s.detail for s in result.steps if s.action == "log"]
    assert logs == [
        "warning: dict_ldap_get_values[1]: DN cn=gone not found, skipping ",
        "warning: dict_ldap_lookup: Had some trouble with entries returned by search: No such object",
    ]


def test_special_urls_use_their_dn_scope_filter_and_pertinent_attributes() -> None:
    def answer(base: str, scope: int, query: str) -> SearchOutcome:
        if base == "ou=p":
            return outcome([entry("cn=p", mail=["p@x"])])
        return outcome([entry("cn=g", url=["ldap:///ou=p?mail,cn?one?(cn=p*)", "ldap:///ou=p?cn"])])

    ldap, connection = table(BASE + "special_result_attribute = url\n", answer)
    assert ldap.lookup("k@x").value == "p@x"
    assert connection.directory.searches[1][:4] == ("ou=p", 1, "(cn=p*)", ("mail",))
    assert len(connection.directory.searches) == 2  # the second URL asks for nothing postfix uses


def test_expansion_limit_counts_values_across_recursion() -> None:
    answer = by_filter(
        {
            "(mailacceptinggeneralid=k@x)": [entry("cn=a", mail=["1@x"], member=["cn=b"])],
            "cn=b": [entry("cn=b", mail=["2@x", "3@x"])],
        }
    )
    result = table(BASE + "special_result_attribute = member\nexpansion_limit = 2\n", answer)[0].lookup("k@x")
    assert result.error == "dict_ldap_get_values[2]: /t.cf: Expansion limit exceeded for key: 'k@x'"


def test_domain_list_and_non_utf8_keys_are_skipped_without_a_query() -> None:
    ldap, connection = table(BASE + "domain = x\n", lambda *_: outcome([entry("cn=a", mail=["a@x"])]))
    ldap.domains = parse_string_list("/t.cf", ldap.config.domain, lambda spec: ldap, lambda path: None)
    assert ldap.lookup("k@y").value is None
    assert ldap.lookup("@x").value is None
    assert ldap.lookup(b"\xffk@x".decode("utf-8", "surrogateescape")).value is None
    assert connection.directory.searches == []
    assert ldap.lookup("k@X").value == "a@x"


def test_utf8_mode_casefolds_and_rejects_non_utf8_values() -> None:
    config = read_ldap_table(parse_postfix_cf(BASE, "/t.cf"))
    directory = FakeDirectory(lambda *_: outcome([entry("cn=a", mail=[b"a\xff@x"])]))
    ldap = LdapTable(config, FakeConnection(directory), keys=KeyPolicy(utf8=True))  # type: ignore[arg-type]
    result = ldap.lookup("STRAẞE@X")
    assert directory.searches[0][2] == "(mailacceptinggeneralid=strasse@x)"
    assert result.error is not None and "non-UTF-8 value" in result.error


def test_password_never_appears_in_steps() -> None:
    wrong = DirectoryProblem(
        Problem(ProblemKind.INVALID_CREDENTIALS, "bad", "ldap://h", code=49, phase="bind")
    )
    result = table(
        BASE + "bind_dn = cn=me\nbind_pw = pw-s3cret\n", lambda *_: outcome([]), connect_error=wrong
    )[0].lookup("k")
    assert "pw-s3cret" not in repr(result)
