"""The LDAP passdb and userdb of dovecot 2.3: lookups, password checks and their verdicts.

Mirrors dovecot 2.3.19.1 src/auth/passdb-ldap.c (`ldap_verify_plain()`: `ldap_lookup_pass()` +
`ldap_query_save_result()` + `ldap_lookup_finish()` without auth_bind; `ldap_bind_lookup_dn()` +
`ldap_auth_bind()` + `ldap_auth_bind_callback()` with auth_bind; the `auth_bind_userdn` direct bind)
and src/auth/userdb-ldap.c (`userdb_ldap_lookup()`, `ldap_query_get_result()`,
`userdb_ldap_lookup_finish()`), with auth-request.c's verdict rules for a single passdb/userdb
(`auth_request_handle_passdb_callback()`: a passdb that set `failed` turns OK into unknown).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from ldapdiag.directory.directory import Directory, Entry
from ldapdiag.directory.policy import BindPolicy
from ldapdiag.directory.problems import DirectoryProblem
from ldapdiag.directory.secret import Secret
from ldapdiag.dovecot.auth_request import _PASSWORD, AuthRequest, ldap_escape
from ldapdiag.dovecot.ldap_fields import AttrMap, FieldIterator, parse_attrs
from ldapdiag.dovecot.ldap_search import DirectoryFactory, DovecotSearch, dovecot_search, ldap_err2string
from ldapdiag.dovecot.password_schemes import PASSWORD_MISMATCH, check_password
from ldapdiag.dovecot.settings import LdapSettings
from ldapdiag.dovecot.var_expand import UnsupportedExpansion

PassdbResult = Literal["ok", "unknown", "mismatch", "internal_failure"]
UserdbResult = Literal["ok", "unknown", "internal_failure"]


class CannotPredict(Exception):
    """ldapdiag cannot tell what dovecot would do (a construct it does not emulate)."""


@dataclass
class PassdbOutcome:
    """The passdb step of a login."""

    result: PassdbResult
    user: str  # the login name after auth_username_format and a `user` rename
    reason: str
    searches: list[DovecotSearch] = field(default_factory=list)
    bind_dn: str | None = None  # the DN of an auth bind
    scheme: str | None = None  # the password scheme checked


@dataclass
class UserdbOutcome:
    """The userdb step (doveadm user, LMTP, and the end of an IMAP login)."""

    result: UserdbResult
    user: str
    fields: dict[str, str]
    reason: str
    searches: list[DovecotSearch] = field(default_factory=list)


def _expand(request: AuthRequest, template: str, what: str) -> str:
    """auth_request_var_expand(..., ldap_escape): CannotPredict is not raised for a failed
    expansion - dovecot fails the lookup then (the caller checks `.ok`)."""
    expansion = request.expand(template, ldap_escape)
    if not expansion.ok:
        raise _ExpandFailed(f"Failed to expand {what}={template}: {expansion.error}")
    return expansion.text


class _ExpandFailed(Exception):
    pass


def _search(
    request: AuthRequest, settings: LdapSettings, directory: Directory, filter_template: str, attrs: AttrMap
) -> DovecotSearch:
    base = _expand(request, settings.base, "base")
    what = "user_filter" if request.userdb_lookup else "pass_filter"
    filter_ = _expand(request, filter_template, what)
    return dovecot_search(directory, base, settings.scope, filter_, attrs.attributes or ())


def _apply_fields(request: AuthRequest, attrs: AttrMap, entry: Entry, passdb: bool, scheme: str) -> None:
    """ldap_query_save_result() (passdb) / ldap_query_get_result() (userdb), field by field."""
    iterator = FieldIterator(attrs, entry, skip_null_values=not passdb)
    while True:
        value = iterator.next(
            lambda dollar, template: request.var_table(dollar=dollar, with_dollar=True, template=template),
        )
        if value is None:
            return
        request.log += value.warnings
        if any(_PASSWORD in v for v in value.values):
            raise CannotPredict("a template uses the password (%w): ldapdiag does not expand it")
        if passdb:
            if not value.values:
                continue  # auth_request_set_null_field(): only userdb_* names matter
            if len(value.values) > 1:
                request.log.append(f"Multiple values found for '{value.name}': dovecot uses the first one")
            request.set_field(value.name, value.values[0], scheme)
        else:
            request.set_userdb_field_values(value.name, value.values)


def passdb_verify_plain(
    request: AuthRequest, settings: LdapSettings, directory: Directory, factory: DirectoryFactory
) -> PassdbOutcome:
    """ldap_verify_plain() and the verdict auth-request.c makes of it."""
    password = request.mech_password or ""
    if any(c in password for c in "\x01\t\r\n"):
        return PassdbOutcome("unknown", request.user, "Attempted login with password having illegal chars")
    try:
        if not settings.auth_bind:
            outcome = _lookup_pass(request, settings, directory)
        elif settings.auth_bind_userdn is None:
            outcome = _bind_lookup_dn(request, settings, directory, factory)
        else:
            outcome = _bind_userdn(request, settings, directory, factory)
    except _ExpandFailed as error:
        outcome = PassdbOutcome("internal_failure", request.user, str(error))
    except UnsupportedExpansion as error:
        raise CannotPredict(str(error)) from None
    if request.failed and outcome.result == "ok":
        outcome.result = "unknown"
        outcome.reason = "; ".join(request.log[-1:]) or "the passdb set the fail field"
    outcome.user = request.user
    return outcome


def _lookup_pass(request: AuthRequest, settings: LdapSettings, directory: Directory) -> PassdbOutcome:
    """ldap_lookup_pass() + ldap_lookup_pass_callback() + ldap_lookup_finish()."""
    attrs = parse_attrs(settings.pass_attrs)
    request.log += attrs.errors
    search = _search(request, settings, directory, settings.pass_filter, attrs)
    done = _search_verdict(search, request)
    if done is not None:
        return done
    assert search.entry is not None
    _apply_fields(request, attrs, search.entry, True, settings.default_pass_scheme)
    if request.passdb_password is None and "nopassword" not in request.extra_fields:
        return PassdbOutcome("mismatch", request.user, "No password returned (and no nopassword)", [search])
    if request.passdb_password is None:
        return PassdbOutcome("ok", request.user, "", [search])
    check = check_password(
        request.mech_password or "",
        request.passdb_password,
        settings.default_pass_scheme,
        request.original_username or request.user,
    )
    if check.result == "unsupported":
        raise CannotPredict(check.reason)
    result: PassdbResult = "ok" if check.ok else "mismatch"
    return PassdbOutcome(result, request.user, check.reason, [search], scheme=check.scheme)


def passdb_lookup(request: AuthRequest, settings: LdapSettings, directory: Directory) -> PassdbOutcome:
    """ldap_lookup_credentials() (`doveadm auth lookup`): the entry and its fields, no password
    check; without auth_bind a missing password field fails like a mismatch."""
    attrs = parse_attrs(settings.pass_attrs, skip_field="password" if settings.auth_bind else None)
    request.log += attrs.errors
    try:
        search = _search(request, settings, directory, settings.pass_filter, attrs)
        done = _search_verdict(search, request)
        if done is not None:
            return done
        assert search.entry is not None
        _apply_fields(request, attrs, search.entry, True, settings.default_pass_scheme)
    except _ExpandFailed as error:
        return PassdbOutcome("internal_failure", request.user, str(error))
    except UnsupportedExpansion as error:
        raise CannotPredict(str(error)) from None
    if request.failed:
        return PassdbOutcome("unknown", request.user, "the passdb set the fail field", [search])
    if (
        request.passdb_password is None
        and not settings.auth_bind
        and "nopassword" not in request.extra_fields
    ):
        return PassdbOutcome("mismatch", request.user, "No password returned (and no nopassword)", [search])
    reason = "no password given: the password was not checked"
    scheme = None
    if request.passdb_password is not None:
        scheme = request.passdb_password[1 : request.passdb_password.find("}")]
    return PassdbOutcome("ok", request.user, reason, [search], scheme=scheme)


AUTH_PANIC = (
    "Panic: file hash.c: line 256 (hash_table_insert_node): assertion failed: "
    "(opcode == HASH_TABLE_OP_UPDATE): the auth process dies (signal 6): the entry holds an "
    "attribute twice"
)


def auth_process_dies(search: DovecotSearch) -> bool:
    """get_ldap_fields() puts every attribute of the first entry (as it arrives) into a hash table
    by case-insensitive name with hash_table_insert(), which asserts the name is new: an attribute
    the server sends twice in that entry kills dovecot 2.3's auth process (signal 6), and the
    lookup fails as a temporary error (db-ldap.c, userdb-ldap.c and passdb-ldap.c: "first entry")."""
    if not search.entries:
        return False
    names = [name.lower() for name, _values in search.entries[0].raw]
    return len(set(names)) != len(names)


def _search_verdict(search: DovecotSearch, request: AuthRequest) -> PassdbOutcome | None:
    """Errors, no entry, several entries: the passdb's answer before any password check."""
    if auth_process_dies(search):
        return PassdbOutcome("internal_failure", request.user, AUTH_PANIC, [search])
    if search.error is not None:
        return PassdbOutcome("internal_failure", request.user, search.error, [search])
    if not search.entries:
        return PassdbOutcome("unknown", request.user, "unknown user", [search])
    return None


