"""Render the files DMS v15 writes from its variables, line by line, with each line's provenance.

Mirrors docker-mailserver v15.1.0 start-up: `setup.d/ldap.sh` (`_setup_ldap`), `helpers/utils.sh`
(`_replace_by_env_in_file`), `setup.d/postfix.sh` (`_setup_postfix_early`),
`setup.d/security/spoofing.sh`, `setup.d/saslauthd.sh` and the stock templates under
`target/postfix/ldap-*.cf` and `target/dovecot/dovecot-ldap.conf.ext`, whose keys and values are
recorded here as data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ldapdiag.config.model import FileFormat, HostIdentity
from ldapdiag.config.origin import Finding, Origin
from ldapdiag.config.postfix_cf import read_config_text
from ldapdiag.config.settings import Setting, Settings

POSTFIX_DIR = "/etc/postfix"
DOVECOT_LDAP = "/etc/dovecot/dovecot-ldap.conf.ext"
DOVECOT_CONF = "/etc/dovecot/dovecot.conf"
SASLAUTHD_CONF = "/etc/saslauthd.conf"
LMTP_TRANSPORT = "lmtp:unix:/var/run/dovecot/lmtp"

# map name -> (LDAP_QUERY_FILTER_* variable, template filter, key column width)
POSTFIX_MAPS: dict[str, tuple[str, str, int]] = {
    "users": ("LDAP_QUERY_FILTER_USER", "(&(mail=%s)(mailEnabled=TRUE))", 16),
    "groups": ("LDAP_QUERY_FILTER_GROUP", "(&(mailGroupMember=%s)(mailEnabled=TRUE))", 24),
    "aliases": ("LDAP_QUERY_FILTER_ALIAS", "(&(mailAlias=%s)(mailEnabled=TRUE))", 16),
    "domains": (
        "LDAP_QUERY_FILTER_DOMAIN",
        "(&(|(mail=*@%s)(mailalias=*@%s))(mailEnabled=TRUE))",
        16,
    ),
    "senders": ("LDAP_QUERY_FILTER_SENDERS", "(mail=%s)", 16),
}
# maps a user may replace by putting ldap-<name>.cf into the config volume (senders cannot be)
OVERRIDABLE_MAPS = ("users", "groups", "aliases", "domains")

DOVECOT_TEMPLATE: tuple[tuple[str, str], ...] = (
    ("base", "ou=people,dc=example,dc=com"),
    ("default_pass_scheme", "SSHA"),
    ("dn", "cn=admin,dc=example,dc=com"),
    ("dnpass", "admin"),
    ("uris", "ldap://mail.example.com"),
    ("tls", "no"),
    ("ldap_version", "3"),
    ("pass_attrs", "uniqueIdentifier=user,userPassword=password"),
    ("pass_filter", "(&(objectClass=PostfixBookMailAccount)(uniqueIdentifier=%n))"),
    (
        "user_attrs",
        "mailHomeDirectory=home,mailUidNumber=uid,mailGidNumber=gid,mailStorageDirectory=mail",
    ),
    ("user_filter", "(&(objectClass=PostfixBookMailAccount)(uniqueIdentifier=%n))"),
    ("auth_bind", "no"),
)
DEFAULT_SASLAUTHD_FILTER = "(&(uniqueIdentifier=%u)(mailEnabled=TRUE))"

_SPACE = "[ \t\n\v\f\r]"  # POSIX [[:space:]]


def map_path(name: str) -> str:
    """The path DMS gives the ldap table `name` (users, groups, aliases, domains, senders)."""
    return f"{POSTFIX_DIR}/ldap-{name}.cf"


@dataclass
class RenderedFile:
    """A file being written the way DMS writes it, with the origin of every line (1-based)."""

    path: str
    format: FileFormat
    lines: list[str] = field(default_factory=list)
    origins: dict[int, Origin] = field(default_factory=dict)

    def add(self, line: str, origin: Origin) -> None:
        self.lines.append(line)
        self.origins[len(self.lines)] = origin

    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)


def _postfix_template(name: str) -> RenderedFile:
    """DMS's stock `target/postfix/ldap-<name>.cf`."""
    _, query_filter, width = POSTFIX_MAPS[name]
    origin = Origin("default", f"DMS v15 template ldap-{name}.cf")
    rows = (
        ("bind", "yes"),
        ("bind_dn", "cn=admin,dc=example,dc=com"),
        ("bind_pw", "admin"),
        ("query_filter", query_filter),
        ("result_attribute", "mail, uid" if name == "senders" else "mail"),
        ("search_base", "ou=people,dc=example,dc=com"),
        ("server_host", "mail.example.com"),
        ("start_tls", "no"),
        ("version", "3"),
    )
    rendered = RenderedFile(map_path(name), "postfix")
    for key, value in rows:
        rendered.add(f"{key.ljust(width)} = {value}", origin)
    return rendered


