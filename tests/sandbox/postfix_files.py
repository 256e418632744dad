"""The sandbox's postfix configuration: DMS v15.1.0's main.cf/master.cf as its start-up leaves them.

Written from reading docker-mailserver v15.1.0 (`target/postfix/main.cf`, `master.cf`,
`setup.d/postfix.sh`, `ldap.sh`, `saslauthd.sh`, `security/spoofing.sh`): the parameters that
shape SMTP replies are kept with DMS's values; content filters, milters, postscreen, header
checks and policy services are left out (see README.md). The MailServerConfig's main.cf
parameters (what ldapdiag renders) override the base, as DMS's `postconf` calls do.
"""

from __future__ import annotations

from collections.abc import Mapping

from ldapdiag.config.model import MailServerConfig
from tests.sandbox import layout

TLS_DIR = "/etc/postfix/sandbox-tls"
TLS_KEY = f"{TLS_DIR}/key.pem"
TLS_CHAIN = f"{TLS_DIR}/chain.pem"

# DMS v15.1.0 main.cf after start-up (ldap.sh drops `$myhostname` from mydestination), in order.
BASE_MAIN: tuple[tuple[str, str], ...] = (
    ("smtpd_banner", "$myhostname ESMTP"),
    ("biff", "no"),
    ("append_dot_mydomain", "no"),
    ("readme_directory", "no"),
    ("smtputf8_enable", "no"),
    ("alias_maps", "texthash:/etc/postfix/aliases"),  # DMS: hash:/etc/aliases (not used by LDAP mail)
    ("mydestination", "localhost.$mydomain, localhost"),
    ("relayhost", ""),
    ("mynetworks", "127.0.0.0/8 [::1]/128 [fe80::]/64"),
    ("mailbox_size_limit", "0"),
    ("recipient_delimiter", "+"),
    ("inet_interfaces", "all"),
    ("inet_protocols", "all"),
    ("smtpd_tls_chain_files", f"{TLS_KEY} {TLS_CHAIN}"),
    ("smtpd_tls_security_level", "may"),
    ("smtpd_tls_loglevel", "1"),
    ("smtp_tls_security_level", "may"),
    ("smtp_tls_loglevel", "1"),
    ("tls_ssl_options", "NO_COMPRESSION, NO_RENEGOTIATION"),
    ("smtpd_tls_protocols", "!SSLv2,!SSLv3,!TLSv1,!TLSv1.1"),
    ("smtp_tls_protocols", "!SSLv2,!SSLv3,!TLSv1,!TLSv1.1"),
    ("smtpd_tls_mandatory_protocols", "!SSLv2,!SSLv3,!TLSv1,!TLSv1.1"),
    ("smtpd_helo_required", "yes"),
    ("smtpd_delay_reject", "yes"),
    ("smtpd_helo_restrictions", "permit_mynetworks, reject_invalid_helo_hostname, permit"),
    ("smtpd_relay_restrictions", "permit_mynetworks permit_sasl_authenticated defer_unauth_destination"),
    (
        "smtpd_recipient_restrictions",
        "permit_sasl_authenticated, permit_mynetworks, reject_unauth_destination, "
        "reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname, reject_unknown_recipient_domain",
    ),
    ("smtpd_client_restrictions", "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination"),
    ("smtpd_sender_restrictions", "$dms_smtpd_sender_restrictions"),
    ("smtpd_discard_ehlo_keywords", "silent-discard, dsn"),
    ("smtpd_data_restrictions", "permit_mynetworks, permit_sasl_authenticated, reject_unauth_pipelining"),
    ("disable_vrfy_command", "yes"),
    ("smtpd_forbid_bare_newline", "yes"),
    (
        "dms_smtpd_sender_restrictions",
        "permit_sasl_authenticated, permit_mynetworks, reject_unknown_sender_domain",
    ),
    ("mua_sender_restrictions", "reject_authenticated_sender_login_mismatch, $dms_smtpd_sender_restrictions"),
    ("smtpd_sasl_auth_enable", "no"),
    ("smtpd_sasl_path", layout.DOVECOT_SASL_SOCKET),
    ("smtpd_sasl_type", "dovecot"),
    ("smtpd_sasl_security_options", "noanonymous"),
    ("smtpd_sasl_local_domain", "$mydomain"),
    ("broken_sasl_auth_clients", "yes"),
    ("virtual_mailbox_domains", "/etc/postfix/vhost"),
    ("virtual_alias_maps", "texthash:/etc/postfix/virtual"),
    ("milter_protocol", "6"),
    ("milter_default_action", "accept"),
    ("smtpd_milters", ""),
    ("non_smtpd_milters", ""),
    ("compatibility_level", "3.6"),
    # setup.d/postfix.sh with DMS's defaults for POSTFIX_MESSAGE_SIZE_LIMIT / POSTFIX_MAILBOX_SIZE_LIMIT
    ("message_size_limit", "10240000"),
    ("virtual_mailbox_limit", "0"),
)