def _bind_lookup_dn(
    request: AuthRequest, settings: LdapSettings, directory: Directory, factory: DirectoryFactory
) -> PassdbOutcome:
    """ldap_bind_lookup_dn() + ldap_bind_lookup_dn_callback(): the entry's DN, then an auth bind."""
    attrs = parse_attrs(settings.pass_attrs, skip_field="password")
    request.log += attrs.errors
    search = _search(request, settings, directory, settings.pass_filter, attrs)
    done = _search_verdict(search, request)
    if done is not None:
        return done
    assert search.entry is not None
    _apply_fields(request, attrs, search.entry, True, settings.default_pass_scheme)
    outcome = _auth_bind(request, search.entry.dn, directory, factory)
    outcome.searches.insert(0, search)
    return outcome


def _bind_userdn(
    request: AuthRequest, settings: LdapSettings, directory: Directory, factory: DirectoryFactory
) -> PassdbOutcome:
    """ldap_verify_plain_auth_bind_userdn(): the DN from the template, no search."""
    assert settings.auth_bind_userdn is not None
    dn = _expand(request, settings.auth_bind_userdn, "auth_bind_userdn")
    return _auth_bind(request, dn, directory, factory)


def _auth_bind(
    request: AuthRequest, dn: str, directory: Directory, factory: DirectoryFactory
) -> PassdbOutcome:
    """ldap_auth_bind() + ldap_auth_bind_callback()."""
    if not request.mech_password:
        return PassdbOutcome("mismatch", request.user, "Login attempt with empty password", bind_dn=dn)
    policy = replace(
        directory.policy,
        bind=BindPolicy(
            "simple", dn=dn, password=Secret(request.mech_password), origin="dovecot auth bind", login=True
        ),
    )
    user_directory = factory(policy)
    try:
        user_directory.connect()
    except DirectoryProblem as error:
        problem = error.problem
        if problem.phase == "bind" and problem.code == 49:
            return PassdbOutcome("mismatch", request.user, f"{PASSWORD_MISMATCH} (for LDAP bind)", bind_dn=dn)
        if problem.phase == "bind" and problem.code == 32:
            return PassdbOutcome("unknown", request.user, "unknown user", bind_dn=dn)
        if problem.phase == "bind" and problem.code is not None:
            reason = f"ldap_bind() failed: {ldap_err2string(problem.code)}"
        else:
            reason = f"LDAP server not reachable for the auth bind: {problem}"
        return PassdbOutcome("internal_failure", request.user, reason, bind_dn=dn)
    finally:
        user_directory.close()
    return PassdbOutcome("ok", request.user, "", bind_dn=dn)


