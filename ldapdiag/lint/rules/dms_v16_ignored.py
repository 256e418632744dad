"""dms-v16-ignored: DOVECOT_* variables that DMS v16 (dovecot 2.4) no longer uses.

DMS master (commit c9b015ddc, "update base image from Debian 12 to Debian 13", #4536):
setup.d/ldap.sh maps only DOVECOT_URIS/BASE/DN/DNPASS/TLS and the USER/PASS filters, and
_replace_by_env_in_file 'DOVECOT_' conf.d/auth-ldap.conf.ext replaces only the top-level keys that
file has (ldap_uris, ldap_base, ldap_auth_dn, ldap_auth_dn_password, ldap_starttls,
passdb_ldap_filter, userdb_ldap_filter); the attribute mappings are fixed `fields { }` blocks.
"""

from __future__ import annotations

from collections.abc import Iterator

from ldapdiag.lint.context import LintContext
from ldapdiag.lint.problem import LintProblem

CODES = ("dms-v16-ignored",)
SERVER = False
DESCRIPTION = "with --dms-version 16: DOVECOT_* variables DMS v16 ignores"

IGNORED = {
    "DOVECOT_USER_ATTRS": "the userdb fields are fixed in auth-ldap.conf.ext (uid, gid, home, mail_path)",
    "DOVECOT_PASS_ATTRS": "the passdb fields are fixed in auth-ldap.conf.ext (user, password)",
    "DOVECOT_AUTH_BIND": "auth binds are not configurable through the environment any more",
    "DOVECOT_DEFAULT_PASS_SCHEME": "default_pass_scheme is fixed (SSHA) in auth-ldap.conf.ext",
    "DOVECOT_LDAP_VERSION": "auth-ldap.conf.ext has no ldap_version line to replace",
}


def check(ctx: LintContext) -> Iterator[LintProblem]:
    if ctx.dms_version < 16:
        return
    for name, why in IGNORED.items():
        setting = ctx.config.settings.get(name)
        if setting is None or not setting.exported:
            continue
        yield LintProblem(
            "warning",
            "dms-v16-ignored",
            "dms",
            ctx.setting_where(name),
            f"DMS v16 ignores {name}: {why}",
            "put the dovecot 2.4 settings into the config volume's dovecot.cf (passdb/userdb ldap "
            "fields { }) instead",
        )
