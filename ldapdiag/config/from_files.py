"""`--from-files ROOT`: the files a DMS container actually uses, read from a copy of its root.

Absolute paths inside those files (`ldap:/etc/postfix/ldap-users.cf`, dovecot's `args`) are read
under ROOT, so a `docker cp mailserver:/ ROOT` copy (or `/` inside the container) works, and edits
made by user-patches.sh are honoured.
"""

from __future__ import annotations

from pathlib import Path

from ldapdiag.config.dovecot_conf import DovecotConf, load_dovecot_conf, read_dovecot_ldap_ext
from ldapdiag.config.hostname import identity_from_main_cf
from ldapdiag.config.model import ConfFile, MailServerConfig, refused_file_findings
from ldapdiag.config.origin import Finding, Origin
from ldapdiag.config.postfix_cf import (
    expand_postfix_value,
    postfix_cf_findings,
    read_config_text,
    read_postfix_cf,
    split_table_list,
)
from ldapdiag.config.saslauthd_conf import parse_shell_defaults, read_saslauthd_conf
from ldapdiag.config.settings import Setting, Settings
from ldapdiag.errors import InputError

MAIN_CF = "/etc/postfix/main.cf"
DOVECOT_CONF = "/etc/dovecot/dovecot.conf"
SASLAUTHD_CONF = "/etc/saslauthd.conf"
DMS_SETTINGS = "/etc/dms-settings"
# main.cf parameters whose tables decide recipient and sender checks
MAP_PARAMETERS = (
    "virtual_mailbox_domains",
    "virtual_mailbox_maps",
    "virtual_alias_maps",
    "virtual_alias_domains",
    "relay_domains",
    "relay_recipient_maps",
    "smtpd_sender_login_maps",
)


def under(root: Path, path: str) -> Path:
    """The file at container path `path` in the copy at `root`."""
    return root / path.lstrip("/")


def load_from_files(root: Path) -> MailServerConfig:
    """A MailServerConfig from a container's generated files under `root`."""
    if not under(root, MAIN_CF).is_file():
        raise InputError(f"--from-files: no {MAIN_CF} under this root", str(root))
    findings: list[Finding] = []
    main = read_postfix_cf(under(root, MAIN_CF), MAIN_CF)
    findings += postfix_cf_findings(main)
    params = main_parameters(main)
    identity = identity_from_main_cf(
        params.get("myhostname", ""),
        params["mydomain"] if main.get("mydomain") else None,
        f"{MAIN_CF}:{_line(main, 'myhostname')}",
    )
    tables = _ldap_tables(root, params, findings)
    dovecot_main, dovecot_ldap = _dovecot(root, findings)
    saslauthd = None
    if under(root, SASLAUTHD_CONF).is_file():
        saslauthd = read_saslauthd_conf(under(root, SASLAUTHD_CONF), SASLAUTHD_CONF, tolerant=True)
    findings += refused_file_findings([*tables.values(), *(f for f in (dovecot_ldap, saslauthd) if f)])
    return MailServerConfig(
        source="files",
        identity=identity,
        settings=_dms_settings(root),
        postfix_main=main,
        postfix_tables=tables,
        vhost=tuple(_vhost(root, params)),
        dovecot_ldap=dovecot_ldap,
        dovecot_main=dovecot_main,
        saslauthd=saslauthd,
        findings=tuple(findings),
    )


def main_parameters(main: ConfFile) -> dict[str, str]:
    """main.cf's parameters with `$name` expanded, myhostname/mydomain defaults as postfix derives them."""
    raw = {key: entry.value for key, entry in main.effective().items()}
    if "mydomain" not in raw and "." in raw.get("myhostname", ""):
        raw["mydomain"] = raw["myhostname"].split(".", 1)[1]
    return {key: expand_postfix_value(value, raw) for key, value in raw.items()}


def _line(conf: ConfFile, key: str) -> int:
    entry = conf.get(key)
    return entry.line if entry is not None else 0


def _ldap_tables(root: Path, params: dict[str, str], findings: list[Finding]) -> dict[str, ConfFile]:
    """Every `ldap:` table main.cf's map parameters name, read under `root`, in order of mention."""
    tables: dict[str, ConfFile] = {}
    for parameter in MAP_PARAMETERS:
        for table in split_table_list(params.get(parameter, "")):
            if not table.startswith("ldap:") or table[5:] in tables:
                continue
            path = table[5:]
            if not under(root, path).is_file():
                findings.append(Finding("error", f"{MAIN_CF} {parameter}", f"{path} does not exist"))
                continue
            conf = read_postfix_cf(under(root, path), path, tolerant=True)
            findings += postfix_cf_findings(conf)
            tables[path] = conf
    return tables


def _vhost(root: Path, params: dict[str, str]) -> list[str]:
    """The domains of the `/etc/postfix/vhost` file virtual_mailbox_domains names."""
    domains: list[str] = []
    for table in split_table_list(params.get("virtual_mailbox_domains", "")):
        if table.startswith("/") and under(root, table).is_file():
            text = read_config_text(under(root, table), table)
            domains += [line.strip() for line in text.splitlines() if line.strip()]
    return domains


def _dovecot(root: Path, findings: list[Finding]) -> tuple[DovecotConf | None, ConfFile | None]:
    """dovecot.conf with its includes, and the LDAP file its passdb/userdb use."""
    if not under(root, DOVECOT_CONF).is_file():
        return None, None
    conf = load_dovecot_conf(root, DOVECOT_CONF)
    findings += conf.findings
    ldap_paths = [db.args for db in (*conf.passdbs, *conf.userdbs) if db.driver == "ldap" and db.args]
    if not ldap_paths:
        return conf, None
    return conf, read_dovecot_ldap_ext(root, ldap_paths[0])


def _dms_settings(root: Path) -> Settings:
    """DMS's variables as /etc/dms-settings records them (`NAME='value'`), when the file exists."""
    path = under(root, DMS_SETTINGS)
    if not path.is_file():
        return Settings()
    conf = parse_shell_defaults(path.read_bytes(), DMS_SETTINGS)
    return Settings(
        {
            entry.key: Setting(entry.key, entry.value, Origin("file", f"{DMS_SETTINGS}:{entry.line}"))
            for entry in conf.effective().values()
        }
    )