def userdb_lookup(request: AuthRequest, settings: LdapSettings, directory: Directory) -> UserdbOutcome:
    """userdb_ldap_lookup() + userdb_ldap_lookup_finish(), and the tempfail rule of the master reply."""
    request.userdb_lookup = True
    attrs = parse_attrs(settings.user_attrs)
    request.log += attrs.errors
    try:
        search = _search(request, settings, directory, settings.user_filter, attrs)
    except _ExpandFailed as error:
        return UserdbOutcome("internal_failure", request.user, {}, str(error))
    except UnsupportedExpansion as error:
        raise CannotPredict(str(error)) from None
    if auth_process_dies(search):
        return UserdbOutcome("internal_failure", request.user, {}, AUTH_PANIC, [search])
    if search.error is not None:
        return UserdbOutcome("internal_failure", request.user, {}, search.error, [search])
    if not search.entries:
        return UserdbOutcome("unknown", request.user, {}, "unknown user", [search])
    try:
        _apply_fields(request, attrs, search.entries[0], False, settings.default_pass_scheme)
    except UnsupportedExpansion as error:
        raise CannotPredict(str(error)) from None
    if request.userdb_lookup_tempfailed:
        reason = next((line for line in request.log if line.startswith("Invalid")), "userdb lookup failed")
        return UserdbOutcome("internal_failure", request.user, {}, reason, [search])
    fields = {"user": request.user, **request.userdb_reply}
    return UserdbOutcome("ok", request.user, fields, "", [search])
