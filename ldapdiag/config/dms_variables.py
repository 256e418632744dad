"""DMS v15 variable handling before any file is written.

Mirrors docker-mailserver v15.1.0 `target/scripts/startup/variables-stack.sh`
(`__environment_variables_from_files`, `__environment_variables_backwards_compatibility`,
`__environment_variables_general_setup`, `__environment_variables_ldap`,
`__environment_variables_saslauthd`) and the ACCOUNT_PROVISIONER check of `start-mailserver.sh`.

DMS assigns its defaults as plain shell variables: they are NOT exported, so they never reach
`_replace_by_env_in_file`. The same holds for a secret read from a `*__FILE` variable.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ldapdiag.config.origin import Finding, Origin
from ldapdiag.config.settings import Setting, Settings
from ldapdiag.errors import InputError

# Defaults DMS v15 assigns (not exported) that change what ldapdiag predicts.
GENERAL_DEFAULTS: dict[str, str] = {
    "ACCOUNT_PROVISIONER": "FILE",
    "SPOOF_PROTECTION": "0",
    "ENABLE_SASLAUTHD": "0",
    "SMTP_ONLY": "0",
    "DOVECOT_TLS": "no",
    "DOVECOT_MAILBOX_FORMAT": "maildir",
    "POSTFIX_DAGENT": "",
    "ENABLE_POP3": "0",
    "ENABLE_IMAP": "1",
    "ENABLE_OAUTH2": "0",
    "PERMIT_DOCKER": "none",
    "DMS_VMAIL_UID": "5000",
    "DMS_VMAIL_GID": "5000",
}
LDAP_DEFAULTS: dict[str, str] = {
    "LDAP_BIND_DN": "",
    "LDAP_BIND_PW": "",
    "LDAP_SEARCH_BASE": "",
    "LDAP_SERVER_HOST": "",
    "LDAP_START_TLS": "no",
}
SASLAUTHD_DEFAULTS: dict[str, str] = {"SASLAUTHD_MECHANISMS": "ldap"}

VALID_PROVISIONERS = ("FILE", "LDAP", "OIDC")
HOST_VARIABLES = ("LDAP_SERVER_HOST", "DOVECOT_URIS", "SASLAUTHD_LDAP_SERVER")

FileReader = Callable[[str], str | None]


def apply_dms_variables(settings: Settings, read_file: FileReader) -> tuple[Settings, list[Finding]]:
    """Settings as DMS's shell sees them after variables-stack.sh, plus DMS's own start-up messages.

    `read_file` maps a path inside the container to its text (None when it does not exist).
    Raises InputError where DMS refuses to start (invalid ACCOUNT_PROVISIONER, OIDC).
    """
    findings: list[Finding] = []
    settings = _secrets_from_files(settings, read_file, findings)
    findings += _backwards_compatibility(settings)
    settings = _with_defaults(settings, GENERAL_DEFAULTS, "variables-stack.sh")
    provisioner = settings.value("ACCOUNT_PROVISIONER", "")
    _check_provisioner(settings, provisioner or "")
    settings = _with_defaults(settings, LDAP_DEFAULTS, "variables-stack.sh (LDAP)")
    if settings.value("ENABLE_SASLAUTHD") == "1":
        settings = _with_defaults(settings, SASLAUTHD_DEFAULTS, "variables-stack.sh (SASLAUTHD)")
    return settings, findings


def _with_defaults(settings: Settings, defaults: dict[str, str], location: str) -> Settings:
    """`${VAR:=default}`: assigns when unset or empty; the assigned value is not exported."""
    layer = []
    for name, value in defaults.items():
        current = settings.get(name)
        if current is None:
            layer.append(Setting(name, value, Origin("default", location)))
        elif current.value == "" and value != "":
            # bash keeps an exported variable exported when `:=` assigns to it
            layer.append(Setting(name, value, current.origin))
    return settings.layered(layer)


def _secrets_from_files(settings: Settings, read_file: FileReader, findings: list[Finding]) -> Settings:
    """`__environment_variables_from_files`: `X__FILE=path` sets X from the file, unexported."""
    layer = []
    for name, setting in settings.items():
        if "__FILE" not in name or not setting.exported:
            continue
        target = name.replace("__FILE", "", 1)
        where = setting.origin.location or setting.origin.kind
        if target in settings:
            findings.append(Finding("warning", where, f"{target} is already set, so DMS ignores {name}"))
            continue
        text = read_file(setting.value)
        if text is None:
            findings.append(
                Finding(
                    "warning",
                    where,
                    f"{name} names a file that does not exist here; DMS leaves {target} unset",
                )
            )
            continue
        layer.append(Setting(target, text.rstrip("\n"), Origin("derived", f"{setting.value}", name)))
    return settings.layered(layer)


def _backwards_compatibility(settings: Settings) -> list[Finding]:
    """DMS's errors for ENABLE_LDAP=1 and LDAP hosts without a URI scheme (logged, start-up goes on)."""
    findings = []
    enable_ldap = settings.get("ENABLE_LDAP")
    if enable_ldap is not None and enable_ldap.value.strip() == "1":
        findings.append(
            Finding(
                "error",
                _where(enable_ldap),
                "'ENABLE_LDAP=1' has been changed to 'ACCOUNT_PROVISIONER=LDAP' since DMS v13",
            )
        )
    for name in HOST_VARIABLES:
        setting = settings.get(name)
        if setting is not None and setting.value and "://" not in setting.value:
            findings.append(
                Finding(
                    "error",
                    _where(setting),
                    f"{name} must include the URI scheme ('ldap://', 'ldaps://', 'ldapi://'), "
                    "as DMS v13+ requires",
                )
            )
    return findings


def _check_provisioner(settings: Settings, provisioner: str) -> None:
    """start-mailserver.sh panics on an unknown provisioner; ldapdiag needs LDAP."""
    setting = settings.get("ACCOUNT_PROVISIONER")
    where = _where(setting) if setting is not None else "ACCOUNT_PROVISIONER"
    if provisioner not in VALID_PROVISIONERS:
        raise InputError(
            f"ACCOUNT_PROVISIONER: '{provisioner}' is not a valid value (FILE, LDAP or OIDC); "
            "DMS refuses to start",
            where,
        )
    if provisioner == "OIDC":
        raise InputError("ACCOUNT_PROVISIONER=OIDC is not implemented by DMS; it refuses to start", where)
    if provisioner == "FILE":
        hint = " (ENABLE_LDAP=1 is the pre-v13 name)" if settings.value("ENABLE_LDAP") else ""
        raise InputError(
            f"ACCOUNT_PROVISIONER is FILE{hint}: this mail server does not use LDAP; "
            "set ACCOUNT_PROVISIONER=LDAP",
            where if setting is not None and setting.origin.kind != "default" else "ACCOUNT_PROVISIONER",
        )


def _where(setting: Setting) -> str:
    """The location to name in a message about `setting`."""
    return setting.origin.location or setting.origin.describe()


def read_container_file(root: Path) -> FileReader:
    """A FileReader resolving container paths under `root` (`/` when ldapdiag runs in the container)."""

    def read(path: str) -> str | None:
        candidate = root / path.lstrip("/") if path.startswith("/") else Path(path)
        try:
            return candidate.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    return read
