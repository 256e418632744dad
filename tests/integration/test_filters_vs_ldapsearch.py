"""Our filter layer against the real thing: ldapsearch + slapd 2.5, and libldap's own filter encoder.

For every filter of the corpus, the real `ldapsearch -x -LLL -H URL -D DN -y PWFILE -b BASE FILTER 1.1`
and ldapdiag's `search()` (our parser, our BER, sent through ldap3) must return the same DNs in the
same order, or both fail: where ldapsearch says "Bad search filter (-7)", our parser raises
FilterSyntaxError. A second part feeds generated strings to libldap's ldap_pvt_put_filter() (the
function ldap_search_ext() uses, loaded with ctypes) and checks that we accept the same strings and
build the same BER.
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
from collections.abc import Iterator

import ldap3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ldap3.core.exceptions import LDAPSessionTerminatedByServerError
from pyasn1.codec.ber import encoder as ber

from ldapdiag.demo import RunningDirectory
from ldapdiag.directory.filters import EmptyFilter, Filter, FilterSyntaxError, encode, parse
from ldapdiag.directory.ldap3_filter import search, to_ldap3_filter
from tests.ldap_server import basic_setup_directory, ldapsearch  # noqa: F401
from tests.unit.test_filters import filter_trees

BAD_FILTER = "Bad search filter (-7)"
ALL_ENTRIES = [
    "dc=example,dc=org",
    "ou=users,dc=example,dc=org",
    "cn=admin,ou=users,dc=example,dc=org",
    "uid=alice,ou=users,dc=example,dc=org",
    "uid=bob,ou=users,dc=example,dc=org",
    "uid=carol,ou=users,dc=example,dc=org",
    "uid=dave,ou=users,dc=example,dc=org",
]

# The filters of the seed (/work/shared/seed/dms-ldap-provisioner.md), placeholders filled in:
# %s = an address or domain, %u = the login, %n / %U = its local part.
SEED_FILTERS = [
    "(mail=*@example.org)",  # LDAP_QUERY_FILTER_DOMAIN (first example)
    "(mail=alice@example.org)",  # LDAP_QUERY_FILTER_USER
    "(|)",  # LDAP_QUERY_FILTER_ALIAS / _GROUP: "doesn't match anything"
    "(|(mail=bob@example.org)(mail=admin@*))",  # LDAP_QUERY_FILTER_SENDERS
    "(|(memberOf=cn=admin,*)(mail=carol@example.org))",  # the spoofing example
    "(&(objectClass=PostfixBookMailAccount)(uniqueIdentifier=alice))",  # DOVECOT_USER_FILTER default
    "(&(objectClass=qmailUser)(uid=alice@example.org)(accountStatus=active))",  # qmail example
    "(&(mail=noreply@example.org)(|(memberOf=cn=email,*)(mail=noreply@example.org)))",  # SASLAUTHD note
    "(mail=alice@example.org)",  # SASLAUTHD_LDAP_FILTER=(mail=%U@example.org)
    # Active Directory section
    "(&(objectclass=person)(mail=alice@example.org))",
    "(&(objectclass=person)(proxyAddresses=smtp:alice@example.org))",
    "(&(objectClass=group)(mail=team@example.org))",
    "(|(mail=bob@example.org)(proxyAddresses=smtp:bob@example.org)(memberOf=cn=Domain Admins,cn=Users,dc=*))",
    "(&(objectclass=person)(sAMAccountName=alice))",
    "(&(sAMAccountName=alice)(objectClass=person))",
    # Basic Setup example
    "(|(mail=*@example.org)(mailAlias=*@example.org)(mailGroupMember=*@example.org))",
    "(&(objectClass=inetOrgPerson)(mail=dave.davis@example.org))",
    "(&(objectClass=inetOrgPerson)(mailAlias=info@example.org))",
    "(&(objectClass=inetOrgPerson)(mailGroupMember=team@example.org))",
    "(&(objectClass=inetOrgPerson)(|(mail=info@example.org)(mailAlias=info@example.org)"
    "(mailGroupMember=info@example.org)))",
    "(&(objectClass=inetOrgPerson)(mail=bob@example.org))",
    "(&(mail=carol@example.org)(objectClass=inetOrgPerson))",
    # Kopano / Zarafa example
    "(&(objectClass=user)(mail=alice@example.org))",
    "(&(|(mail=*@example.org)(mailalias=*@example.org)(mailGroupMember=*@example.org))(mailEnabled=TRUE))",
]

MORE_FILTERS = [
    # RFC 4526 absolute true / false, and their negations
    "(&)",
    "(!(&))",
    "(!(|))",
    "(&(&)(mail=bob@example.org))",
    "(|(|)(mail=bob@example.org))",
    # no outer parentheses, spaces where libldap skips them
    "mail=alice@example.org",
    "uid=*",
    "( mail=bob@example.org)",
    "(&\t(objectClass=inetOrgPerson)\n(uid=carol) )",
    "(! (uid=alice))",
    "(!(mail=alice@example.org))",
    # substrings
    "(mail=a*)",
    "(mail=*b*)",
    "(cn=*a*s*)",
    "(cn=B*r)",
    "(mailAlias=*@example.org)",
    "(memberOf=cn=admin,*)",
    # escapes, old and new, and empty values
    "(cn=Alice\\20Adams)",
    "(cn=\\41lice Adams)",
    "(cn=\\2a)",
    "(cn=\\*)",
    "(description=\\28x\\29)",
    "(description=\\5c)",
    "(cn=\\00)",
    "(mail=)",
    "(uid=ALICE)",
    # non-ASCII values (UTF-8, raw and escaped)
    "(|(cn=Jürgen)(uid=bob))",
    "(sn=B\\c3\\a4ker)",
    # ordering, approximate, options
    "(uidNumber>=5000)",
    "(uidNumber<=4999)",
    "(mail>=c)",
    "(cn~=Alice Adams)",
    "(sn~=Adamz)",
    "(cn;lang-en=Alice Adams)",
    "(2.5.4.3=Bob Baker)",
    # extensible matches
    "(memberOf:1.2.840.113556.1.4.1941:=cn=admin,ou=users,dc=example,dc=org)",
    "(mail:caseExactIA5Match:=Dave.Davis@example.org)",
    "(mail:caseExactIA5Match:=dave.davis@example.org)",
    "(uid:2.5.13.2:=ALICE)",
    "(ou:dn:=users)",
    "(:dn:caseIgnoreMatch:=users)",
    "(:caseIgnoreMatch:=users)",
    "(cn:dn::=users)",
    # what libldap refuses
    "(cn=**)",
    " (mail=alice@example.org)",
    "(mail=alice@example.org) ",
    "(mail=alice@example.org",
    "mail=alice@example.org)",
    "((mail=alice@example.org))",
    "(!(uid=alice)(uid=bob))",
    "(!(uid=alice) )",
    "(!)",
    "(cn=\\4g)",
    "(cn=x\\)",
    "(cn =Alice Adams)",
    "(:dn:=users)",
    "(uidNumber>=5*)",
    "(&(uid=alice)uid=bob)",
    "(uid=alice)(uid=bob)",
]

CORPUS = SEED_FILTERS + MORE_FILTERS


@pytest.fixture(scope="module")
def directory(basic_setup_directory: RunningDirectory) -> RunningDirectory:  # noqa: F811
    """The basic-setup slapd."""
    return basic_setup_directory


def connect(directory: RunningDirectory) -> ldap3.Connection:
    """An ldap3 connection bound like ldapsearch -x -D DN -y PWFILE."""
    password = directory.password_file.read_text()
    server = ldap3.Server(directory.ldap_url, get_info=ldap3.NONE)
    return ldap3.Connection(server, directory.bind_dn, password, auto_bind=True)


@pytest.fixture(scope="module")
def connection(directory: RunningDirectory) -> Iterator[ldap3.Connection]:
    """One bound connection for the corpus."""
    bound = connect(directory)
    yield bound
    bound.unbind()


def dns_in_order(ldif: str) -> list[str]:
    """DNs of ldapsearch -LLL output in the order printed (base64 `dn::` lines decoded)."""
    dns = []
    for line in ldif.splitlines():
        if line.startswith("dn:: "):
            dns.append(base64.b64decode(line[5:]).decode())
        elif line.startswith("dn: "):
            dns.append(line[4:])
    return dns


def test_corpus_is_big_and_every_entry_reaches_ldapsearch_as_a_filter() -> None:
    assert len(CORPUS) >= 40
    for text in CORPUS:  # otherwise ldapsearch takes it for an attribute and searches (objectclass=*)
        assert text.startswith("(") or "=" in text, text
        assert not text.startswith("-"), text


@pytest.mark.parametrize("text", CORPUS, ids=repr)
def test_same_answer_as_ldapsearch(
    directory: RunningDirectory, connection: ldap3.Connection, text: str
) -> None:
    real = ldapsearch(directory, text)
    if BAD_FILTER in real.stderr:
        with pytest.raises(FilterSyntaxError):
            parse(text)
        with pytest.raises(FilterSyntaxError):
            search(connection, directory.base, ldap3.SUBTREE, text, ["1.1"])
        return
    ours = search(connection, directory.base, ldap3.SUBTREE, text, ["1.1"])
    assert ours.result["result"] == real.returncode, real.stderr
    assert ours.dns == dns_in_order(real.stdout)
    assert ours.references == []


def test_corpus_exercises_matches_misses_and_errors(directory: RunningDirectory) -> None:
    """Guard against a corpus where everything fails or nothing matches."""
    outcomes = [ldapsearch(directory, text) for text in CORPUS]
    bad = sum(BAD_FILTER in outcome.stderr for outcome in outcomes)
    found = sum(bool(dns_in_order(outcome.stdout)) for outcome in outcomes)
    empty = len(CORPUS) - bad - found
    assert bad >= 10 and found >= 30 and empty >= 10, (bad, found, empty)


def test_slapd_answers_absolute_true_with_everything_and_false_with_nothing(
    directory: RunningDirectory, connection: ldap3.Connection
) -> None:
    root_dse = search(connection, "", ldap3.BASE, "(objectClass=*)", ["supportedFeatures"])
    assert b"1.3.6.1.4.1.4203.1.5.3" in root_dse.entries[0]["raw_attributes"]["supportedFeatures"]
    assert dns_in_order(ldapsearch(directory, "(&)").stdout) == ALL_ENTRIES
    assert dns_in_order(ldapsearch(directory, "(|)").stdout) == []
    assert search(connection, directory.base, ldap3.SUBTREE, "(&)", ["1.1"]).dns == ALL_ENTRIES
    assert search(connection, directory.base, ldap3.SUBTREE, "(|)", ["1.1"]).dns == []


def test_ldap3_alone_refuses_what_libldap_sends(connection: ldap3.Connection) -> None:
    """Why the filter layer exists: ldap3 2.9.1's own parser fails on these."""
    for text in ("(&)", "(|)", "mail=alice@example.org"):
        with pytest.raises(ldap3.core.exceptions.LDAPInvalidFilterError):
            connection.search("dc=example,dc=org", text, attributes=["1.1"])


