"""Server rules that read only the root DSE and the schema, with those facts given directly.

The root DSE values are what the servers publish: OpenLDAP lists RFC 4526 absolute filters
(1.3.6.1.4.1.4203.1.5.3) in supportedFeatures; Active Directory (and Samba AD) list
LDAP_CAP_ACTIVE_DIRECTORY_OID (1.2.840.113556.1.4.800) in supportedCapabilities and publish
attribute types without matching rules (e.g. sAMAccountName in OpenLDAP's copy, msuser.schema).
The same rules against a real slapd are in tests/integration/test_lint_server.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ldapdiag.config.load import load_config
from ldapdiag.config.model import MailServerConfig
from ldapdiag.config.sources import SourceOptions
from ldapdiag.directory.directory import RootDse
from ldapdiag.lint.runner import lint_config
from ldapdiag.lint.schema import Schema
from ldapdiag.lint.server import ServerFacts
from ldapdiag.postfix.tables import LookupResult

DATA = Path(__file__).parent.parent / "data"
DEFAULTS = DATA / "lint" / "dms-defaults.env"
OPENLDAP = {"supportedFeatures": ("1.3.6.1.4.1.4203.1.5.3",), "vendorName": ("OpenLDAP",)}
AD = {"supportedCapabilities": ("1.2.840.113556.1.4.800",)}
AD_SCHEMA = Schema.from_descriptions(
    [
        "( 0.9.2342.19200300.100.1.3 NAME 'mail' SYNTAX '1.3.6.1.4.1.1466.115.121.1.15' )",
        "( 1.2.840.113556.1.4.221 NAME 'sAMAccountName' SYNTAX '1.3.6.1.4.1.1466.115.121.1.15' )",
        "( 2.5.4.0 NAME 'objectClass' SYNTAX '1.3.6.1.4.1.1466.115.121.1.38' )",
        "( 1.2.840.113556.1.2.102 NAME 'memberOf' SYNTAX '1.3.6.1.4.1.1466.115.121.1.12' )",
    ],
    ["( 1.2.840.113556.1.5.9 NAME 'user' )", "( 2.5.6.6 NAME 'person' )"],
)


def config(tmp_path: Path, env: str) -> MailServerConfig:
    extra = tmp_path / "extra.env"
    extra.write_text(env)
    return load_config(SourceOptions(env_files=(DEFAULTS, extra), use_environment=False), {})


class NothingFound:
    """A postfix table factory whose tables find nothing (the data rules have nothing to sample)."""

    def ldap(self, path: str) -> NothingFound:
        return self

    def lookup(self, key: str) -> LookupResult:
        return LookupResult(key, "ldap:stub", None)


def facts(cfg: MailServerConfig, root: dict[str, Any], schema: Schema | None) -> ServerFacts:
    server = ServerFacts(cfg, None, None, RootDse(root), schema)  # type: ignore[arg-type]
    server.__dict__.update(sample_addresses=[], sample_domains=[])
    server._factory = NothingFound()  # type: ignore[assignment]
    return server


def codes(cfg: MailServerConfig, server: ServerFacts) -> list[tuple[str, str]]:
    return [(p.code, p.level) for p in lint_config(cfg, server=server).problems]


def test_absolute_filters(tmp_path: Path) -> None:
    cfg = config(tmp_path, "LDAP_QUERY_FILTER_GROUP=(|)\n")
    assert codes(cfg, facts(cfg, OPENLDAP, None)) == []
    assert codes(cfg, facts(cfg, {"vendorName": ("Other",)}, None)) == [
        ("absolute-filter-unsupported", "warning")
    ]


def test_active_directory_without_tls(tmp_path: Path) -> None:
    cfg = config(tmp_path, "LDAP_QUERY_FILTER_USER=(mail=%s)\n")
    # the filters do not look like AD; the root DSE says it is AD: an error per plain component
    assert codes(cfg, facts(cfg, AD, None)) == [("tls-ad-plain", "error"), ("tls-ad-plain", "error")]
    cfg = config(tmp_path, "LDAP_START_TLS=yes\nDOVECOT_TLS=yes\n")
    assert ("tls-ad-plain", "error") not in codes(cfg, facts(cfg, AD, None))
    # AD-looking filters against a server that says it is not AD: no finding
    cfg = config(tmp_path, "LDAP_QUERY_FILTER_USER=(&(objectClass=user)(mail=%s))\n")
    assert codes(cfg, facts(cfg, OPENLDAP, None)) == []


def test_active_directory_schema_lists_no_matching_rules(tmp_path: Path) -> None:
    """Without listed rules, equality is not judged; DN substrings still are (AD's documentation)."""
    cfg = config(
        tmp_path,
        "LDAP_START_TLS=yes\nDOVECOT_TLS=yes\n"
        "LDAP_QUERY_FILTER_USER=(&(objectClass=user)(mail=%s))\n"
        "LDAP_QUERY_FILTER_ALIAS=(|)\nLDAP_QUERY_FILTER_GROUP=(|)\nLDAP_QUERY_FILTER_DOMAIN=(mail=*@%s)\n"
        "SPOOF_PROTECTION=1\nLDAP_QUERY_FILTER_SENDERS=(|(mail=%s)(memberOf=cn=admins,*))\n"
        "DOVECOT_USER_FILTER=(&(objectClass=person)(sAMAccountName=%n))\n"
        "DOVECOT_PASS_ATTRS=sAMAccountName=user,userPassword=password\n"
        "DOVECOT_USER_ATTRS==home=/var/mail/%Ln\n",
    )
    found = codes(cfg, facts(cfg, AD, AD_SCHEMA))
    assert ("substring-never-matches", "warning") in found
    assert not [item for item in found if item[0] == "equality-never-matches"]
    # userPassword is not in this small schema: the password field is never set
    assert ("schema-unknown-attribute", "error") in found


SAMBA = {**AD, "vendorName": ("Samba Team (https://www.samba.org)",)}


def test_samba_matches_dn_substrings_windows_ad_does_not(tmp_path: Path) -> None:
    """Samba compares DN values with substring filters as strings (tests/integration/test_ad_lint.py)."""
    cfg = config(
        tmp_path,
        "LDAP_START_TLS=yes\nDOVECOT_TLS=yes\nLDAP_SEARCH_BASE=DC=ad,DC=example,DC=org\n"
        "SPOOF_PROTECTION=1\n"
        "LDAP_QUERY_FILTER_SENDERS=(|(mail=%s)(memberOf=cn=Domain Admins,cn=Users,dc=*))\n",
    )
    windows = codes(cfg, facts(cfg, AD, AD_SCHEMA))
    samba_server = facts(cfg, SAMBA, AD_SCHEMA)
    samba_server.policy = type("P", (), {"search_base": "DC=ad,DC=example,DC=org"})()  # type: ignore[assignment]
    samba = lint_config(cfg, server=samba_server).problems
    assert ("substring-never-matches", "warning") in windows
    assert ("dn-substring-samba", "warning") not in windows
    on_member_of = [(p.code, p.level) for p in samba if "memberOf" in p.message]
    assert on_member_of == [("dn-substring-samba", "warning")]
    [problem] = [p for p in samba if p.code == "dn-substring-samba"]
    assert "(memberOf=cn=Domain Admins,cn=Users,DC=ad,DC=example,DC=org)" in problem.hint
    assert "1.2.840.113556.1.4.1941" in problem.hint


def test_samba_evaluates_unknown_attributes_as_false(tmp_path: Path) -> None:
    """OpenLDAP: (!(unknown=x)) is Undefined, finds nothing; Samba: False, so the NOT finds everything."""
    cfg = config(tmp_path, "LDAP_QUERY_FILTER_USER=(&(mail=%s)(!(mailEnabled=FALSE)))\n")
    schema = AD_SCHEMA
    openldap_like = lint_config(cfg, server=facts(cfg, OPENLDAP, schema)).problems
    samba = lint_config(cfg, server=facts(cfg, SAMBA, schema)).problems

    def levels(found: list) -> list[str]:
        return [p.level for p in found if "(mailEnabled=FALSE)" in p.message]

    assert levels(openldap_like) == ["error"]  # the whole filter never matches
    assert levels(samba) == ["warning"]  # the rest of the filter still can