def _dovecot_template() -> RenderedFile:
    """DMS's stock `target/dovecot/dovecot-ldap.conf.ext`."""
    origin = Origin("default", "DMS v15 template dovecot-ldap.conf.ext")
    rendered = RenderedFile(DOVECOT_LDAP, "dovecot")
    for key, value in DOVECOT_TEMPLATE:
        rendered.add(f"{key.ljust(19)} = {value}", origin)
    return rendered


def _override_file(path: Path, target: str) -> RenderedFile:
    """A user's ldap-<name>.cf from the config volume, copied over the template."""
    rendered = RenderedFile(target, "postfix")
    text = read_config_text(path, str(path))
    for number, line in enumerate(text.splitlines(), start=1):
        rendered.add(line, Origin("file", f"{path}:{number}"))
    return rendered


def bash_read_value(raw: str) -> str:
    """The VALUE `IFS='=' read -r KEY VALUE` yields for one `env` line's text after the first `=`.

    Only the first line of a multi-line value is read, and a lone trailing `=` is dropped
    (bash strips a trailing delimiter when the rest holds no other one).
    """
    rest = raw.split("\n", 1)[0]
    if rest.endswith("=") and rest.count("=") == 1:
        rest = rest[:-1]
    return rest


def replace_by_env_in_file(
    rendered: RenderedFile, prefix: str, environment: Sequence[Setting], findings: list[Finding]
) -> None:
    """`_replace_by_env_in_file PREFIX FILE`: every exported PREFIX* variable overwrites its key's lines."""
    for setting in environment:
        if not setting.name.startswith(prefix):
            continue
        key = setting.name[len(prefix) :].lower()
        value = bash_read_value(setting.value)
        pattern = re.compile(rf"^{re.escape(key)}{_SPACE}*=")
        matching = [i for i, line in enumerate(rendered.lines) if pattern.match(line)]
        if not matching:
            continue
        if "\n" in setting.value:
            findings.append(
                Finding(
                    "warning",
                    _where(setting),
                    f"{setting.name} spans several lines; DMS writes only its first line into "
                    f"{key} of {rendered.path}",
                )
            )
        if "#" in value:
            # DMS's sed uses '#' as its delimiter and does not escape it: the sed fails.
            findings.append(
                Finding(
                    "error",
                    _where(setting),
                    f"{setting.name} contains '#': DMS's sed fails on it and leaves {key} of "
                    f"{rendered.path} at its previous value",
                )
            )
            continue
        for index in matching:
            rendered.lines[index] = f"{key} = {value}" if value else f"{key} ="
            variable = setting.origin.variable or setting.name
            rendered.origins[index + 1] = Origin(setting.origin.kind, setting.origin.location, variable)


def _where(setting: Setting) -> str:
    return setting.origin.location or setting.origin.describe()


def _exported(settings: Settings) -> list[Setting]:
    """The container's environment as `env` lists it: only exported variables."""
    return [s for s in settings.values() if s.exported]