def test_auto_range_and_auto_referrals_are_restored(connection: ldap3.Connection) -> None:
    before = connection.auto_range, connection.auto_referrals
    search(connection, "dc=example,dc=org", ldap3.SUBTREE, "(uid=alice)", [])
    assert (connection.auto_range, connection.auto_referrals) == before


def test_attributes_come_back_as_requested(directory: RunningDirectory, connection: ldap3.Connection) -> None:
    result = search(connection, directory.base, ldap3.SUBTREE, "uid=dave", ["mail", "uid"])
    assert result.dns == ["uid=dave,ou=users,dc=example,dc=org"]
    assert result.entries[0]["raw_attributes"]["mail"] == [b"Dave.Davis@example.org"]


def test_size_limit_is_reported_not_raised(directory: RunningDirectory, connection: ldap3.Connection) -> None:
    result = search(connection, directory.base, ldap3.SUBTREE, "(mail=*)", ["1.1"], size_limit=1)
    assert result.result["result"] == 4  # sizeLimitExceeded, what postfix sees for size_limit
    assert len(result.entries) == 1


# --- the empty filter: libldap sends a request without filter ---------------------------------


class LibLdap:
    """The system's libldap through ctypes: its filter encoder and a simple-bind search."""

    def __init__(self) -> None:
        self.lber = _first_library("lber")
        self.ldap = _first_library("ldap")
        self.lber.ber_alloc_t.restype = ctypes.c_void_p
        self.lber.ber_flatten2.argtypes = [ctypes.c_void_p, ctypes.POINTER(_BerValue), ctypes.c_int]
        self.lber.ber_free.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self.ldap.ldap_pvt_put_filter.argtypes = [ctypes.c_void_p, ctypes.c_char_p]

    def put_filter(self, text: bytes) -> bytes | None:
        """ldap_pvt_put_filter(): the filter's BER, or None where libldap says -1."""
        element = self.lber.ber_alloc_t(1)
        try:
            if self.ldap.ldap_pvt_put_filter(element, text) != 0:
                return None
            flat = _BerValue()
            self.lber.ber_flatten2(element, ctypes.byref(flat), 0)
            return ctypes.string_at(flat.bv_val, flat.bv_len) if flat.bv_len else b""
        finally:
            self.lber.ber_free(element, 1)

    def search_code(self, directory: RunningDirectory, text: bytes) -> int:
        """ldap_search_ext_s() after a simple bind: the result code, as postfix would get it."""
        handle = ctypes.c_void_p()
        assert self.ldap.ldap_initialize(ctypes.byref(handle), directory.ldap_url.encode()) == 0
        version = ctypes.c_int(3)
        self.ldap.ldap_set_option(handle, 0x11, ctypes.byref(version))  # LDAP_OPT_PROTOCOL_VERSION
        password = directory.password_file.read_bytes()
        credentials = _BerValue(len(password), ctypes.cast(ctypes.c_char_p(password), ctypes.c_void_p))
        bind = self.ldap.ldap_sasl_bind_s(
            handle, directory.bind_dn.encode(), None, ctypes.byref(credentials), None, None, None
        )
        assert bind == 0
        attributes = (ctypes.c_char_p * 2)(b"1.1", None)
        message = ctypes.c_void_p()
        base = directory.base.encode()
        code = self.ldap.ldap_search_ext_s(
            handle, base, 2, text, attributes, 0, None, None, None, 0, ctypes.byref(message)
        )
        if message:
            self.ldap.ldap_msgfree(message)
        self.ldap.ldap_unbind_ext_s(handle, None, None)
        return code


