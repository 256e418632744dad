"""ConnectionPolicy per component, derived from the configuration files and ldap.conf.

Each expectation names the C function it comes from (postfix 3.7.11 dict_ldap.c, dovecot
2.3.19.1 db-ldap.c, cyrus-sasl 2.1.28 lak.c, OpenLDAP 2.5.13 init.c/tls2.c). The TLS claims that
matter most (postfix ignores ldap.conf's TLS_CACERT; dovecot's tls_require_cert does not govern
the host-name check) are checked against the real programs in
tests/integration/test_directory_tls_oracles.py.
"""

from __future__ import annotations

import copy
import pickle
import re
import tempfile
from pathlib import Path

import pytest

from ldapdiag.config.dovecot_conf import parse_dovecot_ldap_ext
from ldapdiag.config.postfix_cf import parse_postfix_cf
from ldapdiag.config.saslauthd_conf import parse_saslauthd_conf
from ldapdiag.directory.ldapconf import DEBIAN_LDAP_CONF, TlsLevel, parse_ldap_conf, read_ldap_conf
from ldapdiag.directory.policies import dovecot_policy, postfix_policy, saslauthd_policy
from ldapdiag.directory.policy import PolicyError
from ldapdiag.directory.secret import MASK, Secret
from tests.oracles import postfix as oracle

CANARY = "CANARY-pw-7d1f0a"
DEBIAN = read_ldap_conf()


def postfix(text: str, ldap_conf=DEBIAN):
    return postfix_policy(parse_postfix_cf(text, "/etc/postfix/ldap-users.cf"), ldap_conf)


def dovecot(text: str, ldap_conf=DEBIAN):
    base = "base = dc=example,dc=org\n"
    return dovecot_policy(
        parse_dovecot_ldap_ext(base + text, "/etc/dovecot/dovecot-ldap.conf.ext"), ldap_conf
    )


def saslauthd(text: str, ldap_conf=DEBIAN):
    return saslauthd_policy(parse_saslauthd_conf(text, "/etc/saslauthd.conf"), ldap_conf)


# --- ldap.conf --------------------------------------------------------------------------------


def test_debian_ldap_conf_defaults() -> None:
    """ldap_int_initialize_global_options(): TLS_REQCERT demand, referrals on; Debian adds TLS_CACERT."""
    conf = parse_ldap_conf(DEBIAN_LDAP_CONF)
    assert conf.tls_cacert == "/etc/ssl/certs/ca-certificates.crt"
    assert conf.tls_reqcert is TlsLevel.DEMAND and not conf.tls_reqcert_set
    assert conf.referrals and conf.deref == 0 and conf.sizelimit == 0


def test_ldap_conf_parsing_like_openldap_ldap_init_w_conf(tmp_path: Path) -> None:
    path = tmp_path / "ldap.conf"
    path.write_text(
        "# comment\n  TLS_REQCERT   allow  \ntls_cacert /x.pem\nTLS_REQCERT bogus\nREFERRALS off\n"
        "DEREF always\nSIZELIMIT 12\nNETWORK_TIMEOUT 0\nTIMEOUT 3\nURI\n"
    )
    conf = read_ldap_conf(path)
    assert conf.tls_reqcert is TlsLevel.ALLOW  # an unknown value changes nothing
    assert conf.tls_cacert == "/x.pem"  # keywords are case-insensitive
    assert not conf.referrals and conf.deref == 3 and conf.sizelimit == 12
    assert conf.network_timeout is None and conf.timeout == 3  # ATTR_OPT_TV wants > 0
    assert read_ldap_conf(tmp_path / "missing").tls_cacert is None


@pytest.mark.parametrize(
    ("word", "level"), [("never", 0), ("hard", 1), ("yes", 1), ("demand", 2), ("try", 4)]
)
def test_tls_levels(word: str, level: int) -> None:
    """ldap_pvt_tls_config(): the LDAP_OPT_X_TLS_* values of ldap.h."""
    assert parse_ldap_conf(f"TLS_REQCERT {word}\n").tls_reqcert == level