def render_postfix_maps(
    settings: Settings, config_dir: Path | None, findings: list[Finding]
) -> dict[str, RenderedFile]:
    """`_setup_ldap`, postfix part: templates or config-volume overrides, then LDAP_* substitution."""
    environment = _exported(settings)
    rendered: dict[str, RenderedFile] = {}
    for name, (variable, _, _) in POSTFIX_MAPS.items():
        override = config_dir / f"ldap-{name}.cf" if config_dir is not None else None
        if override is not None and name in OVERRIDABLE_MAPS and override.is_file():
            document = _override_file(override, map_path(name))
        else:
            document = _postfix_template(name)
        source = settings.get(variable)
        if source is not None and source.exported:
            query_filter = Setting("LDAP_QUERY_FILTER", source.value, _var_origin(source))
        else:
            unset = Origin("derived", f"{variable} unset: DMS writes it empty", variable)
            query_filter = Setting("LDAP_QUERY_FILTER", "", unset)
        env = [s for s in environment if s.name != "LDAP_QUERY_FILTER"] + [query_filter]
        replace_by_env_in_file(document, "LDAP_", env, findings)
        rendered[name] = document
    return rendered


def render_dovecot_ldap(settings: Settings, findings: list[Finding]) -> RenderedFile:
    """`_setup_ldap`, dovecot part: DOVECOT_{BASE,DN,DNPASS,URIS,PASS_FILTER} defaults, then DOVECOT_*."""
    fallbacks = {
        "DOVECOT_BASE": "LDAP_SEARCH_BASE",
        "DOVECOT_DN": "LDAP_BIND_DN",
        "DOVECOT_DNPASS": "LDAP_BIND_PW",
        "DOVECOT_URIS": "LDAP_SERVER_HOST",
        "DOVECOT_PASS_FILTER": "DOVECOT_USER_FILTER",
    }
    exported = {s.name: s for s in _exported(settings)}
    for name, fallback in fallbacks.items():
        own = settings.get(name)
        if own is not None and own.value != "":
            exported[name] = own
            continue
        source = settings.get(fallback)
        value = source.value if source is not None else ""
        origin = (
            Origin(source.origin.kind, source.origin.location, fallback)
            if source is not None
            else Origin("derived", f"{fallback} unset", fallback)
        )
        exported[name] = Setting(name, value, origin)
    document = _dovecot_template()
    replace_by_env_in_file(document, "DOVECOT_", list(exported.values()), findings)
    return document


def render_dovecot_main(settings: Settings, config_dir: Path | None) -> RenderedFile:
    """The part of DMS's dovecot configuration that shapes LDAP logins and LMTP delivery.

    DMS v15: conf.d/10-auth.conf (`auth_mechanisms`, `!include auth-ldap.conf.ext` enabled by
    ldap.sh), auth-ldap.conf.ext (passdb/userdb ldap), conf.d/10-mail.conf and setup.d/dovecot.sh
    (DOVECOT_MAILBOX_FORMAT), and the config volume's dovecot.cf, copied to local.conf (read last).
    """
    document = RenderedFile(DOVECOT_CONF, "dovecot")
    conf_d = Origin("default", "DMS v15 dovecot conf.d")
    mailbox_format = settings.get("DOVECOT_MAILBOX_FORMAT")
    document.add("auth_mechanisms = plain login", conf_d)
    if mailbox_format is not None and mailbox_format.value in ("sdbox", "mdbox"):
        origin = _var_origin(mailbox_format)
        document.add("mail_home = /var/mail/%d/%n", origin)
        document.add(f"mail_location = {mailbox_format.value}:/var/mail/%d/%n", origin)
    else:
        document.add("mail_home = /var/mail/%d/%n/home/", conf_d)
        document.add("mail_location = maildir:/var/mail/%d/%n", conf_d)
    for line in (
        "passdb {",
        "  driver = ldap",
        "  mechanisms = plain login",
        f"  args = {DOVECOT_LDAP}",
        "}",
        "userdb {",
        "  driver = ldap",
        f"  args = {DOVECOT_LDAP}",
        "}",
    ):
        document.add(line, Origin("default", "DMS v15 auth-ldap.conf.ext"))
    override = config_dir / "dovecot.cf" if config_dir is not None else None
    if override is not None and override.is_file():
        text = read_config_text(override, str(override))
        for number, line in enumerate(text.splitlines(), start=1):
            document.add(line, Origin("file", f"{override}:{number}"))
    return document


