"""Render the effective configuration (`ldapdiag config`) as annotated files or JSON, secrets masked."""

from __future__ import annotations

import json
from typing import Any

from ldapdiag.config.model import ConfEntry, ConfFile, MailServerConfig
from ldapdiag.config.settings import Setting

MASK = "********"
RELEVANT_PREFIXES = ("LDAP_", "DOVECOT_", "SASLAUTHD_")
RELEVANT_NAMES = frozenset(
    {
        "ACCOUNT_PROVISIONER",
        "ENABLE_LDAP",
        "OVERRIDE_HOSTNAME",
        "SPOOF_PROTECTION",
        "ENABLE_SASLAUTHD",
        "SMTP_ONLY",
        "POSTFIX_DAGENT",
        "PERMIT_DOCKER",
        "DMS_VMAIL_UID",
        "DMS_VMAIL_GID",
        "ENABLE_IMAP",
        "ENABLE_POP3",
    }
)


def relevant_settings(config: MailServerConfig) -> list[Setting]:
    """The DMS variables that shape LDAP lookups, sorted by name."""
    chosen = [
        s
        for name, s in config.settings.items()
        if name in RELEVANT_NAMES or name.startswith(RELEVANT_PREFIXES)
    ]
    return sorted(chosen, key=lambda s: s.name)


def shown_value(setting: Setting) -> str:
    """The value as ldapdiag may print it: passwords are always masked."""
    return MASK if setting.secret else setting.value


def masked_lines(conf: ConfFile) -> list[tuple[str, ConfEntry | None]]:
    """The file's lines with the entry each one starts; secret values masked, their continuations dropped."""
    starts = {entry.line: entry for entry in conf.entries}
    hidden: set[int] = set()
    for entry in conf.entries:
        if conf.is_secret(entry.key):
            hidden.update(range(entry.line + 1, entry.last_line + 1))
    result: list[tuple[str, ConfEntry | None]] = []
    for number, line in enumerate(conf.text.splitlines(), start=1):
        if number in hidden:
            continue
        entry = starts.get(number)
        if entry is not None and conf.is_secret(entry.key):
            line = _mask_line(line, entry.key)
        result.append((line, entry))
    return result


def _mask_line(line: str, key: str) -> str:
    """`bind_pw = secret` -> `bind_pw = ********` (also `key: value` and unseparated forms)."""
    start = line.find(key) + len(key)
    rest = line[start:]
    separator_end = len(rest) - len(rest.lstrip(" \t=:"))
    return line[: start + separator_end] + MASK


def render_text(config: MailServerConfig) -> str:
    """Files as DMS would have written them, each setting annotated with where its value came from."""
    identity = config.identity
    how = "rendered from DMS v15 variables" if config.source == "env" else "read from files"
    out = [
        f"# ldapdiag: effective configuration, {how}",
        f"# hostname   {identity.hostname}   <- {identity.hostname_origin.describe()}",
        f"# domainname {identity.domainname}   <- {identity.domainname_origin.describe()}",
        f"# /etc/postfix/vhost: {', '.join(config.vhost)}",
    ]
    for conf in config.files():
        out += ["", f"### {conf.path}"]
        lines = masked_lines(conf)
        width = min(max((len(line) for line, _ in lines), default=0), 72)
        for line, entry in lines:
            if entry is None:
                out.append(line)
            else:
                out.append(f"{line.ljust(width)}  # <- {entry.origin.describe()}")
    settings = relevant_settings(config)
    if settings:
        out += ["", "### variables"]
        width = max(len(s.name) for s in settings) + 1
        for setting in settings:
            line = f"{setting.name.ljust(width)}= {shown_value(setting)}"
            out.append(f"{line}  # <- {setting.origin.describe()}")
    return "\n".join(out) + "\n"


def render_json(config: MailServerConfig) -> str:
    """The same content as JSON (stable keys), secrets masked."""
    identity = config.identity
    document: dict[str, Any] = {
        "source": config.source,
        "hostname": {"value": identity.hostname, "origin": identity.hostname_origin.describe()},
        "domainname": {
            "value": identity.domainname,
            "origin": identity.domainname_origin.describe(),
        },
        "vhost": list(config.vhost),
        "files": [_file_json(conf) for conf in config.files()],
        "variables": [
            {"name": s.name, "value": shown_value(s), "origin": s.origin.describe()}
            for s in relevant_settings(config)
        ],
        "findings": [{"level": f.level, "where": f.where, "message": f.message} for f in config.findings],
    }
    return json.dumps(document, indent=2) + "\n"


def _file_json(conf: ConfFile) -> dict[str, Any]:
    return {
        "path": conf.path,
        "format": conf.format,
        "rendered": conf.rendered,
        "settings": [
            {
                "key": entry.key,
                "value": MASK if conf.is_secret(entry.key) else entry.value,
                "line": entry.line,
                "origin": entry.origin.describe(),
            }
            for entry in conf.entries
        ],
    }