# --- postfix ----------------------------------------------------------------------------------


def test_postfix_defaults() -> None:
    """dict_ldap_open() defaults: timeout 10, size_limit = expansion_limit (0), no referrals; version 3
    (Debian's postfix, where upstream says 2: checked below with postmap)."""
    policy = postfix("server_host = ldap://h\n")
    assert policy.version == 3 and not policy.notes
    assert (policy.connect_timeout, policy.operation_timeout, policy.time_limit) == (10, 10, 10)
    assert (policy.size_limit, policy.deref, policy.chase_referrals) == (0, 0, False)
    assert not policy.start_tls
    assert policy.bind.method == "simple" and policy.bind.dn == "" and policy.bind.anonymous
    assert policy.tls.chain is TlsLevel.NEVER and policy.tls.host is TlsLevel.NEVER
    assert policy.tls.ca_sources == ()  # ldap.conf's TLS_CACERT is not postfix's


def test_postfix_version() -> None:
    assert postfix("version = 2\n").version == 2
    assert any("LDAPv2" in note for note in postfix("version = 2\n").notes)
    assert postfix("version = 2\nstart_tls = yes\n").version == 3  # "start_tls requires protocol version 3"
    assert postfix("version = 2\nserver_host = ldaps://h\n").version == 3
    assert postfix("version = 7\n").version == 3  # Debian: "Unknown version 7, using 3."
    with pytest.raises(PolicyError, match="at least 2"):
        postfix("version = 1\n")  # "invalid version parameter value 1 < 2"


def _postmap_protocol_version(table: str) -> str:
    """What `postmap -v` logs when it connects: "Actual Protocol version used is N." (or its fatal)."""
    program = oracle.require(oracle.POSTMAP, "postmap")
    with tempfile.TemporaryDirectory(prefix="ldapdiag-postmap-") as tmp:
        oracle._write_cool(Path(tmp) / "main.cf", "")
        path = Path(tmp) / "t.cf"
        oracle._write_cool(path, f"server_host = ldap://127.0.0.1:1\n{table}")
        result = oracle._run([program, "-c", tmp, "-v", "-q", "x@example.org", f"ldap:{path}"])
    match = re.search(
        r"Actual Protocol version used is (\d+)|fatal: \S+ (invalid version.*)$", result.stderr, re.M
    )
    assert match, result.stderr[-1500:]
    return match.group(1) or match.group(2)


@pytest.mark.parametrize("table", ["", "version = 2\n", "version = 7\n", "version = 2\nstart_tls = yes\n"])
def test_postfix_version_matches_postmap(table: str) -> None:
    assert str(postfix(table).version) == _postmap_protocol_version(table)


def test_postfix_tls_require_cert_and_ca_files() -> None:
    """dict_ldap_set_tls_options(): yes = LDAP_OPT_X_TLS_DEMAND; CA only from the table."""
    policy = postfix("start_tls = yes\ntls_require_cert = yes\ntls_ca_cert_file = /etc/ssl/ca.pem\n")
    assert policy.tls.chain is TlsLevel.DEMAND and policy.tls.host is TlsLevel.DEMAND
    assert [(s.kind, s.path) for s in policy.tls.ca_sources] == [("file", "/etc/ssl/ca.pem")]
    with pytest.raises(PolicyError, match="only yes or no"):
        postfix("tls_require_cert = true\n")  # cfg_get_bool(): yes or no


@pytest.mark.parametrize(
    ("value", "method"),
    [("no", "none"), ("NONE", "none"), ("yes", "simple"), ("Simple", "simple"), ("sasl", "sasl")],
)
def test_postfix_bind_values(value: str, method: str) -> None:
    """bindopt_table, matched case-insensitively by name_code()."""
    assert postfix(f"bind = {value}\n").bind.method == method


