"""libldap's error strings, as postfix prints them, against the installed libldap (when present)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

import pytest

from ldapdiag.postfix import ldap_messages as msg


@functools.cache
def _libldap() -> ctypes.CDLL | None:
    for name in ("libldap-2.5.so.0", "libldap.so.2", ctypes.util.find_library("ldap")):
        if not name:
            continue
        try:
            library = ctypes.CDLL(name)
        except OSError:
            continue
        library.ldap_err2string.restype = ctypes.c_char_p
        library.ldap_err2string.argtypes = [ctypes.c_int]
        return library
    return None


@pytest.mark.parametrize("code", [*range(-18, 124), 4096])
def test_err2string_equals_libldap(code: int) -> None:
    library = _libldap()
    if library is None:
        pytest.skip("libldap is not installed")
    assert msg.err2string(code) == library.ldap_err2string(code).decode()


def test_messages_have_postfix_words() -> None:
    assert msg.bind_failed("ldap://h:389", "", -1) == (
        "dict_ldap_connect: Unable to bind to server ldap://h:389 with dn empty or implicit: "
        "-1 (Can't contact LDAP server)"
    )
    assert msg.search_failed(2) == "dict_ldap_lookup: Search error 2: Protocol error "
    assert msg.starttls_failed(-11) == "dict_ldap_connect: Unable to set STARTTLS: -11: Connect error"
    assert (
        msg.base_not_found("/t.cf", "dc=x")
        == "dict_ldap_lookup: /t.cf: Search base 'dc=x' not found: 32: No such object"
    )
