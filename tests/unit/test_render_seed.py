"""The seed's example configurations rendered into the files DMS v15 writes, key by key.

Expected values are written by hand from the seed page (../shared/seed/dms-ldap-provisioner.md),
../shared/FACTS.md and DMS v15.1.0's start-up scripts (setup.d/ldap.sh, saslauthd.sh,
security/spoofing.sh, helpers/utils.sh): a variable the container does not export leaves the
template's value; an unset LDAP_QUERY_FILTER_X leaves an EMPTY query_filter; DOVECOT_PASS_FILTER
falls back to DOVECOT_USER_FILTER, which may itself be unset (then pass_filter is empty).
"""

from __future__ import annotations

from pathlib import Path

from ldapdiag.config.load import load_config
from ldapdiag.config.model import ConfFile, MailServerConfig
from ldapdiag.config.sources import SourceOptions

DATA = Path(__file__).parent.parent / "data"
SEED = DATA / "seed"
COMPOSE = DATA / "compose"

TEMPLATE_USER = "cn=admin,dc=example,dc=com"


def load_env(path: Path | None, *sets: str, compose: Path | None = None) -> MailServerConfig:
    options = SourceOptions(
        env_files=(path,) if path else (), compose=compose, use_environment=False, sets=sets
    )
    return load_config(options, {})


def assert_file(conf: ConfFile | None, expected: dict[str, str]) -> None:
    assert conf is not None
    assert {k: e.value for k, e in conf.effective().items()} == expected


def postfix_map(bind_dn: str, bind_pw: str, query_filter: str, base: str, host: str, **extra: str):
    values = {
        "bind": "yes",
        "bind_dn": bind_dn,
        "bind_pw": bind_pw,
        "query_filter": query_filter,
        "result_attribute": "mail",
        "search_base": base,
        "server_host": host,
        "start_tls": "no",
        "version": "3",
    }
    values.update(extra)
    return values


def test_really_simple_example() -> None:
    config = load_env(SEED / "really-simple.env", "OVERRIDE_HOSTNAME=mail.example.org")
    base = 'dc=example,dc=org"'  # the seed's stray quote ends up in the files
    common = {"bind_dn": "cn=admin,dc=example,dc=org", "bind_pw": "mypassword"}
    tables = config.postfix_tables
    for name, query_filter in {
        "users": "(mail=%s)",
        "aliases": "(|)",
        "groups": "(|)",
        "domains": "(mail=*@%s)",
    }.items():
        expected = postfix_map(
            query_filter=query_filter, base=base, host="ldap.example.org", start_tls="yes", **common
        )
        assert_file(tables[f"/etc/postfix/ldap-{name}.cf"], expected)
    assert_file(
        tables["/etc/postfix/ldap-senders.cf"],
        postfix_map(
            query_filter="(|(mail=%s)(mail=admin@*))",
            base=base,
            host="ldap.example.org",
            start_tls="yes",
            result_attribute="mail, uid",
            **common,
        ),
    )
    template_filter = "(&(objectClass=PostfixBookMailAccount)(uniqueIdentifier=%n))"
    assert_file(
        config.dovecot_ldap,
        {
            "base": base,
            "default_pass_scheme": "SSHA",
            "dn": "cn=admin,dc=example,dc=org",
            "dnpass": "mypassword",
            "uris": "ldap.example.org",
            "tls": "no",
            "ldap_version": "3",
            "pass_attrs": "uniqueIdentifier=user,userPassword=password",
            "pass_filter": "",  # DOVECOT_PASS_FILTER := DOVECOT_USER_FILTER, unset: empty
            "user_attrs": (
                "mailHomeDirectory=home,mailUidNumber=uid,mailGidNumber=gid,mailStorageDirectory=mail"
            ),
            "user_filter": template_filter,
            "auth_bind": "no",
        },
    )
    assert config.saslauthd is None
    main = config.postfix_main
    assert main.value("smtpd_sender_login_maps") == "ldap:/etc/postfix/ldap-senders.cf"
    assert main.value("virtual_transport") == "lmtp:unix:/var/run/dovecot/lmtp"
    errors = [f for f in config.findings if f.level == "error"]
    assert any("LDAP_SERVER_HOST" in f.message and "URI scheme" in f.message for f in errors)
    assert any("LDAP_SEARCH_BASE" in f.message for f in config.findings if f.level == "warning")


