"""Postfix daemons that die at start with this configuration, and what an SMTP client meets then.

A table file with a line without `=` stops postfix before any daemon: `postfix start` runs
postconf (post-install), which reads every `ldap:/file` main.cf names and dies on it; nothing
listens on 25, 465 or 587. Any other table postfix refuses (dict_ldap_open(): the cfg_get_*()
range and syntax checks, a template db_common_parse() refuses; see ldap_config.py) is fatal in
the process that opens it, and daemons open their tables at start, before they serve anything
(pre_jail_init()). master(8) logs "bad command startup -- throttling" and tries again after
service_throttle_time (60 s): the daemon never serves. Which daemon opens the table decides what
a client sees (each checked with the real postfix 3.7 in the sandbox,
tests/differential/test_cannot_start.py):

- smtpd opens, in smtpd_check_init()'s order, local_recipient_maps, the canonical maps,
  virtual_alias_maps, virtual_mailbox_maps, relay_recipient_maps, rbl_reply_maps,
  smtpd_sender_login_maps, then the tables of the restriction lists. Port 25 and the submission
  ports accept the TCP connection and never greet. DMS runs postscreen on port 25: it sends a
  new client the first line of its banner (`220-mail.example.org ESMTP`), then hands the
  connection to an smtpd that never comes. Either way the client times out; a mail server retries.
- trivial-rewrite opens, in resolve_init()'s order, virtual_alias_domains (by default
  $virtual_alias_maps), virtual_mailbox_domains, relay_domains, relocated_maps, then
  transport_maps and the sender-dependent maps. smtpd greets and answers EHLO (and AUTH), then
  MAIL FROM gets no reply (the null sender's too): smtpd waits for trivial-rewrite until the
  client gives up.

cleanup opens virtual_alias_maps and the canonical maps too, but smtpd has opened them first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ldapdiag.config.postfix_cf import split_table_list
from ldapdiag.postfix.ldap_config import LdapConfigError, read_ldap_table
from ldapdiag.postfix.maps import TableFactory, parameter_value
from ldapdiag.postfix.params import Params

SMTPD_MAPS = (
    "local_recipient_maps",
    "sender_canonical_maps",
    "recipient_canonical_maps",
    "canonical_maps",
    "virtual_alias_maps",
    "virtual_mailbox_maps",
    "relay_recipient_maps",
    "rbl_reply_maps",
    "smtpd_sender_login_maps",
    "smtpd_client_restrictions",
    "smtpd_helo_restrictions",
    "smtpd_sender_restrictions",
    "smtpd_relay_restrictions",
    "smtpd_recipient_restrictions",
    "smtpd_etrn_restrictions",
    "smtpd_data_restrictions",
    "smtpd_end_of_data_restrictions",
)
REWRITE_MAPS = (
    "virtual_alias_domains",
    "virtual_mailbox_domains",
    "relay_domains",
    "relocated_maps",
    "transport_maps",
    "sender_dependent_relayhost_maps",
    "sender_dependent_default_transport_maps",
)
SYSLOG_NAMES = {"smtp": "postfix/smtpd", "submission": "postfix/submission/smtpd"}
NO_GREETING = {
    "smtp": (
        "no greeting: the connection is accepted, then nothing comes (DMS's postscreen sends a new "
        "client at most the first banner line, `220-...`); the client times out, a mail server retries later"
    ),
    "submission": (
        "no greeting on ports 587 and 465: the connection is accepted, then nothing comes; "
        "the client times out"
    ),
}


NO_MAIL_REPLY = (
    "no reply to MAIL FROM: smtpd waits for the address rewriting service (trivial-rewrite), which dies "
    "at start; the client times out, a mail server retries later"
)
NOT_RUNNING = (
    "connection refused on ports 25, 465 and 587: postfix does not run (`postfix start` runs postconf, "
    "which dies reading the file; postfix-script logs `fatal: cannot execute /usr/sbin/postconf!` and "
    "`fatal: Postfix integrity check failed!`)"
)


@dataclass(frozen=True)
class CannotStart:
    """A program of the mail server that cannot start with this configuration, as a client meets it."""

    component: str  # as the program logs itself: postfix/smtpd, postfix/trivial-rewrite, dovecot/auth...
    error: str  # the program's own error text ("fatal: ...", "Fatal: ..."), passwords never included
    stage: str  # where the client's session fails: greeting, EHLO, AUTH, MAIL FROM, RCPT TO, LMTP RCPT
    client_sees: str  # what the client gets there
    reply: str | None = None  # the SMTP reply it gets, when it gets one (e.g. 535 at AUTH)

    def as_dict(self) -> dict[str, str | None]:
        """The JSON object (`cannot_start`)."""
        return {
            "component": self.component,
            "error": self.error,
            "stage": self.stage,
            "client_sees": self.client_sees,
            "reply": self.reply,
        }

    def describe(self) -> str:
        """One line: who cannot start, its error, what the client meets."""
        return f"{self.component} cannot start: {self.error}; at {self.stage}: {self.client_sees}"


def _table_fatal(factory: TableFactory, spec: str) -> str | None:
    """dict_ldap_open()'s fatal error for an `ldap:` table, None for anything else."""
    kind, _, name = spec.lstrip("!").partition(":")
    if kind != "ldap":
        return None
    conf = factory.ldap_file(name)
    if conf is None:
        return None  # a missing file is a surrogate table (lookups fail), not fatal
    try:
        read_ldap_table(conf)
    except LdapConfigError as error:
        return f"fatal: {error}"
    return None


