"""The sandbox's dovecot configuration: DMS v15.1.0's conf.d reduced to LMTP and auth.

Written from reading docker-mailserver v15.1.0 `target/dovecot/*.conf`, `*.inc` and
`setup.d/dovecot.sh`: the services postfix talks to (LMTP, the SASL socket), the auth and mail
settings DMS sets, then the configuration's own dovecot.conf part (rendered by ldapdiag: auth
mechanisms, mail_home/mail_location, the LDAP passdb/userdb, a user's dovecot.cf), then what the
sandbox needs (no failure delay, auth debug, no SSL, its own log file).
"""

from __future__ import annotations

from collections.abc import Mapping

from ldapdiag.config.dovecot_conf import AuthDb, DovecotConf
from ldapdiag.config.model import ConfFile, MailServerConfig
from tests.sandbox import layout

_BASE = """\
# ldapdiag sandbox: DMS v15.1.0 dovecot configuration, LMTP and auth only
protocols = lmtp
listen = *
stats_writer_socket_path =
postmaster_address = postmaster@{domain}
hostname = {hostname}
auth_verbose = yes
auth_verbose_passwords = sha1:6
verbose_ssl = no
mail_privileged_group = docker
maildir_stat_dirs = yes
namespace inbox {{
  inbox = yes
  mailbox Drafts {{
    auto = subscribe
    special_use = \\Drafts
  }}
  mailbox Junk {{
    auto = subscribe
    special_use = \\Junk
  }}
  mailbox Trash {{
    auto = subscribe
    special_use = \\Trash
  }}
  mailbox Sent {{
    auto = subscribe
    special_use = \\Sent
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0660
    group = postfix
  }}
}}
service auth {{
  unix_listener auth-userdb {{
    mode = 0666
    user = docker
    group = docker
  }}
  unix_listener auth-master {{
    mode = 0600
    user = docker
    group = docker
  }}
  unix_listener {sasl_socket} {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
service anvil {{
  chroot =
}}
"""

# anvil's auth penalty (2 s, 4 s, ... up to 15 s before answering, after failures from one remote
# address; doveadm's requests all count as one) would make probes slow: the auth process, running
# as dovecot, cannot connect to a mode-0 socket and so runs with the penalty disabled.
_NO_PENALTY = """service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
"""

_SANDBOX = """\
# the sandbox's own settings
ssl = no
log_path = {log}
auth_debug = yes
auth_failure_delay = 0
"""

# top-level settings the sandbox decides (a real dovecot.conf may set them otherwise)
_SANDBOX_KEYS = frozenset(
    {"protocols", "listen", "ssl", "log_path", "info_log_path", "debug_log_path", "base_dir", "state_dir"}
)


def dovecot_conf(config: MailServerConfig) -> str:
    """dovecot.conf: DMS's base, the configuration's settings and auth databases, the sandbox's last."""
    assert config.dovecot_main is not None
    base = _BASE.format(
        domain=config.identity.domainname,
        hostname=config.identity.hostname,
        sasl_socket=layout.DOVECOT_SASL_SOCKET,
    )
    return (
        base + _configured_part(config.dovecot_main) + _SANDBOX.format(log=layout.DOVECOT_LOG) + _NO_PENALTY
    )


def _configured_part(conf: DovecotConf) -> str:
    """The configuration's top-level settings, passdbs and userdbs, rebuilt from the parsed file."""
    lines = ["# the configuration's settings"]
    for key, entry in conf.settings.effective().items():
        if key not in _SANDBOX_KEYS:
            lines.append(f"{key} = {_quote(entry.value)}")
    for database in (*conf.passdbs, *conf.userdbs):
        lines += _auth_db(database)
    return "\n".join(lines) + "\n"


def _auth_db(database: AuthDb) -> list[str]:
    """A passdb/userdb block (inside its `protocol` filter when it had one)."""
    header = f"{database.kind} {database.name}".rstrip() + " {"
    body = [f"  driver = {database.driver}", f"  args = {_quote(database.args)}"]
    body += [f"  {key} = {_quote(value)}" for key, value in database.settings.items()]
    block = [header, *body, "}"]
    if database.protocol:
        return [f"protocol {database.protocol} {{", *("  " + line for line in block), "}"]
    return block


def _quote(value: str) -> str:
    """A value as dovecot.conf needs it written to read back unchanged."""
    if value == "" or (not any(c in value for c in "#\"'\\") and value == value.strip()):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dovecot_files(config: MailServerConfig) -> Mapping[str, str]:
    """dovecot.conf and the LDAP file(s) its passdb/userdb name."""
    if config.dovecot_main is None or config.dovecot_ldap is None:
        return {}
    files = {layout.DOVECOT_CONF: dovecot_conf(config)}
    ldap: ConfFile = config.dovecot_ldap
    files[ldap.path] = ldap.text
    return files