def _first_library(name: str) -> ctypes.CDLL:
    """OpenLDAP 2.5's library as Debian 12 ships it, else whatever the system has."""
    for candidate in (f"lib{name}-2.5.so.0", f"lib{name}.so.2", ctypes.util.find_library(name)):
        if candidate:
            try:
                return ctypes.CDLL(candidate)
            except OSError:
                continue
    raise OSError(f"lib{name} not found")


class _BerValue(ctypes.Structure):
    _fields_ = [("bv_len", ctypes.c_ulong), ("bv_val", ctypes.c_void_p)]


def load_libldap() -> LibLdap | None:
    """libldap if it is installed and exports ldap_pvt_put_filter."""
    try:
        library = LibLdap()
    except (OSError, AttributeError):
        return None
    return library


LIBLDAP = load_libldap()
requires_libldap = pytest.mark.skipif(LIBLDAP is None, reason="libldap (Debian: libldap-2.5-0) not found")


@requires_libldap
def test_empty_filter_is_sent_without_filter_like_libldap(directory: RunningDirectory) -> None:
    assert LIBLDAP is not None
    assert LIBLDAP.put_filter(b"") == b"" and LIBLDAP.put_filter(b" ") == b""
    assert LIBLDAP.search_code(directory, b"") == 2  # LDAP_PROTOCOL_ERROR: slapd disconnects
    assert parse("") == EmptyFilter() == parse(" ")
    doomed = connect(directory)
    with pytest.raises(LDAPSessionTerminatedByServerError):
        search(doomed, directory.base, ldap3.SUBTREE, "", ["1.1"])
    assert doomed.closed


