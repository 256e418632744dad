"""The dovecot and saslauthd side of `--explain`: passdb/userdb lookups and saslauthd's search.

Dovecot 2.3 src/auth/passdb-ldap.c and userdb-ldap.c send one search per lookup (plus an auth
bind as the entry's DN with auth_bind); saslauthd's lak.c `lak_retrieve()` sends one search as
ldap_bind_dn, then binds as the entry's DN (ldap_auth_method: bind) or compares the password.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ldapdiag.config.model import MailServerConfig
from ldapdiag.dovecot.ldap_search import DovecotSearch
from ldapdiag.dovecot.lookups import PassdbOutcome, UserdbOutcome
from ldapdiag.explain import commands
from ldapdiag.explain.model import Lookup, Query
from ldapdiag.explain.secrets import bind_password_file
from ldapdiag.saslauthd.smtp_auth import SmtpAuthOutcome

if TYPE_CHECKING:
    from ldapdiag.dovecot.login_command import LoginReport, UserReport

DOVECOT_LDAP = "/etc/dovecot/dovecot-ldap.conf.ext"


def _path(config: MailServerConfig) -> str:
    return config.dovecot_ldap.path if config.dovecot_ldap is not None else DOVECOT_LDAP


def _query(config: MailServerConfig, search: DovecotSearch) -> Query:
    wire = search.wire
    query = Query(
        base=search.base,
        scope=search.scope,
        filter=search.filter,
        attributes=search.attributes,
        wire=wire,
        entries=tuple(entry.dn for entry in search.entries),
        password_file=bind_password_file(config, wire.policy) if wire is not None else None,
    )
    if search.error is not None:
        query.notes.append(search.error)
    return query


def _result(result: str | None, reason: str) -> str:
    return f"{result}" + (f" ({reason})" if reason else "")


def passdb(
    config: MailServerConfig, outcome: PassdbOutcome, given: str, service: str, password_given: bool
) -> Lookup:
    """The passdb lookup of a login (`doveadm auth test`), with the auth bind when there is one."""
    lookup = Lookup(
        f"dovecot auth ({service})", f"passdb {_path(config)}", given, _result(outcome.result, outcome.reason)
    )
    lookup.queries = [_query(config, search) for search in outcome.searches]
    if outcome.user != given:
        target = lookup.queries[-1].values if lookup.queries else lookup.notes
        target.append(f"user = {outcome.user} (the login is renamed: later lookups use this name)")
    if outcome.scheme is not None:
        checked = "checked" if password_given else "not checked: no password given"
        target = lookup.queries[-1].notes if lookup.queries else lookup.notes
        target.append(f"password field: scheme {outcome.scheme} ({checked}; its value is never shown)")
    if outcome.bind_dn is not None:
        lookup.notes.append(f"auth bind as {outcome.bind_dn} with the user's password (auth_bind = yes)")
    kind = "test" if password_given else "lookup"
    lookup.reproduce.append(commands.doveadm_auth(kind, given, service))
    return lookup


def userdb(config: MailServerConfig, outcome: UserdbOutcome, service: str, reproduce: list[str]) -> Lookup:
    """The userdb lookup (`doveadm user -u`, LMTP, the end of an IMAP login)."""
    lookup = Lookup(
        f"dovecot auth ({service})",
        f"userdb {_path(config)}",
        outcome.user,
        _result(outcome.result, outcome.reason),
    )
    lookup.queries = [_query(config, search) for search in outcome.searches]
    if lookup.queries and outcome.result == "ok":
        lookup.queries[-1].values += [f"{key} = {value}" for key, value in outcome.fields.items()]
        lookup.queries[-1].notes.append(
            "values: the userdb fields dovecot answers with (as doveadm prints them)"
        )
    lookup.reproduce.append(reproduce)
    return lookup


def login(
    config: MailServerConfig,
    user: str,
    passdb_outcome: PassdbOutcome,
    userdb_outcome: UserdbOutcome | None,
    password_given: bool,
    service: str = "imap",
) -> list[Lookup]:
    """An IMAP login: the passdb, then the userdb with the name the passdb left."""
    out = [passdb(config, passdb_outcome, user, service, password_given)]
    if userdb_outcome is not None:
        out.append(userdb(config, userdb_outcome, service, commands.doveadm_auth("login", user, service)))
    else:
        out[0].notes.append("the passdb failed: no userdb lookup follows")
    return out


def smtp_auth(
    config: MailServerConfig, smtp: SmtpAuthOutcome, user: str, password_file: str | None
) -> list[Lookup]:
    """SMTP AUTH: saslauthd's search (ldap), dovecot's passdb (dovecot SASL) or an IMAP login (rimap)."""
    from ldapdiag.dovecot.engine import LoginOutcome

    if smtp.via == "dovecot" and isinstance(smtp.source, PassdbOutcome):
        return [passdb(config, smtp.source, user, "smtp", True)]
    if smtp.via == "rimap" and isinstance(smtp.source, LoginOutcome):
        name = smtp.sasl_username or user
        return login(config, name, smtp.source.passdb, smtp.source.userdb, True)
    if smtp.via != "saslauthd" or smtp.saslauthd_user is None:
        return []
    lookup = Lookup(
        "saslauthd (ldap)",
        config.saslauthd.path if config.saslauthd is not None else "/etc/saslauthd.conf",
        f"{smtp.saslauthd_user} realm {smtp.saslauthd_realm or '(none)'}",
        "OK" if smtp.ok else _result("NO", smtp.reason),
    )
    lak = smtp.lak
    if lak is None:
        lookup.answer = smtp.reason
        lookup.notes.append("saslauthd searches only when a password comes: nothing sent")
    elif lak.filter is not None:
        wire = lak.wire
        attributes = wire.event.attributes if wire is not None else ()
        query = Query(
            base=lak.search_base or "",
            scope=wire.event.scope or "sub" if wire is not None else "sub",
            filter=lak.filter,
            attributes=attributes,
            wire=wire,
            entries=lak.dns,
            password_file=bind_password_file(config, wire.policy) if wire is not None else None,
        )
        query.notes += lak.steps
        lookup.queries.append(query)
    lookup.reproduce.append(commands.testsaslauthd(smtp.saslauthd_user, smtp.saslauthd_realm, password_file))
    return lookup and [lookup]


def sasl_passdb(config: MailServerConfig, outcomes: list[PassdbOutcome], login: str) -> list[Lookup]:
    """Dovecot SASL (postfix's smtpd_sasl_type = dovecot): the passdb lookup as service smtp that
    gives postfix its sasl_username (auth_username_format, a `user` field renaming the login)."""
    out = []
    for outcome in outcomes[:1]:
        lookup = passdb(config, outcome, login, "smtp", False)
        name = outcome.user if outcome.result == "ok" else "(none: AUTH fails)"
        lookup.notes.append(
            f"dovecot SASL: postfix/submission/smtpd asks this at AUTH (the client's password is not "
            f"known to ldapdiag); postfix's sasl_username: {name}"
        )
        out.append(lookup)
    return out


def from_login_report(
    config: MailServerConfig, report: LoginReport, password_file: str | None
) -> list[Lookup]:
    """`ldapdiag login`: dovecot's passdb and userdb lookups, then SMTP AUTH's."""
    out: list[Lookup] = []
    if report.login is not None:
        login_ = report.login
        out += login(config, report.user, login_.passdb, login_.userdb, report.password_given)
    return out + smtp_auth(config, report.smtp, report.user, password_file)


def from_user_report(config: MailServerConfig, report: UserReport) -> list[Lookup]:
    """`ldapdiag user`: the userdb lookup LMTP makes."""
    if report.outcome is None:
        return []
    return [userdb(config, report.outcome, "lmtp", commands.doveadm_user(report.user))]


def lmtp_lookups(config: MailServerConfig, source: object) -> list[Lookup]:
    """Dovecot LMTP's userdb lookup for a recipient postfix delivers to it (lmtp_local_rcpt())."""
    from ldapdiag.dovecot.lmtp import LmtpOutcome

    if not isinstance(source, LmtpOutcome) or source.userdb is None:
        return []
    lookup = userdb(config, source.userdb, "lmtp", commands.doveadm_user(source.username))
    if source.username != source.address:
        lookup.notes.append(f"LMTP looks up {source.username} for RCPT TO:<{source.address}>")
    return [lookup]