# Set by the sandbox whatever the configuration says: logging, determinism, its own TLS key pair.
SANDBOX_MAIN: tuple[tuple[str, str], ...] = (
    ("maillog_file", layout.MAIL_LOG),
    ("max_use", "1"),
    ("smtpd_tls_chain_files", f"{TLS_KEY} {TLS_CHAIN}"),
)
# Parameters a configuration may carry (a container's real main.cf) that would reach outside the
# sandbox or need files it does not have: never taken from the configuration.
IGNORED_MAIN = frozenset(
    {
        "content_filter",
        "smtpd_milters",
        "non_smtpd_milters",
        "header_checks",
        "smtp_header_checks",
        "smtpd_tls_cert_file",
        "smtpd_tls_key_file",
        "smtpd_tls_dh1024_param_file",
        "alias_maps",
        "alias_database",
        "queue_directory",
        "data_directory",
        "daemon_directory",
        "command_directory",
        "meta_directory",
        "config_directory",
        "mail_owner",
        "setgid_group",
    }
)

_SUBMISSION_OPTIONS = (
    "smtpd_sasl_auth_enable=yes",
    "smtpd_sasl_type=dovecot",
    "smtpd_reject_unlisted_recipient=no",
    "smtpd_sasl_authenticated_header=yes",
    "smtpd_client_restrictions=permit_sasl_authenticated,reject",
    "smtpd_relay_restrictions=permit_sasl_authenticated,reject",
    "smtpd_sender_restrictions=$mua_sender_restrictions",
    "smtpd_discard_ehlo_keywords=",
    "milter_macro_daemon_name=ORIGINATING",
    "cleanup_service_name=sender-cleanup",
)

# service, type, private, unpriv, chroot, wakeup, maxproc, command (DMS v15.1.0 master.cf minus
# postscreen/tlsproxy/dnsblog: port 25 is plain smtpd)
_SERVICES: tuple[tuple[str, ...], ...] = (
    ("pickup", "fifo", "n", "-", "n", "60", "1", "pickup"),
    ("sender-cleanup", "unix", "n", "-", "n", "-", "0", "cleanup"),
    ("cleanup", "unix", "n", "-", "n", "-", "0", "cleanup"),
    ("qmgr", "unix", "n", "-", "n", "300", "1", "qmgr"),
    ("tlsmgr", "unix", "-", "-", "n", "1000?", "1", "tlsmgr"),
    ("rewrite", "unix", "-", "-", "n", "-", "-", "trivial-rewrite"),
    ("bounce", "unix", "-", "-", "n", "-", "0", "bounce"),
    ("defer", "unix", "-", "-", "n", "-", "0", "bounce"),
    ("trace", "unix", "-", "-", "n", "-", "0", "bounce"),
    ("verify", "unix", "-", "-", "n", "-", "1", "verify"),
    ("flush", "unix", "n", "-", "n", "1000?", "0", "flush"),
    ("proxymap", "unix", "-", "-", "n", "-", "-", "proxymap"),
    ("proxywrite", "unix", "-", "-", "n", "-", "1", "proxymap"),
    ("smtp", "unix", "-", "-", "n", "-", "-", "smtp"),
    ("relay", "unix", "-", "-", "n", "-", "-", "smtp"),
    ("showq", "unix", "n", "-", "n", "-", "-", "showq"),
    ("error", "unix", "-", "-", "n", "-", "-", "error"),
    ("retry", "unix", "-", "-", "n", "-", "-", "error"),
    ("discard", "unix", "-", "-", "n", "-", "-", "discard"),
    ("local", "unix", "-", "n", "n", "-", "-", "local"),
    ("virtual", "unix", "-", "n", "n", "-", "-", "virtual"),
    ("lmtp", "unix", "-", "-", "n", "-", "-", "lmtp"),
    ("anvil", "unix", "-", "-", "n", "-", "1", "anvil"),
    ("scache", "unix", "-", "-", "n", "-", "1", "scache"),
    ("postlog", "unix-dgram", "n", "-", "n", "-", "1", "postlogd"),
)


def uses_saslauthd(config: MailServerConfig) -> bool:
    """ENABLE_SASLAUTHD=1 with an LDAP saslauthd.conf: postfix authenticates through cyrus SASL."""
    return config.saslauthd is not None