def render_saslauthd_conf(settings: Settings) -> RenderedFile:
    """`_setup_saslauthd`: the heredoc with `${VAR:=default}` values, then `sed '/^.*: $/d'`."""
    rows = (
        ("ldap_servers", "SASLAUTHD_LDAP_SERVER", "LDAP_SERVER_HOST", None),
        ("ldap_auth_method", "SASLAUTHD_LDAP_AUTH_METHOD", None, "bind"),
        ("ldap_bind_dn", "SASLAUTHD_LDAP_BIND_DN", "LDAP_BIND_DN", None),
        ("ldap_bind_pw", "SASLAUTHD_LDAP_PASSWORD", "LDAP_BIND_PW", None),
        ("ldap_search_base", "SASLAUTHD_LDAP_SEARCH_BASE", "LDAP_SEARCH_BASE", None),
        ("ldap_filter", "SASLAUTHD_LDAP_FILTER", None, DEFAULT_SASLAUTHD_FILTER),
        ("ldap_start_tls", "SASLAUTHD_LDAP_START_TLS", None, "no"),
        ("ldap_tls_check_peer", "SASLAUTHD_LDAP_TLS_CHECK_PEER", None, "no"),
        ("ldap_tls_cacert_file", "SASLAUTHD_LDAP_TLS_CACERT_FILE", None, ""),
        ("ldap_tls_cacert_dir", "SASLAUTHD_LDAP_TLS_CACERT_DIR", None, ""),
        ("ldap_password_attr", "SASLAUTHD_LDAP_PASSWORD_ATTR", None, ""),
        ("ldap_mech", "SASLAUTHD_LDAP_MECH", None, ""),
    )
    document = RenderedFile(SASLAUTHD_CONF, "saslauthd")
    template = Origin("default", "DMS v15 setup.d/saslauthd.sh")
    for key, variable, fallback, default in rows:
        value, origin = _shell_default(settings, variable, fallback, default, template)
        for number, line in enumerate(f"{key}: {value}".split("\n")):
            if not re.fullmatch(r".*: ", line):
                document.add(line, origin if number == 0 else template)
    document.add("ldap_referrals: yes", template)
    document.add("log_level: 10", template)
    return document


def _shell_default(
    settings: Settings, variable: str, fallback: str | None, default: str | None, template: Origin
) -> tuple[str, Origin]:
    """`${VARIABLE:=${FALLBACK}}` or `${VARIABLE:=default}` and the origin of the chosen value."""
    own = settings.get(variable)
    if own is not None and own.value != "":
        return own.value, Origin(own.origin.kind, own.origin.location, variable)
    if fallback is not None:
        source = settings.get(fallback)
        if source is not None:
            return source.value, Origin(source.origin.kind, source.origin.location, fallback)
        return "", template
    return default or "", template


def render_main_cf(settings: Settings, identity: HostIdentity) -> RenderedFile:
    """The main.cf parameters DMS sets that decide LDAP lookups and their wiring."""
    document = RenderedFile(f"{POSTFIX_DIR}/main.cf", "postfix")
    stock = Origin("default", "DMS v15 main.cf")
    ldap_sh = Origin("default", "DMS v15 setup.d/ldap.sh")
    document.add(f"myhostname = {identity.hostname}", identity.hostname_origin)
    document.add(f"mydomain = {identity.domainname}", identity.domainname_origin)
    document.add("mydestination = localhost.$mydomain, localhost", ldap_sh)
    document.add("mynetworks = 127.0.0.0/8 [::1]/128 [fe80::]/64", stock)
    document.add("recipient_delimiter = +", stock)
    document.add("smtputf8_enable = no", stock)
    document.add("compatibility_level = 3.6", stock)
    document.add(f"virtual_mailbox_domains = {POSTFIX_DIR}/vhost, ldap:{map_path('domains')}", ldap_sh)
    document.add(f"virtual_mailbox_maps = ldap:{map_path('users')}", ldap_sh)
    document.add(f"virtual_alias_maps = ldap:{map_path('aliases')}, ldap:{map_path('groups')}", ldap_sh)
    _add_transport(document, settings)
    _add_sender_login_maps(document, settings)
    _add_sasl(document, settings, stock)
    return document