# --- libldap's own encoder against ours, on generated strings ----------------------------------


def normalized(data: bytes) -> bytes:
    """BER with minimal lengths and BOOLEAN TRUE as 01 (libldap writes ff, pyasn1 01)."""
    out = bytearray()
    index = 0
    while index < len(data):
        tag, length = data[index], data[index + 1]
        index += 2
        if length & 0x80:
            width = length & 0x7F
            length = int.from_bytes(data[index : index + width], "big")
            index += width
        content = data[index : index + length]
        index += length
        if tag & 0x20:
            content = normalized(content)
        elif tag == 0x84:  # dnAttributes [4] BOOLEAN
            content = b"\x01" if content.strip(b"\x00") else b"\x00"
        out += bytes([tag]) + _length(len(content)) + content
    return bytes(out)


def _length(size: int) -> bytes:
    """A BER definite length in its shortest form."""
    if size < 0x80:
        return bytes([size])
    width = (size.bit_length() + 7) // 8
    return bytes([0x80 | width]) + size.to_bytes(width, "big")


def our_ber(text: bytes) -> bytes | None:
    """Our parser + pyasn1 encoding, None where we raise FilterSyntaxError."""
    try:
        tree = parse(text)
    except FilterSyntaxError:
        return None
    return b"" if isinstance(tree, EmptyFilter) else ber.encode(to_ldap3_filter(tree))


