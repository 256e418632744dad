"""main.cf parameters as smtpd, trivial-rewrite and cleanup of a DMS v15 container read them.

A rendered configuration (DMS variables) holds only the parameters ldapdiag renders; the rest of
DMS v15.1.0's `target/postfix/main.cf` (restriction lists, ...) comes from DMS_MAIN below, and
postfix 3.7's own defaults (global/mail_params.h, at compatibility_level 3.6) fill in the rest.
A container copy (`--from-files`) is read as it is, postfix defaults only. Submission-port
overrides are DMS's master.cf `-o` options.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ldapdiag.config.model import MailServerConfig
from ldapdiag.config.postfix_cf import expand_postfix_value, split_table_list

# postfix 3.7.11 defaults (mail_params.h) of the parameters the emulation reads; the
# compatibility_level-dependent ones at level 3.6, which DMS sets.
POSTFIX_DEFAULTS: Mapping[str, str] = {
    "myhostname": "localhost",
    "mydomain": "localdomain",
    "myorigin": "$myhostname",
    "mydestination": "$myhostname, localhost.$mydomain, localhost",
    "mynetworks": "127.0.0.0/8",
    "relay_domains": "",
    "relayhost": "",
    "virtual_maps": "",
    "virtual_alias_maps": "$virtual_maps",
    "virtual_alias_domains": "$virtual_alias_maps",
    "virtual_mailbox_maps": "",
    "virtual_mailbox_domains": "$virtual_mailbox_maps",
    "virtual_transport": "virtual",
    "virtual_mailbox_base": "",
    "default_transport": "smtp",
    "relay_transport": "relay",
    "local_transport": "local:$myhostname",
    "recipient_delimiter": "",
    "propagate_unmatched_extensions": "canonical, virtual",
    "virtual_alias_recursion_limit": "1000",
    "virtual_alias_expansion_limit": "1000",
    "virtual_alias_address_length_limit": "1000",
    "empty_address_recipient": "MAILER-DAEMON",
    "double_bounce_sender": "double-bounce",
    "swap_bangpath": "yes",
    "percent_hack": "yes",
    "allow_min_user": "no",
    "allow_untrusted_routing": "no",
    "show_user_unknown_table_name": "yes",
    "smtpd_delay_reject": "yes",
    "smtpd_reject_unlisted_recipient": "yes",
    "smtpd_reject_unlisted_sender": "no",
    "smtpd_relay_before_recipient_restrictions": "yes",
    "smtpd_client_restrictions": "",
    "smtpd_helo_restrictions": "",
    "smtpd_sender_restrictions": "",
    "smtpd_relay_restrictions": "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination",
    "smtpd_recipient_restrictions": "",
    "smtpd_sasl_auth_enable": "no",
    "smtpd_sasl_type": "cyrus",
    "smtpd_sasl_local_domain": "",
    "smtpd_sender_login_maps": "",
    "smtpd_null_access_lookup_key": "<>",
    "unknown_address_reject_code": "450",
    "unknown_hostname_reject_code": "450",
    "unknown_virtual_mailbox_reject_code": "550",
    "unknown_virtual_alias_reject_code": "550",
    "unknown_relay_recipient_reject_code": "550",
    "unknown_local_recipient_reject_code": "550",
    "relay_domains_reject_code": "554",
    "reject_code": "554",
    "defer_code": "450",
    "non_fqdn_reject_code": "504",
    "invalid_hostname_reject_code": "501",
    "soft_bounce": "no",
    "smtputf8_enable": "yes",
    "enable_original_recipient": "yes",
    "relay_recipient_maps": "",
    "canonical_maps": "",
    "recipient_canonical_maps": "",
    "sender_canonical_maps": "",
    "relocated_maps": "",
    "transport_maps": "",
    "recipient_bcc_maps": "",
    "always_bcc": "",
    "sender_dependent_default_transport_maps": "",
    "sender_dependent_relayhost_maps": "",
    "masquerade_domains": "",
    "compatibility_level": "0",
}

# DMS v15.1.0 target/postfix/main.cf: what a rendered configuration does not carry itself.
DMS_MAIN: Mapping[str, str] = {
    "mydestination": "localhost.$mydomain, localhost",  # setup.d/ldap.sh drops $myhostname
    "mynetworks": "127.0.0.0/8 [::1]/128 [fe80::]/64",
    "recipient_delimiter": "+",
    "smtputf8_enable": "no",
    "relayhost": "",
    "smtpd_helo_required": "yes",
    "smtpd_delay_reject": "yes",
    "smtpd_helo_restrictions": "permit_mynetworks, reject_invalid_helo_hostname, permit",
    "smtpd_relay_restrictions": "permit_mynetworks permit_sasl_authenticated defer_unauth_destination",
    "smtpd_recipient_restrictions": "permit_sasl_authenticated, permit_mynetworks, "
    "reject_unauth_destination, reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname, "
    "reject_unknown_recipient_domain",
    "smtpd_client_restrictions": "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
    "smtpd_sender_restrictions": "$dms_smtpd_sender_restrictions",
    "smtpd_data_restrictions": "permit_mynetworks, permit_sasl_authenticated, reject_unauth_pipelining",
    "dms_smtpd_sender_restrictions": "permit_sasl_authenticated, permit_mynetworks, "
    "reject_unknown_sender_domain",
    "mua_sender_restrictions": "reject_authenticated_sender_login_mismatch, $dms_smtpd_sender_restrictions",
    "smtpd_sasl_auth_enable": "no",
    "smtpd_sasl_path": "/dev/shm/sasl-auth.sock",
    "smtpd_sasl_type": "dovecot",
    "smtpd_sasl_local_domain": "$mydomain",
    "virtual_mailbox_domains": "/etc/postfix/vhost",
    "virtual_alias_maps": "texthash:/etc/postfix/virtual",
    "compatibility_level": "3.6",
}

# DMS v15.1.0 master.cf: the `-o` options of the submission (587) and submissions (465) services.
DMS_SUBMISSION: Mapping[str, str] = {
    "smtpd_sasl_auth_enable": "yes",
    "smtpd_reject_unlisted_recipient": "no",
    "smtpd_client_restrictions": "permit_sasl_authenticated,reject",
    "smtpd_relay_restrictions": "permit_sasl_authenticated,reject",
    "smtpd_sender_restrictions": "$mua_sender_restrictions",
}


@dataclass(frozen=True)
class Params:
    """The parameters of one postfix service, raw (unexpanded), with where they came from."""

    raw: Mapping[str, str]
    origins: Mapping[str, str] = field(default_factory=dict)
    service: str = "smtp"
    _expanded: dict[str, str] = field(default_factory=dict, init=False, compare=False, repr=False)
    _items: dict[str, tuple[str, ...]] = field(default_factory=dict, init=False, compare=False, repr=False)

    def get(self, name: str) -> str:
        """The value as the program reads it ($name expanded); empty when unknown."""
        value = self._expanded.get(name)
        if value is None:  # raw never changes: expanded once (an error is raised every time)
            value = expand_postfix_value(self.raw.get(name, ""), self.raw, where=f"main.cf {name}")
            self._expanded[name] = value
        return value

    def flag(self, name: str) -> bool:
        """A boolean parameter (yes/no)."""
        return self.get(name).strip().lower() == "yes"

    def number(self, name: str) -> int:
        """An integer parameter."""
        return int(self.get(name).strip() or "0")

    def items(self, name: str) -> list[str]:
        """A list parameter split like postfix splits lists (comma, space, tab, newline)."""
        items = self._items.get(name)
        if items is None:
            items = self._items[name] = tuple(split_table_list(self.get(name)))
        return list(items)

    def origin(self, name: str) -> str:
        """Where the value came from: the configuration, DMS's main.cf/master.cf, postfix's default."""
        return self.origins.get(name, "postfix default")


def service_params(config: MailServerConfig, service: str = "smtp") -> Params:
    """main.cf for `service` (smtp: port 25; submission: 587 with DMS's master.cf -o options)."""
    raw: dict[str, str] = dict(POSTFIX_DEFAULTS)
    origins: dict[str, str] = {}
    if config.source == "env":
        raw.update(DMS_MAIN)
        origins.update({name: "DMS v15.1.0 main.cf" for name in DMS_MAIN})
    for key, entry in config.postfix_main.effective().items():
        raw[key] = entry.value
        origins[key] = entry.origin.describe()
    if service == "submission":
        raw.update(DMS_SUBMISSION)
        origins.update({name: "DMS v15.1.0 master.cf (submission -o)" for name in DMS_SUBMISSION})
        saslauthd = config.saslauthd is not None or raw.get("smtpd_sasl_type", "").strip() == "cyrus"
        raw["smtpd_sasl_type"] = "cyrus" if saslauthd else "dovecot"
        origins["smtpd_sasl_type"] = (
            "main.cf (setup.d/saslauthd.sh comments out master.cf's -o smtpd_sasl_type=dovecot)"
            if saslauthd
            else "DMS v15.1.0 master.cf (submission -o)"
        )
    return Params(raw, origins, service)