def test_postfix_bad_bind_is_fatal() -> None:
    with pytest.raises(PolicyError, match="unsupported parameter value"):
        postfix("bind = maybe\n")


def test_postfix_limits() -> None:
    policy = postfix("timeout = 3\nexpansion_limit = 5\ndereference = 9\nchase_referrals = yes\n")
    assert (policy.operation_timeout, policy.time_limit, policy.size_limit) == (3, 3, 5)
    assert policy.deref == 0  # "Unrecognized value 9 specified for dereference; using 0"
    assert policy.chase_referrals
    assert postfix("size_limit = 2\nexpansion_limit = 5\n").size_limit == 2


def test_postfix_tables_share_a_connection_when_postfix_would() -> None:
    """dict_ldap_conn_find(): the key leaves out search_base and query_filter."""
    one = postfix("server_host = ldap://h\nsearch_base = ou=a\nquery_filter = (a=%s)\nbind_pw = x\n")
    two = postfix("server_host = ldap://h\nsearch_base = ou=b\nquery_filter = (b=%s)\nbind_pw = x\n")
    three = postfix("server_host = ldap://h\nsearch_base = ou=b\nbind_pw = y\n")
    assert one.connection_key() == two.connection_key() != three.connection_key()


# --- dovecot ----------------------------------------------------------------------------------


def test_dovecot_defaults() -> None:
    """default_ldap_settings + db_ldap_set_options(): v3, deref never, 5 s network timeout, always binds."""
    policy = dovecot("uris = ldap://h\n")
    assert policy.version == 3 and policy.deref == 0 and not policy.start_tls
    assert policy.connect_timeout == 5 and policy.operation_timeout == 60
    assert policy.bind.method == "simple" and policy.bind.anonymous
    assert policy.chase_referrals  # never set: libldap's default (on)


def test_dovecot_tls_require_cert_and_starttls_host_name_check() -> None:
    """db_ldap_set_tls_options() sets globals after ldap_initialize() copied ldap.conf's TLS_REQCERT;
    after a failed ldap_start_tls_s() db_ldap_connect() keeps that handle."""
    policy = dovecot("uris = ldap://h\ntls = yes\ntls_require_cert = never\n")
    assert policy.tls.chain is TlsLevel.NEVER
    assert policy.tls.host is TlsLevel.DEMAND
    assert any("tls = yes" in note for note in policy.notes)
    relaxed = dovecot(
        "uris = ldap://h\ntls = yes\ntls_require_cert = never\n", parse_ldap_conf("TLS_REQCERT allow\n")
    )
    assert relaxed.tls.host is TlsLevel.ALLOW and not relaxed.notes


def test_dovecot_ldaps_reconnects_with_its_own_level() -> None:
    """A failed ldaps connection is closed (db_ldap_conn_close()); the next handle copies the globals."""
    policy = dovecot("uris = ldaps://h\ntls_require_cert = never\n")
    assert policy.tls.chain is TlsLevel.NEVER and policy.tls.host is TlsLevel.NEVER
    assert any("Can't connect to server" in note for note in policy.notes)


def test_dovecot_ca_sources_override_ldap_conf() -> None:
    assert [s.path for s in dovecot("uris = ldaps://h\n").tls.ca_sources] == [
        "/etc/ssl/certs/ca-certificates.crt"
    ]
    own = dovecot("uris = ldaps://h\ntls_ca_cert_file = /ca.pem\n")
    assert [s.path for s in own.tls.ca_sources] == ["/ca.pem"]
    cleared = dovecot('uris = ldaps://h\ntls_ca_cert_file = ""\n')  # "" clears the path in libldap
    assert cleared.tls.ca_sources == ()