def test_active_directory_example() -> None:
    config = load_env(SEED / "active-directory.env", "OVERRIDE_HOSTNAME=mail.example.org")
    common = {
        "bind_dn": "cn=Administrator,cn=Users,dc=example,dc=org",
        "bind_pw": "mypassword",
        "base": "dc=example,dc=org",
        "host": "ldap://dc.example.org",
        "start_tls": "yes",
    }
    filters = {
        "users": "(&(objectclass=person)(mail=%s))",
        "aliases": "(&(objectclass=person)(proxyAddresses=smtp:%s))",
        "groups": "(&(objectClass=group)(mail=%s))",
        "domains": "(mail=*@%s)",
    }
    for name, query_filter in filters.items():
        assert_file(
            config.postfix_tables[f"/etc/postfix/ldap-{name}.cf"],
            postfix_map(query_filter=query_filter, **common),
        )
    senders = "(|(mail=%s)(proxyAddresses=smtp:%s)(memberOf=cn=Domain Admins,cn=Users,dc=*))"
    assert_file(
        config.postfix_tables["/etc/postfix/ldap-senders.cf"],
        postfix_map(query_filter=senders, result_attribute="mail, uid", **common),
    )
    user_filter = "(&(objectclass=person)(sAMAccountName=%n))"
    assert_file(
        config.dovecot_ldap,
        {
            "base": "dc=example,dc=org",
            "default_pass_scheme": "SSHA",
            "dn": "cn=Administrator,cn=Users,dc=example,dc=org",
            "dnpass": "mypassword",
            "uris": "ldap://dc.example.org",
            "tls": "yes",
            "ldap_version": "3",
            "pass_attrs": "sAMAccountName=user,userPassword=password",
            "pass_filter": user_filter,
            "user_attrs": "=uid=%{ldap:uidNumber},=gid=5000,=home=/var/mail/%Ln,=mail=maildir:~/Maildir",
            "user_filter": user_filter,
            "auth_bind": "no",
        },
    )
    assert_file(
        config.saslauthd,
        {
            "ldap_servers": "ldap://dc.example.org",
            "ldap_auth_method": "bind",
            "ldap_bind_dn": "cn=Administrator,cn=Users,dc=example,dc=org",
            "ldap_bind_pw": "mypassword",
            "ldap_search_base": "dc=example,dc=org",
            "ldap_filter": "(&(sAMAccountName=%U)(objectClass=person))",
            "ldap_start_tls": "yes",
            "ldap_tls_check_peer": "no",
            "ldap_referrals": "yes",
            "log_level": "10",
        },
    )
    main = config.postfix_main
    assert main.value("smtpd_sender_login_maps") == "ldap:/etc/postfix/ldap-senders.cf"
    assert main.value("smtpd_sasl_type") == "cyrus"
    assert not [f for f in config.findings if f.level in ("error", "warning")]


def test_unset_filters_are_written_empty_and_senders_falls_back_to_three_maps() -> None:
    config = load_env(
        SEED / "active-directory.env",
        "OVERRIDE_HOSTNAME=mail.example.org",
        "LDAP_QUERY_FILTER_SENDERS=",
        "LDAP_QUERY_FILTER_GROUP=",
    )
    assert config.postfix_tables["/etc/postfix/ldap-groups.cf"].value("query_filter") == ""
    assert config.postfix_tables["/etc/postfix/ldap-senders.cf"].value("query_filter") == ""
    assert config.postfix_main.value("smtpd_sender_login_maps") == (
        "ldap:/etc/postfix/ldap-users.cf ldap:/etc/postfix/ldap-aliases.cf ldap:/etc/postfix/ldap-groups.cf"
    )


