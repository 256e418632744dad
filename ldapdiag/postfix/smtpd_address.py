"""smtpd's address restrictions: relay authorization, recipient tables, DNS, sender logins.

Mirrors smtpd/smtpd_check.c `permit_auth_destination()` / `reject_unauth_destination()`,
`check_rcpt_maps()` (virtual alias first, then the table of the address class),
`reject_unknown_address()` / `reject_unknown_mailhost()`, `reject_non_fqdn_address()`,
`reject_auth_sender_login_mismatch()` / `reject_unauth_sender_login_mismatch()` and
`check_mail_addr_find()` (a table error ends the restriction list with 451 4.3.0).
"""

from __future__ import annotations

from ldapdiag.postfix.address import mail_addr_find, split_at_right
from ldapdiag.postfix.dns import DNS_INVAL, DNS_NULLMX, DNS_OK, DNS_POLICY, DNS_RETRY
from ldapdiag.postfix.resolve import NotEmulated, ResolveReply, valid_hostname
from ldapdiag.postfix.smtpd_state import DUNNO, RECIPIENT, SENDER, CheckState, SmtpdBase
from ldapdiag.postfix.steps import Step, lookup_steps


class AddressChecks(SmtpdBase):
    """The restrictions that look at addresses."""

    def resolve(self, state: CheckState, address: str) -> ResolveReply:
        """smtpd_resolve_addr(): the resolver's reply (its steps shown the first time)."""
        reply = self.resolver.resolve(address, state.phase)
        state.steps += self.resolver.take_steps(reply, state.phase)
        return reply

    def find(self, state: CheckState, parameter: str, address: str, reply_name: str) -> str | None:
        """check_mail_addr_find(): mail_addr_find() on a table parameter; an error ends the stage."""
        maps = self.maps.maps(parameter)
        if maps is None:
            return None
        found = mail_addr_find(
            maps,
            address,
            delimiters=self.params.get("recipient_delimiter"),
            is_local_domain=lambda d: self.is_local_domain(state, d),
            cache=self.maps.cache,
        )
        state.steps += lookup_steps(state.phase, parameter, found.trail)
        if found.error is not None:
            state.steps.append(Step(state.phase, "log", f"warning: {found.error}", table=found.table))
            raise self._dict_retry(state, reply_name)
        return found.value

    def is_local_domain(self, state: CheckState, domain: str) -> int:
        """mail_addr_find()'s test: the domain is $myorigin, or resolve_local() says local."""
        if domain.lower() == self.params.get("myorigin").lower():
            return 1
        return self.resolver.resolve_local(domain, state.steps, state.phase)

    def _auth_destination(self, state: CheckState, recipient: str) -> bool:
        """permit_auth_destination(): a final or relay destination, not source-routed."""
        reply = self.resolve(state, recipient)
        if reply.fail:
            raise self._dict_retry(state, recipient)
        if "@" not in reply.recipient:
            return True
        if not self.params.flag("allow_untrusted_routing") and reply.routed:
            state.steps.append(Step(state.phase, "note", f"<{recipient}> is source-routed: not authorized"))
            return False
        return reply.final or reply.klass == "relay"

    def _check_rcpt_maps(self, state: CheckState, address: str, reply_class: str) -> tuple[str, str | None]:
        """check_rcpt_maps(): alias, then the recipient table of the address class."""
        reply = self.resolve(state, address)
        if reply.fail:
            raise self._dict_retry(state, address)
        if self.find(state, "virtual_alias_maps", reply.recipient, address) is not None:
            return DUNNO, None
        fix = "5.1.0" if reply_class == SENDER else "5.1.1"
        if reply.transport == "error":
            dsn, _, text = reply.nexthop.partition(" ")
            code = (
                self.params.number("unknown_virtual_alias_reject_code")
                if reply.klass == "virtual_alias"
                else 550
            )
            return self._reject(
                state, code, _dsn_fix(dsn or fix, reply_class), f"<{address}>: {reply_class} rejected: {text}"
            )
        table = self.params.flag("show_user_unknown_table_name")
        if reply.klass == "local":
            local = split_at_right(reply.recipient)[0].lower()
            if local in ("postmaster", "mailer-daemon", self.params.get("double_bounce_sender").lower()):
                return DUNNO, None
            raise NotEmulated(
                f"<{address}> is a local (mydestination) address: local_recipient_maps look in the "
                "container's /etc/passwd and aliases, which ldapdiag does not read"
            )
        if (
            reply.klass == "virtual_mailbox"
            and self.maps.maps("virtual_mailbox_maps") is not None
            and self.find(state, "virtual_mailbox_maps", reply.recipient, address) is None
        ):
            code = self.params.number("unknown_virtual_mailbox_reject_code")
            where = " in virtual mailbox table" if table else ""
            return self._reject(state, code, fix, f"<{address}>: {reply_class} rejected: User unknown{where}")
        return DUNNO, None

    def _unknown_address(self, state: CheckState, address: str, reply_class: str) -> tuple[str, str | None]:
        """reject_unknown_address(): a non-final domain must have MX or address records."""
        reply = self.resolve(state, address)
        if reply.fail:
            raise self._dict_retry(state, address)
        domain = split_at_right(reply.recipient)[1]
        if domain is None or reply.final or domain.startswith("["):
            return DUNNO, None
        answer = self.dns.mailhost(domain)
        for query in answer.queries:
            state.steps.append(Step(state.phase, "dns", query, key=domain))
        is_sender = reply_class == SENDER
        if answer.status in (DNS_OK, DNS_POLICY):
            return DUNNO, None
        if answer.status == DNS_NULLMX:
            code, dsn = (550, "4.7.27") if is_sender else (556, "4.1.10")
            return self._reject(
                state,
                code,
                dsn,
                f"<{address}>: {reply_class} rejected: Domain {domain} does not accept mail (nullMX)",
            )
        dsn = "4.1.8" if is_sender else "4.1.2"
        if answer.status != DNS_RETRY:
            why = "Malformed DNS server reply" if answer.status == DNS_INVAL else "Domain not found"
            code = self.params.number("unknown_address_reject_code")
            return self._reject(state, code, dsn, f"<{address}>: {reply_class} rejected: {why}")
        self._defer_if(
            state.defer_if_permit, 450, dsn, f"<{address}>: {reply_class} rejected: Domain not found"
        )
        return DUNNO, None

    def _non_fqdn(self, state: CheckState, address: str, reply_class: str) -> tuple[str, str | None]:
        """reject_non_fqdn_address(): the domain must be a valid name with a dot."""
        domain = split_at_right(address)[1] or ""
        if domain.startswith("[") and domain.endswith("]"):
            return DUNNO, None
        test = domain[:-1] if domain.endswith(".") and not domain.endswith("..") else domain
        if not test or not valid_hostname(test) or "." not in test:
            code = self.params.number("non_fqdn_reject_code")
            return self._reject(
                state, code, "4.5.2", f"<{address}>: {reply_class} rejected: need fully-qualified address"
            )
        return DUNNO, None

    def _login_mismatch(self, state: CheckState, name: str) -> tuple[str, str | None]:
        """reject_*_sender_login_mismatch (only with smtpd_sasl_auth_enable = yes)."""
        sender, login = state.session.sender, state.session.sasl_username
        if not self.sasl_enabled:
            state.steps.append(
                Step(state.phase, "log", f"warning: restriction `{name}' ignored: no SASL support")
            )
            return DUNNO, None
        if not sender or self.maps.maps("smtpd_sender_login_maps") is None:
            return DUNNO, None
        authenticated = name in ("reject_authenticated_sender_login_mismatch", "reject_sender_login_mismatch")
        if name == "reject_known_sender_login_mismatch" and login:
            return self.sender_owned(state, sender, login, allow_unknown=True)
        if login and authenticated:
            return self.sender_owned(state, sender, login, allow_unknown=False)
        if not login and name != "reject_authenticated_sender_login_mismatch":
            reply = self.resolve(state, sender)
            if reply.fail:
                raise self._dict_retry(state, sender)
            if self.find(state, "smtpd_sender_login_maps", reply.recipient, sender) is not None:
                return self._reject(
                    state, 553, "5.7.1", f"<{sender}>: Sender address rejected: not logged in"
                )
        return DUNNO, None

    def sender_owned(
        self, state: CheckState, sender: str, login: str, allow_unknown: bool
    ) -> tuple[str, str | None]:
        """reject_auth_sender_login_mismatch(): LOGIN must be among the owners of the sender."""
        reply = self.resolve(state, sender)
        if reply.fail:
            raise self._dict_retry(state, sender)
        owners = self.find(state, "smtpd_sender_login_maps", reply.recipient, sender)
        state.owners = self.last_owners = owners
        if owners is None and allow_unknown:
            return DUNNO, None
        names = split_owners(owners or "")
        if any(_casefold_equal(login, n) for n in names):
            state.steps.append(Step(state.phase, "owner", f"{login!r} is among the owners {names}"))
            return DUNNO, None
        why = "no table lists the sender" if owners is None else f"{login!r} is not among {names}"
        state.steps.append(Step(state.phase, "owner", why))
        return self._reject(
            state, 553, "5.7.1", f"<{sender}>: Sender address rejected: not owned by user {login}"
        )