def daemon_tables(params: Params) -> list[str]:
    """The `ldap:` table paths smtpd and trivial-rewrite of this service open at start, in order."""
    classes = tuple(split_table_list(params.get("smtpd_restriction_classes")))
    paths: list[str] = []
    for name in (*SMTPD_MAPS, *classes, *REWRITE_MAPS):
        for spec in split_table_list(params.get(name)):
            kind, _, path = spec.lstrip("!").partition(":")
            if kind == "ldap" and path not in paths:
                paths.append(path)
    return paths


def first_fatal(factory: TableFactory, params: Params, names: Sequence[str]) -> str | None:
    """The fatal error of the first table a daemon opens, in the order of `names`, or None."""
    for name in names:
        for spec in split_table_list(params.get(name)):
            fatal = _table_fatal(factory, spec)
            if fatal is not None:
                return fatal
    return None


def postfix_not_running(factory: TableFactory) -> CannotStart | None:
    """`postfix start` (DMS: `postfix start-fg`) fails: postfix-script's post-install runs postconf,
    which reads every `ldap:/file` any main.cf parameter names (postconf_dbms.c
    pcf_check_dbms_client(): dict_load_fp()) and dies on a line without `=`. Nothing listens."""
    main = factory.config.postfix_main
    for name in main.effective():
        for spec in split_table_list(parameter_value(main, name) or ""):
            kind, _, path = spec.partition(":")
            while kind == "proxy":
                kind, _, path = path.partition(":")
            conf = factory.ldap_file(path) if kind == "ldap" and path.startswith("/") else None
            if conf is not None and conf.refused is not None:
                return CannotStart("postfix", f"fatal: {conf.refused}", "connect", NOT_RUNNING)
    return None


def smtpd_cannot_start(factory: TableFactory, params: Params) -> CannotStart | None:
    """The smtpd of this service (port 25 or submission) cannot serve: postfix does not run at all,
    or the smtpd dies at start."""
    not_running = postfix_not_running(factory)
    if not_running is not None:
        return not_running
    classes = tuple(split_table_list(params.get("smtpd_restriction_classes")))
    fatal = first_fatal(factory, params, SMTPD_MAPS + classes)
    if fatal is None:
        return None
    service = "submission" if params.service == "submission" else "smtp"
    return CannotStart(SYSLOG_NAMES[service], fatal, "greeting", NO_GREETING[service])


def rewrite_cannot_start(factory: TableFactory, params: Params) -> CannotStart | None:
    """trivial-rewrite dies at start: MAIL FROM gets no reply (checked: the null sender too)."""
    fatal = first_fatal(factory, params, REWRITE_MAPS)
    if fatal is None:
        return None
    return CannotStart("postfix/trivial-rewrite", fatal, "MAIL FROM", NO_MAIL_REPLY)


def postfix_cannot_start(factory: TableFactory, params: Params) -> CannotStart | None:
    """The first postfix program a client of this service meets that cannot start, or None."""
    return smtpd_cannot_start(factory, params) or rewrite_cannot_start(factory, params)