def test_unexported_defaults_leave_template_values(tmp_path: Path) -> None:
    env = tmp_path / "min.env"
    env.write_text("ACCOUNT_PROVISIONER=LDAP\nLDAP_SERVER_HOST=ldap://ldap\n")
    config = load_env(env, "OVERRIDE_HOSTNAME=mail.example.org")
    users = config.postfix_tables["/etc/postfix/ldap-users.cf"]
    # LDAP_BIND_DN/PW/SEARCH_BASE get DMS defaults (empty) that are not exported: template stays
    assert users.value("bind_dn") == TEMPLATE_USER
    assert users.value("bind_pw") == "admin"
    assert users.value("search_base") == "ou=people,dc=example,dc=com"
    assert users.value("query_filter") == ""
    dovecot = config.dovecot_ldap
    assert dovecot is not None
    # ...but dovecot's DOVECOT_BASE/DN/DNPASS are exported by ldap.sh itself: empty
    assert (dovecot.value("base"), dovecot.value("dn"), dovecot.value("dnpass")) == ("", "", "")
    assert dovecot.value("uris") == "ldap://ldap"


def test_password_from_file_variable_is_not_exported_to_postfix(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    env = tmp_path / "x.env"
    env.write_text(f"ACCOUNT_PROVISIONER=LDAP\nLDAP_SERVER_HOST=ldap://ldap\nLDAP_BIND_PW__FILE={secret}\n")
    config = load_env(env, "OVERRIDE_HOSTNAME=mail.example.org")
    assert config.postfix_tables["/etc/postfix/ldap-users.cf"].value("bind_pw") == "admin"
    assert config.dovecot_ldap is not None
    assert config.dovecot_ldap.value("dnpass") == "s3cret"


def test_config_volume_override_is_still_substituted(tmp_path: Path) -> None:
    volume = tmp_path / "config"
    volume.mkdir()
    (volume / "ldap-groups.cf").write_text(
        "server_host = x\nquery_filter = (old)\n"
        "leaf_result_attribute = mail\nspecial_result_attribute = member\n"
    )
    env = tmp_path / "x.env"
    env.write_text(
        "ACCOUNT_PROVISIONER=LDAP\nLDAP_SERVER_HOST=ldap://dc\nLDAP_QUERY_FILTER_GROUP=(mail=%s)\n"
    )
    options = SourceOptions(
        env_files=(env,), use_environment=False, sets=("OVERRIDE_HOSTNAME=a.b.c",), dms_config=volume
    )
    config = load_config(options, {})
    groups = config.postfix_tables["/etc/postfix/ldap-groups.cf"]
    assert groups.effective().keys() == {
        "server_host",
        "query_filter",
        "leaf_result_attribute",
        "special_result_attribute",
    }
    assert groups.value("server_host") == "ldap://dc"
    assert groups.value("query_filter") == "(mail=%s)"
    assert groups.get("leaf_result_attribute").origin.location == f"{volume / 'ldap-groups.cf'}:3"


def test_basic_setup_compose_example() -> None:
    config = load_env(None, compose=COMPOSE / "seed-basic-setup.yml")
    assert (config.identity.hostname, config.identity.domainname) == ("mail.example.com", "example.com")
    assert config.vhost == ("example.com",)
    common = {
        "bind_dn": "cn=admin,ou=users,dc=example,dc=org",
        "bind_pw": "mypassword",
        "base": "dc=example,dc=org",
        "host": "ldap.example.org",
    }
    filters = {
        "users": "(&(objectClass=inetOrgPerson)(mail=%s))",
        "aliases": "(&(objectClass=inetOrgPerson)(mailAlias=%s))",
        "groups": "(&(objectClass=inetOrgPerson)(mailGroupMember=%s))",
        "domains": "(|(mail=*@%s)(mailAlias=*@%s)(mailGroupMember=*@%s))",
    }
    for name, query_filter in filters.items():
        assert_file(
            config.postfix_tables[f"/etc/postfix/ldap-{name}.cf"],
            postfix_map(query_filter=query_filter, **common),
        )
    senders = "(&(objectClass=inetOrgPerson)(|(mail=%s)(mailAlias=%s)(mailGroupMember=%s)))"
    assert_file(
        config.postfix_tables["/etc/postfix/ldap-senders.cf"],
        postfix_map(query_filter=senders, result_attribute="mail, uid", **common),
    )
    user_filter = "(&(objectClass=inetOrgPerson)(mail=%u))"
    assert_file(
        config.dovecot_ldap,
        {
            "base": "dc=example,dc=org",
            "default_pass_scheme": "SSHA",
            "dn": "cn=admin,ou=users,dc=example,dc=org",
            "dnpass": "mypassword",
            "uris": "ldap.example.org",
            "tls": "no",
            "ldap_version": "3",
            "pass_attrs": "uid=user,userPassword=password",
            "pass_filter": user_filter,
            "user_attrs": "=home=/var/mail/%{ldap:uid},=mail=maildir:~/Maildir,uidNumber=uid,gidNumber=gid",
            "user_filter": user_filter,
            "auth_bind": "no",
        },
    )
    assert_file(
        config.saslauthd,
        {
            "ldap_servers": "ldap.example.org",
            "ldap_auth_method": "bind",
            "ldap_bind_dn": "cn=admin,ou=users,dc=example,dc=org",
            "ldap_bind_pw": "mypassword",
            "ldap_search_base": "dc=example,dc=org",
            "ldap_filter": "(&(mail=%U@example.org)(objectClass=inetOrgPerson))",
            "ldap_start_tls": "no",
            "ldap_tls_check_peer": "no",
            "ldap_referrals": "yes",
            "log_level": "10",
        },
    )
    main = config.postfix_main
    assert main.value("myhostname") == "mail.example.com"
    assert main.value("mydomain") == "example.com"
    assert main.value("smtpd_sender_login_maps") == "ldap:/etc/postfix/ldap-senders.cf"
    assert main.value("virtual_transport") == "lmtp:unix:/var/run/dovecot/lmtp"
    assert main.value("smtpd_sasl_type") == "cyrus"
    # the seed's host has no scheme: DMS v15 logs an error for all three components
    errors = [f.message for f in config.findings if f.level == "error"]
    assert len(errors) == 1 and errors[0].startswith("LDAP_SERVER_HOST must include the URI scheme")


def test_kopano_compose_example() -> None:
    config = load_env(None, compose=COMPOSE / "seed-kopano.yml")
    common = {
        "bind_dn": "cn=Administrator,cn=Users,dc=mydomain,dc=loc",
        "bind_pw": "mypassword",
        "base": "dc=mydomain,dc=loc",
        "host": "<yourLdapContainer/yourLdapServer>",
    }
    filters = {
        "users": "(&(objectClass=user)(mail=%s))",
        "aliases": "(&(objectClass=user)(otherMailbox=%s))",
        "groups": "(&(objectclass=group)(mail=%s))",
        "domains": "(&(|(mail=*@%s)(mailalias=*@%s)(mailGroupMember=*@%s))(mailEnabled=TRUE))",
        "senders": "",  # LDAP_QUERY_FILTER_SENDERS unset: written empty
    }
    for name, query_filter in filters.items():
        extra = {"result_attribute": "mail, uid"} if name == "senders" else {}
        assert_file(
            config.postfix_tables[f"/etc/postfix/ldap-{name}.cf"],
            postfix_map(query_filter=query_filter, **common, **extra),
        )
    assert config.dovecot_ldap is None  # SMTP_ONLY=1: DMS does not set up dovecot
    main = config.postfix_main
    assert main.value("virtual_transport") == "lmtp:kopano:2003"
    assert main.value("smtpd_sender_login_maps") is None  # SPOOF_PROTECTION unset
    assert main.value("smtpd_sasl_type") == "cyrus"
    assert config.saslauthd is not None
    assert config.saslauthd.value("ldap_filter") == "(&(sAMAccountName=%U)(objectClass=person))"
    assert config.saslauthd.value("ldap_servers") == "<yourLdapContainer/yourLdapServer>"