def test_dovecot_refusals() -> None:
    with pytest.raises(PolicyError, match="requires ldap_version=3"):
        dovecot("uris = ldap://h\ntls = yes\nldap_version = 2\n")
    with pytest.raises(PolicyError, match="Unknown tls_require_cert"):
        dovecot("uris = ldap://h\ntls_require_cert = yes\n")  # tls_require_cert2str() has no "yes"
    with pytest.raises(PolicyError, match="No uris or hosts"):
        dovecot("")


# --- saslauthd --------------------------------------------------------------------------------


def test_saslauthd_defaults() -> None:
    """lak_config(): v3, timeout 5, size limit 1, referrals off, tls_check_peer unset (-1)."""
    policy = saslauthd("ldap_search_base: dc=x\n")
    assert [s.url for s in policy.servers] == ["ldap://localhost:389"]
    assert (policy.version, policy.connect_timeout, policy.size_limit) == (3, 5, 1)
    assert policy.time_limit == 5  # ldap_search_st() turns the timeout into the request's timelimit
    assert not policy.chase_referrals
    assert policy.tls.chain is TlsLevel.DEMAND  # from ldap.conf (libldap default)


@pytest.mark.parametrize(
    ("value", "level"),
    [
        ("yes", TlsLevel.HARD),
        ("no", TlsLevel.NEVER),
        ("on", TlsLevel.HARD),
        ("off", TlsLevel.NEVER),
        ("maybe", TlsLevel.NEVER),
        ("Yes", TlsLevel.NEVER),
    ],
)
def test_saslauthd_tls_check_peer(value: str, level: TlsLevel) -> None:
    """lak_config_switch() (first character, case-sensitive: "Yes" is off), then
    LDAP_OPT_X_TLS_REQUIRE_CERT set globally before ldap_initialize()."""
    policy = saslauthd(f"ldap_tls_check_peer: {value}\n")
    assert policy.tls.chain is level and policy.tls.host is level


def test_saslauthd_dms_settings() -> None:
    policy = saslauthd(
        "ldap_servers: ldap://a ldaps://b\nldap_bind_dn: cn=x\nldap_bind_pw: pw\nldap_referrals: yes\n"
        "ldap_start_tls: yes\nldap_version: 2\nldap_timeout: 7s\nldap_size_limit: 0\n"
    )
    assert policy.chase_referrals and policy.start_tls
    assert policy.version == 3  # "ldap_start_tls requires version 3"
    assert policy.connect_timeout == 7 and policy.size_limit == 0
    assert policy.bind.dn == "cn=x" and not policy.bind.anonymous


# --- secrets ----------------------------------------------------------------------------------


def test_secret_never_shows_itself() -> None:
    secret = Secret(CANARY)
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", "{}".format(secret)):  # noqa: UP032
        assert CANARY not in text
    assert str(secret) == MASK and secret.reveal() == CANARY
    assert copy.deepcopy(secret) is secret
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_policies_never_show_the_password() -> None:
    policies = [
        postfix(f"bind_dn = cn=x\nbind_pw = {CANARY}\n"),
        dovecot(f"uris = ldap://h\ndn = cn=x\ndnpass = {CANARY}\n"),
        saslauthd(f"ldap_bind_dn: cn=x\nldap_bind_pw: {CANARY}\n"),
    ]
    for policy in policies:
        assert CANARY not in repr(policy) and CANARY not in str(policy)
        assert policy.bind.password is not None and policy.bind.password.reveal() == CANARY


def test_check_knows_which_bases_depend_on_the_key() -> None:
    from ldapdiag.check import _dynamic_base

    assert _dynamic_base("postfix", "ou=%d,dc=x") and _dynamic_base("postfix", "dc=%1")
    assert not _dynamic_base("postfix", "ou=100%%,dc=x")  # %% is a literal percent sign
    assert _dynamic_base("dovecot", "ou=%{domain}") and _dynamic_base("saslauthd", "ou=%r")
    assert not _dynamic_base("dovecot", "dc=example,dc=org")