def _add_transport(document: RenderedFile, settings: Settings) -> None:
    """`_setup_postfix_early`: dovecot LMTP unless SMTP_ONLY=1; POSTFIX_DAGENT wins."""
    dagent = settings.get("POSTFIX_DAGENT")
    smtp_only = settings.get("SMTP_ONLY")
    if dagent is not None and dagent.value:
        document.add(f"virtual_transport = {dagent.value}", _var_origin(dagent))
    elif smtp_only is None or smtp_only.value != "1":
        document.add(f"virtual_transport = {LMTP_TRANSPORT}", Origin("default", "DMS v15 setup.d/postfix.sh"))
    else:
        document.add("virtual_transport = virtual", _var_origin(smtp_only))


def _add_sender_login_maps(document: RenderedFile, settings: Settings) -> None:
    """`_setup_spoof_protection` for ACCOUNT_PROVISIONER=LDAP."""
    spoof = settings.get("SPOOF_PROTECTION")
    if spoof is None or spoof.value.strip() != "1":
        document.add(
            "mua_sender_restrictions = $dms_smtpd_sender_restrictions",
            _var_origin(spoof) if spoof is not None else Origin("default", "SPOOF_PROTECTION=0"),
        )
        return
    document.add(
        "mua_sender_restrictions = reject_authenticated_sender_login_mismatch, "
        "$dms_smtpd_sender_restrictions",
        _var_origin(spoof),
    )
    senders = settings.get("LDAP_QUERY_FILTER_SENDERS")
    if senders is not None and senders.value:
        document.add(f"smtpd_sender_login_maps = ldap:{map_path('senders')}", _var_origin(senders))
    else:
        maps = " ".join(f"ldap:{map_path(n)}" for n in ("users", "aliases", "groups"))
        document.add(f"smtpd_sender_login_maps = {maps}", _var_origin(spoof))


def _add_sasl(document: RenderedFile, settings: Settings, stock: Origin) -> None:
    """SMTP AUTH: dovecot SASL by default; cyrus SASL (saslauthd) when ENABLE_SASLAUTHD=1."""
    saslauthd = settings.get("ENABLE_SASLAUTHD")
    if saslauthd is not None and saslauthd.value.strip() == "1":
        document.add("smtpd_sasl_type = cyrus", _var_origin(saslauthd))
    elif settings.value("SMTP_ONLY", "0").strip() == "1":
        document.add("smtpd_sasl_auth_enable = no", _var_origin(settings["SMTP_ONLY"]))
    else:
        document.add("smtpd_sasl_type = dovecot", stock)
        document.add("smtpd_sasl_path = /dev/shm/sasl-auth.sock", stock)
    document.add("smtpd_sasl_local_domain = $mydomain", stock)


def _var_origin(setting: Setting) -> Origin:
    return Origin(setting.origin.kind, setting.origin.location, setting.name)


def vhost_domains(domainname: str, config_dir: Path | None) -> list[str]:
    """`_create_postfix_vhost`: DOMAINNAME and the domains of postfix-accounts.cf and postfix-virtual.cf."""
    domains = {domainname}
    if config_dir is not None:
        domains |= _domains_from(config_dir / "postfix-accounts.cf", "|")
        domains |= _domains_from(config_dir / "postfix-virtual.cf", None)
    return sorted(domains)


def _domains_from(path: Path, separator: str | None) -> set[str]:
    """Domain parts of the first field of each valid line, as `_vhost_collect_postfix_domains` cuts them."""
    if not path.is_file():
        return set()
    found = set()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        first = stripped.split(separator)[0] if separator else stripped.split()[0]
        if "@" in first:
            found.add(first.split("@")[1])
    return found