def split_owners(owners: str) -> list[str]:
    """mystrtok(CHARS_COMMA_SP): owners split on commas and white space."""
    out, current = [], ""
    for ch in owners:
        if ch in ", \t\r\n":
            if current:
                out.append(current)
            current = ""
        else:
            current += ch
    if current:
        out.append(current)
    return out


def _casefold_equal(left: str, right: str) -> bool:
    """strcasecmp_utf8() with SMTPUTF8 off: ASCII case-insensitive."""
    fold = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
    return left.translate(fold) == right.translate(fold)


def _dsn_fix(status: str, reply_class: str) -> str:
    """smtpd_dsn_fix(): an X.1.Y address status adjusted to what is rejected."""
    if len(status) >= 5 and status[0].isdigit() and status[1:4] == ".1.":
        micro = status[4:]
        sender = {"2": "4.1.8", "3": "4.1.7", "7": "4.1.7", "8": "4.1.8"}
        recipient = {
            "1": "4.1.1",
            "2": "4.1.2",
            "3": "4.1.3",
            "4": "4.1.4",
            "5": "4.1.5",
            "6": "4.1.6",
            "7": "4.1.3",
            "8": "4.1.2",
        }
        table = sender if reply_class == SENDER else recipient if reply_class == RECIPIENT else {}
        result = table.get(micro, "4.1.0" if reply_class in (SENDER, RECIPIENT) else "4.0.0")
        return status[0] + result[1:]
    return status