def assert_same_as_libldap(text: bytes) -> None:
    """Accepted and rejected alike, and the same BER where accepted."""
    assert LIBLDAP is not None
    theirs, ours = LIBLDAP.put_filter(text), our_ber(text)
    assert (theirs is None) == (ours is None), (text, theirs, ours)
    if theirs is not None and ours is not None:
        assert normalized(ours) == normalized(theirs), text


TOKENS = [
    *"()()&|!==**\\:<>~; \t\ncnx0.-aF",
    "é", "dn", ":dn:", "cn=", "(cn=", ")(", "\\2a", "\\5", "\\28", "\\\\", "1.2", "(&", "(|", "(!",
    ":caseExactMatch", "mail", ";lang-en", "\\ff", "2.5.4.3",
]  # fmt: skip
token_strings = st.lists(st.sampled_from(TOKENS), max_size=16).map("".join)


@requires_libldap
@settings(max_examples=3000, deadline=None)
@given(token_strings)
def test_generated_strings_like_libldap(text: str) -> None:
    assert_same_as_libldap(text.encode())
    assert_same_as_libldap(("(" + text + ")").encode())


@requires_libldap
@settings(max_examples=1000, deadline=None)
@given(filter_trees, st.data())
def test_edited_filters_like_libldap(tree: Filter, data: st.DataObject) -> None:
    """A valid filter, then one token inserted or one character replaced somewhere."""
    text = encode(tree)
    assert_same_as_libldap(text.encode())
    where = data.draw(st.integers(0, len(text)))
    token = data.draw(st.sampled_from(TOKENS))
    replace = data.draw(st.booleans())
    assert_same_as_libldap((text[:where] + token + text[where + replace :]).encode())


@requires_libldap
@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=20))
def test_arbitrary_bytes_like_libldap(data: bytes) -> None:
    assert_same_as_libldap(data.split(b"\0", 1)[0])


@requires_libldap
@pytest.mark.parametrize("text", CORPUS, ids=repr)
def test_corpus_ber_like_libldap(text: str) -> None:
    assert_same_as_libldap(text.encode())