# DMS v15.1.0 main.cf's postscreen settings after setup.d/security/misc.sh with ENABLE_DNSBL=0
POSTSCREEN_MAIN: tuple[tuple[str, str], ...] = (
    ("postscreen_dnsbl_action", "ignore"),
    ("postscreen_dnsbl_sites", ""),
    ("postscreen_dnsbl_threshold", "3"),
    ("postscreen_dnsbl_allowlist_threshold", "-1"),
    ("postscreen_greet_action", "enforce"),
    ("postscreen_bare_newline_action", "enforce"),
)
# DMS v15.1.0 master.cf's port 25: postscreen, handing clients to the smtpd pass service
POSTSCREEN_SERVICES: tuple[tuple[str, ...], ...] = (
    ("smtp", "inet", "n", "-", "n", "-", "1", "postscreen"),
    ("smtpd", "pass", "-", "-", "n", "-", "-", "smtpd"),
    ("tlsproxy", "unix", "-", "-", "n", "-", "0", "tlsproxy"),
    ("dnsblog", "unix", "-", "-", "n", "-", "0", "dnsblog"),
)


def main_cf(config: MailServerConfig, postscreen: bool = False) -> str:
    """main.cf: DMS's base, the configuration's parameters over it, the sandbox's own last."""
    params: dict[str, str] = dict(BASE_MAIN)
    if postscreen:
        params.update(POSTSCREEN_MAIN)
    given = {k: e.value for k, e in config.postfix_main.effective().items() if k not in IGNORED_MAIN}
    if uses_saslauthd(config):
        # setup.d/saslauthd.sh deletes both lines: cyrus (the default type) with its default path
        params.pop("smtpd_sasl_path")
        params.pop("smtpd_sasl_type")
    params.update(given)
    params.update(SANDBOX_MAIN)
    lines = ["# ldapdiag sandbox: DMS v15.1.0 main.cf after start-up, then the configuration's parameters"]
    lines += [f"{key} = {value}".rstrip() for key, value in params.items()]
    return "\n".join(lines) + "\n"


def master_cf(config: MailServerConfig, postscreen: bool = False) -> str:
    """master.cf: DMS's services; smtpd on port 25 instead of postscreen, unless `postscreen`
    (DMS's own port 25: every new client then waits postscreen_greet_wait, 6 s, once)."""
    options = list(_SUBMISSION_OPTIONS)
    smtp_only = (config.settings.value("SMTP_ONLY", "0") or "").strip() == "1"
    if smtp_only and not uses_saslauthd(config):
        options[0] = "smtpd_sasl_auth_enable=no"  # setup.d/postfix.sh's sed
    port25 = POSTSCREEN_SERVICES if postscreen else (("smtp", "inet", "n", "-", "n", "-", "-", "smtpd"),)
    lines = [_service(*service) for service in port25]
    for name, extra in (("submission", ()), ("submissions", ("smtpd_tls_wrappermode=yes",))):
        lines.append(_service(name, "inet", "n", "-", "n", "-", "-", "smtpd"))
        lines.append(f"  -o syslog_name=postfix/{name}")
        if name == "submission":
            lines.append("  -o smtpd_tls_security_level=encrypt")
        lines += [f"  -o {option}" for option in (*extra, *options)]
    lines += [_service(*service) for service in _SERVICES]
    text = "\n".join(lines) + "\n"
    if uses_saslauthd(config):
        # setup.d/saslauthd.sh: sed -e "/^[^#].*smtpd_sasl_type.*/s/^/#/g" master.cf
        text = "\n".join("#" + line if "smtpd_sasl_type" in line else line for line in text.split("\n"))
    return text


def _service(*fields: str) -> str:
    """One master.cf service line."""
    return " ".join(field.ljust(8) for field in fields).rstrip()


def sasl_smtpd_conf() -> str:
    """/etc/postfix/sasl/smtpd.conf as setup.d/postfix.sh writes it with ENABLE_SASLAUTHD=1."""
    return "pwcheck_method: saslauthd\nmech_list: plain login\n"


def postfix_files(
    config: MailServerConfig, tls_key: str, tls_chain: str, postscreen: bool = False
) -> Mapping[str, str]:
    """Every file the sandbox's /etc/postfix holds besides the package's support files."""
    files = {
        "/etc/postfix/main.cf": main_cf(config, postscreen),
        "/etc/postfix/master.cf": master_cf(config, postscreen),
        "/etc/postfix/vhost": "".join(f"{domain}\n" for domain in config.vhost),
        "/etc/postfix/aliases": "postmaster root\n",  # texthash format
        "/etc/postfix/virtual": "",
        TLS_KEY: tls_key,
        TLS_CHAIN: tls_chain,
    }
    for path, table in config.postfix_tables.items():
        files[path] = table.text
    if uses_saslauthd(config):
        files["/etc/postfix/sasl/smtpd.conf"] = sasl_smtpd_conf()
    return files
