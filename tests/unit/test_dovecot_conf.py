"""dovecot-ldap.conf.ext and dovecot.conf parsing, checked against a running dovecot and doveconf."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from ldapdiag.config.dms_render import render_dovecot_ldap
from ldapdiag.config.dovecot_conf import (
    LDAP_SETTINGS,
    dovecot_ldap_ext_findings,
    glob_under_root,
    load_dovecot_conf,
    parse_dovecot_conf,
    parse_dovecot_ldap_ext,
    read_dovecot_ldap_ext,
)
from ldapdiag.config.origin import Origin
from ldapdiag.config.settings import Settings
from ldapdiag.errors import InputError
from tests.oracles.dovecot import (
    DovecotFatal,
    doveconf,
    doveconf_value,
    dovecot_version,
    ldap_user_search,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "parsers" / "dovecot"
STOCK_DOVECOT = Path("/etc/dovecot")  # Debian's dovecot-core configuration, as installed
PROTOCOLS_D = Path("/usr/share/dovecot/protocols.d")  # dovecot.conf includes it by absolute path
CANARY = "CANARY-9d1e"
USER = "someone@example.org"


def expected_filter(template: str) -> str:
    """The filter dovecot sends for USER: %n and %u filled in (no characters to escape here)."""
    return template.replace("%n", "someone").replace("%u", USER)


def ldap_attr_names(attrs: str) -> str:
    """The LDAP attribute names of a user_attrs value, as dovecot logs them in `fields=`."""
    return ",".join(part.strip().split("=", 1)[0] for part in attrs.split(",") if part.strip())


# ---------------------------------------------------------------------------------------------
# A DMS v15-like tree: this machine's stock /etc/dovecot with what docker-mailserver v15 changes
# for LDAP accounts written on top. The override files are ours, written from those changes;
# dovecot-ldap.conf.ext is what ldapdiag renders for DMS's template with no variables set.

DMS_OVERRIDES = {
    "conf.d/10-auth.conf": (
        "# DMS v15 (LDAP accounts): LOGIN next to PLAIN, LDAP instead of the system/passwdfile dbs\n"
        "auth_mechanisms = plain login\n"
        "!include auth-ldap.conf.ext\n"
    ),
    "conf.d/auth-ldap.conf.ext": (
        "passdb {\n"
        "  driver = ldap\n"
        "  mechanisms = plain login\n"
        "  args = /etc/dovecot/dovecot-ldap.conf.ext\n"
        "}\n"
        "userdb {\n"
        "  driver = ldap\n"
        "  args = /etc/dovecot/dovecot-ldap.conf.ext\n"
        "}\n"
    ),
    "conf.d/10-mail.conf": (
        "# DMS v15: maildirs under /var/mail/DOMAIN/USER, the quota plugin everywhere\n"
        "mail_home = /var/mail/%d/%n/home/\n"
        "mail_location = maildir:/var/mail/%d/%n\n"
        "namespace inbox {\n"
        "  inbox = yes\n"
        "}\n"
        "mail_plugins = $mail_plugins quota\n"
        "# kept from the stock 10-mail.conf this file replaces\n"
        "mail_privileged_group = mail\n"
    ),
    "conf.d/20-lmtp.conf": "protocol lmtp {\n  mail_plugins = $mail_plugins sieve\n}\n",
}


def _private_or_unreadable(directory: str, names: list[str]) -> set[str]:
    """copytree's ignore: Debian's TLS key pair (`private/`) and whatever this user cannot read."""
    return {n for n in names if n == "private" or not os.access(Path(directory, n), os.R_OK)}


@pytest.fixture
def dms_root(tmp_path: Path) -> Path:
    """A root holding the DMS v15-like /etc/dovecot, plus this machine's protocols.d."""
    if not (STOCK_DOVECOT / "dovecot.conf").is_file():
        pytest.skip(
            f"{STOCK_DOVECOT}/dovecot.conf is missing: the DMS-like tree starts from Debian's stock "
            "dovecot configuration (install dovecot-core)"
        )
    root = tmp_path / "root"
    etc = root / "etc/dovecot"
    shutil.copytree(STOCK_DOVECOT, etc, ignore=_private_or_unreadable)
    for name, text in DMS_OVERRIDES.items():
        (etc / name).write_text(text)
    (etc / "dovecot-ldap.conf.ext").write_text(render_dovecot_ldap(Settings(), []).text())
    if PROTOCOLS_D.is_dir():
        shutil.copytree(PROTOCOLS_D, root / PROTOCOLS_D.relative_to("/"))
    return root


# ---------------------------------------------------------------------------------------------
# dovecot-ldap.conf.ext against a running dovecot's userdb search


def test_ldap_settings_list_matches_db_ldap_c() -> None:
    assert len(LDAP_SETTINGS) == 32
    assert LDAP_SETTINGS["auth_bind"] == "bool" and LDAP_SETTINGS["ldap_version"] == "int"
    assert "hosts" in LDAP_SETTINGS and "iterate_filter" in LDAP_SETTINGS


def test_dms_ldap_file_matches_dovecot(dms_root: Path) -> None:
    text = (dms_root / "etc/dovecot/dovecot-ldap.conf.ext").read_text()
    conf = parse_dovecot_ldap_ext(text, "/etc/dovecot/dovecot-ldap.conf.ext")
    assert conf.value("pass_attrs") == "uniqueIdentifier=user,userPassword=password"
    assert read_dovecot_ldap_ext(dms_root).effective() == conf.effective()
    # no variables set: DMS empties uris (dovecot logs the search before it would connect)
    real = ldap_user_search(text, USER)
    assert real.base == conf.value("base")
    assert real.filter == expected_filter(conf.value("user_filter") or "")
    assert real.fields == ldap_attr_names(conf.value("user_attrs") or "")


def test_tricky_ldap_file_matches_dovecot() -> None:
    text = (DATA / "tricky-ldap.conf.ext").read_text()
    conf = parse_dovecot_ldap_ext(text, "/etc/dovecot/dovecot-ldap.conf.ext")
    assert conf.value("base") == "ou=people # not a comment,dc=example,dc=org"
    assert conf.value("dn") == "cn=admin's,dc=example,dc=org"
    assert conf.value("dnpass") == "secret"
    assert conf.value("user_filter") == "(&(objectClass=PostfixBookMailAccount) (uniqueIdentifier=%n))"
    assert conf.value("user_attrs") == "mailHomeDirectory=home, mailUidNumber=uid"
    assert conf.value("scope") == "subtree"  # last wins
    assert conf.value("auth_bind") == "YES" and conf.value("ldap_version") == "0x3"
    assert "unknown_key" not in conf.effective() and "another" not in conf.effective()
    real = ldap_user_search(text, USER)
    assert real.base == conf.value("base")
    assert real.scope == conf.value("scope")
    assert real.filter == expected_filter(conf.value("user_filter") or "")
    assert real.fields == ldap_attr_names(conf.value("user_attrs") or "")


def test_crlf_and_unterminated_quote_match_dovecot() -> None:
    text = (DATA / "crlf-open-quote-ldap.conf.ext").read_bytes().decode()
    conf = parse_dovecot_ldap_ext(text, "/x.ext")
    assert conf.value("base") == 'dc=a"b # stays'  # no comment stripping after an open quote
    assert conf.value("user_filter") == "(uid=%n)"
    real = ldap_user_search(text, USER)
    assert real.base == conf.value("base")
    assert real.filter == "(uid=someone)"
    findings = dovecot_ldap_ext_findings(text, "/x.ext")
    assert [f.where for f in findings] == ["/x.ext:2"]


def test_entry_lines_and_origins() -> None:
    text = (DATA / "tricky-ldap.conf.ext").read_text()
    conf = parse_dovecot_ldap_ext(text, "/etc/dovecot/dovecot-ldap.conf.ext")
    entry = conf.get("user_attrs")
    assert entry is not None and (entry.line, entry.last_line) == (8, 10)
    assert entry.origin == Origin("file", "/etc/dovecot/dovecot-ldap.conf.ext:8")
    via = Origin("env-file", "mailserver.env:4", "LDAP_SEARCH_BASE")
    rendered = parse_dovecot_ldap_ext("uris = ldap://x\nbase = dc=x\n", "/e.ext", {2: via})
    assert rendered.get("base").origin == via  # type: ignore[union-attr]
    assert rendered.rendered and rendered.format == "dovecot"


def test_findings_name_ambiguous_hash_and_sections() -> None:
    text = (DATA / "tricky-ldap.conf.ext").read_text()
    findings = dovecot_ldap_ext_findings(text, "/e.ext")
    assert [f.where for f in findings] == ["/e.ext:5", "/e.ext:12"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("uris = ldap://x\nbase = dc=x\nfoo = bar\n", 3, "Unknown setting: foo"),
        ("uris = ldap://x\nbase = dc=x\nauth_bind = maybe\n", 3, "Invalid boolean"),
        ("uris = ldap://x\nbase = dc=x\nldap_version = three\n", 3, "Invalid number"),
        ("uris = ldap://x\nbase\n", 2, "Expecting '='"),
        ("uris = ldap://x\n}\n", 2, "Unexpected '}'"),
        ("uris = ldap://x\nuser_filter = (a=b)\\\n  (c=d)\nfoo = 1\n", 4, "Unknown setting: foo"),
    ],
)
def test_errors_match_dovecot(text: str, line: int, message: str) -> None:
    with pytest.raises(DovecotFatal) as real:
        ldap_user_search(text)
    assert f"line {line}: {message}" in str(real.value)
    with pytest.raises(InputError) as ours:
        parse_dovecot_ldap_ext(text, "/etc/dovecot/dovecot-ldap.conf.ext")
    assert ours.value.where == f"/etc/dovecot/dovecot-ldap.conf.ext:{line}"
    assert message.split(":")[0].lower() in ours.value.message.lower()
    # read as the configuration loaders read it: the file is refused with dovecot's own error
    refused = parse_dovecot_ldap_ext(text, "/e.ext", tolerant=True).refused
    assert refused is not None
    assert _any_file(refused) == f"ldap /e.ext: {_any_file(str(real.value))}"


def _any_file(text: str) -> str:
    return re.sub(r"configuration file \S+ line", "configuration file F line", text)


def test_ldap_errors_never_quote_values() -> None:
    for text in (
        f"uris = ldap://x\ndnpass {CANARY}\n",
        f"uris = ldap://x\nauth_bind = {CANARY}\n",
        f"uris = ldap://x\nldap_version = {CANARY}\n",
        f"uris = ldap://x\nnosuch = {CANARY}\n",
    ):
        with pytest.raises(InputError) as err:
            parse_dovecot_ldap_ext(text, "/e.ext")
        assert CANARY not in str(err.value)
        assert err.value.where == "/e.ext:2"


def test_env_references() -> None:
    text = 'uris = $ENV:LDAP_URI\nbase = ou=x,$ENV:BASE\ndn = "$ENV:DN"\n'
    conf = parse_dovecot_ldap_ext(text, "/e.ext", env={"LDAP_URI": "ldap://h", "BASE": "dc=y"})
    assert conf.value("uris") == "ldap://h"
    assert conf.value("base") == "ou=x,$ENV:BASE"  # only at the start or after a blank
    assert conf.value("dn") == "$ENV:DN"  # quoted values are not expanded
    kept = parse_dovecot_ldap_ext(text, "/e.ext")
    assert kept.value("uris") == "$ENV:LDAP_URI"
    assert [f.where for f in dovecot_ldap_ext_findings(text, "/e.ext")] == ["/e.ext:1"]


def test_non_utf8_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        parse_dovecot_ldap_ext(b"uris = ldap://x\ndnpass = \xff" + CANARY.encode(), "/e.ext")
    assert err.value.where == "/e.ext:2" and CANARY not in str(err.value)
    with pytest.raises(InputError, match="not found"):
        read_dovecot_ldap_ext(tmp_path)


def test_ldap_include(tmp_path: Path) -> None:
    (tmp_path / "etc/dovecot").mkdir(parents=True)
    (tmp_path / "etc/dovecot/dovecot-ldap.conf.ext").write_text("uris = ldap://x\n!include base.inc\n")
    (tmp_path / "etc/dovecot/base.inc").write_text("base = dc=included\n")
    conf = read_dovecot_ldap_ext(tmp_path)
    assert conf.value("base") == "dc=included"
    assert conf.get("base").origin == Origin("file", "/etc/dovecot/base.inc:1")  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------
# dovecot.conf against doveconf


def auth_dbs(conf: object) -> list[tuple[str, str, str, dict[str, str]]]:
    dbs = [*conf.passdbs, *conf.userdbs]  # type: ignore[attr-defined]
    return [(db.kind, db.driver, db.args, dict(db.settings)) for db in dbs]


def test_dms_config_matches_doveconf_h(dms_root: Path) -> None:
    config = dms_root / "etc/dovecot/dovecot.conf"
    conf = load_dovecot_conf(dms_root)
    assert conf.passdbs[0].driver == "ldap"
    assert conf.passdbs[0].args == "/etc/dovecot/dovecot-ldap.conf.ext"
    assert conf.passdbs[0].settings == {"mechanisms": "plain login"}
    assert conf.settings.value("mail_location") == "maildir:/var/mail/%d/%n"
    for key, entry in conf.settings.effective().items():
        if entry.value.startswith("<"):
            continue  # doveconf -h prints `<file` unread; the loader keeps it too (file missing)
        assert doveconf_value(config, key) == entry.value, key
    for protocol, settings in conf.protocols.items():
        for key, entry in settings.effective().items():
            assert doveconf_value(config, key, protocol) == entry.value, (protocol, key)
    assert conf.protocols["lmtp"].value("mail_plugins") == " quota sieve"


def test_dms_config_and_its_doveconf_n_dump_agree(dms_root: Path) -> None:
    config = dms_root / "etc/dovecot/dovecot.conf"
    original = load_dovecot_conf(dms_root)
    dump_text = doveconf(config, "-n")
    dump = parse_dovecot_conf(dump_text, "/tmp/dump.conf", dms_root)
    assert dump.dump_version is not None and dump.dump_source == str(config)
    hidden = {line.split(" = ")[0] for line in dump_text.splitlines() if "# hidden" in line}
    dumped = dump.settings.effective()
    ours = {"auth_mechanisms", "mail_home", "mail_location", "mail_plugins", "mail_privileged_group"}
    assert ours | {"ssl_cert"} <= dumped.keys() - hidden  # ssl_cert: stock 10-ssl.conf
    for key, entry in dumped.items():
        if key not in hidden:
            assert original.settings.value(key) == entry.value, key
    assert auth_dbs(dump) == auth_dbs(original)
    for name, settings in dump.protocols.items():
        assert {k: e.value for k, e in settings.effective().items()} == {
            k: e.value for k, e in original.protocols[name].effective().items()
        }


def test_dump_alone_parses_like_the_tree(dms_root: Path) -> None:
    """A `doveconf -n` dump read on its own (no root), as when an admin pastes one."""
    config = dms_root / "etc/dovecot/dovecot.conf"
    dump = parse_dovecot_conf(doveconf(config, "-n"), "/dump.conf")
    original = load_dovecot_conf(dms_root)
    assert dump.dump_version == dovecot_version()
    assert dump.dump_source == str(config)
    assert auth_dbs(dump) == auth_dbs(original)
    for key in ("mail_location", "mail_home", "auth_mechanisms", "mail_plugins", "mail_privileged_group"):
        assert dump.settings.value(key) is not None, key
        assert dump.settings.value(key) == original.settings.value(key), key
    assert dump.settings.value("mail_location") == "maildir:/var/mail/%d/%n"
    assert dump.settings.value("mail_home") == "/var/mail/%d/%n/home/"
    assert dump.settings.value("auth_mechanisms") == "plain login"
    assert dump.settings.value("mail_plugins") == " quota"
    assert dump.protocols["lmtp"].value("mail_plugins") == " quota sieve"
    namespace = next(s for s in dump.sections if s.kind == "namespace")
    assert namespace.name == "inbox" and {s.name for s in namespace.sections} >= {"Drafts", "Trash"}


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        file = root / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text)
    return root / "etc/dovecot/dovecot.conf"


SYNTHETIC = {
    "etc/dovecot/dovecot.conf": (
        "ssl = no\n"
        "!include conf.d/{10,20}-*.conf\n"
        "!include_try conf.d/missing-*.conf\n"
        "!include_try local.conf\n"
        'postmaster_address = "quoted # not a comment \\" done" # comment\n'
        "mail_location = maildir:~/Maildir   \\\n"
        "   :LAYOUT=fs\n"
        "hostname = a#b\n"
        "auth_username_format = '%Ln'\n"
        "mail_plugins = one\n"
        "mail_plugins = $mail_plugins   two\n"
        "login_greeting = x\t$mail_plugins   y $auth_username_format\n"
        "recipient_delimiter = <delimiter.txt\n"
        "protocol lmtp {\n"
        "  mail_plugins = $mail_plugins sieve\n"
        "  login_greeting = $mail_plugins\n"
        "  passdb {\n"
        "    driver = static\n"
        "  }\n"
        "}\n"
        'namespace "in box" {\n'
        "  inbox = yes\n"
        "}\n"
    ),
    "etc/dovecot/delimiter.txt": "+-\n",
    "etc/dovecot/conf.d/10-auth.conf": "auth_mechanisms = plain login\n!include auth-ldap.conf.ext\n",
    "etc/dovecot/conf.d/auth-ldap.conf.ext": (
        "passdb {\n  driver = ldap\n  args = /etc/dovecot/dovecot-ldap.conf.ext\n}\n"
        "userdb {\n  driver = ldap\n  args = /etc/dovecot/dovecot-ldap.conf.ext\n"
        "  default_fields = uid=vmail gid=vmail\n}\n"
    ),
    "etc/dovecot/conf.d/20-lmtp.conf": "protocol lmtp {\n  postmaster_address = pm@example.org\n}\n",
    "etc/dovecot/conf.d/30-skipped.conf": "auth_mechanisms = skipped\n",
}


def test_synthetic_config_matches_doveconf_x(tmp_path: Path) -> None:
    config = write_tree(tmp_path, SYNTHETIC)
    conf = load_dovecot_conf(tmp_path)
    expected = {
        "postmaster_address": 'quoted # not a comment " done',
        "mail_location": "maildir:~/Maildir :LAYOUT=fs",
        "hostname": "a",
        "auth_username_format": "%Ln",
        "mail_plugins": "one two",
        "login_greeting": "x\t$mail_plugins y %Ln",
        "recipient_delimiter": "+-\n",
        "auth_mechanisms": "plain login",
    }
    for key, value in expected.items():
        assert conf.settings.value(key) == value, key
        assert doveconf(config, "-x", "-h", key).removesuffix("\n") == value, key
    lmtp = conf.protocols["lmtp"]
    assert lmtp.value("mail_plugins") == "one two sieve"
    assert lmtp.value("login_greeting") == "one two sieve"
    assert lmtp.value("postmaster_address") == "pm@example.org"
    for key in ("mail_plugins", "login_greeting", "postmaster_address"):
        real = doveconf(config, "-x", "-f", "protocol=lmtp", "-h", key).removesuffix("\n")
        assert real == lmtp.value(key), key
    assert conf.files == (
        "/etc/dovecot/dovecot.conf",
        "/etc/dovecot/conf.d/10-auth.conf",
        "/etc/dovecot/conf.d/auth-ldap.conf.ext",
        "/etc/dovecot/conf.d/20-lmtp.conf",
    )
    assert [(db.kind, db.driver, db.protocol) for db in (*conf.passdbs, *conf.userdbs)] == [
        ("passdb", "ldap", ""),
        ("passdb", "static", "lmtp"),
        ("userdb", "ldap", ""),
    ]
    assert conf.userdbs[0].settings == {"default_fields": "uid=vmail gid=vmail"}
    assert conf.userdbs[0].origin == Origin("file", "/etc/dovecot/conf.d/auth-ldap.conf.ext:5")
    assert conf.sections[0].kind == "namespace" and conf.sections[0].name == "in box"
    assert [f.where for f in conf.findings] == ["/etc/dovecot/dovecot.conf:8"]  # the ambiguous '#'


def test_unknown_variable_is_a_finding_not_an_error(tmp_path: Path) -> None:
    config = write_tree(tmp_path, {"etc/dovecot/dovecot.conf": "ssl = no\nlogin_greeting = $nosuch x\n"})
    with pytest.raises(DovecotFatal, match="Unknown variable"):
        doveconf(config, "-x", "-n")
    conf = load_dovecot_conf(tmp_path)
    assert conf.settings.value("login_greeting") == " x"
    assert [f.where for f in conf.findings] == ["/etc/dovecot/dovecot.conf:2"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("ssl = no\n!include nosuch.conf\n", 2, "No matches"),
        ("ssl = no\npostmaster_address\n", 2, "Expecting '{'"),
        ("ssl = no\nservice imap { x\n", 2, "Garbage after '{'"),
        ("ssl = no\n}\n", 2, "Unexpected '}'"),
        ("ssl = no\n!include dovecot.conf\n", 2, "Recursive include file"),
    ],
)
def test_dovecot_conf_errors_match_doveconf(tmp_path: Path, text: str, line: int, message: str) -> None:
    config = write_tree(tmp_path, {"etc/dovecot/dovecot.conf": text})
    with pytest.raises(DovecotFatal) as real:
        doveconf(config, "-n")
    assert f"line {line}: {message}" in str(real.value)
    with pytest.raises(InputError) as ours:
        load_dovecot_conf(tmp_path)
    assert ours.value.where == f"/etc/dovecot/dovecot.conf:{line}"
    assert message.split(" ")[0].lower() in ours.value.message.lower()


def test_unclosed_section_matches_doveconf(tmp_path: Path) -> None:
    config = write_tree(tmp_path, {"etc/dovecot/dovecot.conf": "ssl = no\npassdb {\n  driver = ldap\n"})
    with pytest.raises(DovecotFatal, match="Missing '}'"):
        doveconf(config, "-n")
    with pytest.raises(InputError, match="Missing '}'") as err:
        load_dovecot_conf(tmp_path)
    assert err.value.where == "/etc/dovecot/dovecot.conf:2"


def test_dovecot_conf_errors_never_quote_values(tmp_path: Path) -> None:
    for text in (f"ssl = no\nldap_pw {CANARY}\n", f"ssl = no\nservice x {{ {CANARY}\n"):
        with pytest.raises(InputError) as err:
            parse_dovecot_conf(text, "/etc/dovecot/dovecot.conf", tmp_path)
        assert CANARY not in str(err.value)
    with pytest.raises(InputError) as err:
        parse_dovecot_conf(b"ssl = no\nx = \xff" + CANARY.encode(), "/etc/dovecot/dovecot.conf")
    assert err.value.where == "/etc/dovecot/dovecot.conf:2" and CANARY not in str(err.value)


def test_missing_main_file_and_include_without_root(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_dovecot_conf(tmp_path)
    with pytest.raises(InputError, match="!include"):
        parse_dovecot_conf("!include conf.d/*.conf\n", "/etc/dovecot/dovecot.conf")


def test_glob_under_root_braces_and_sorting(tmp_path: Path) -> None:
    for name in ("b.conf", "a.conf", "c.ext", ".hidden.conf"):
        (tmp_path / "etc").mkdir(exist_ok=True)
        (tmp_path / "etc" / name).write_text("")
    assert glob_under_root(tmp_path, "/etc/*.conf") == ["/etc/a.conf", "/etc/b.conf"]
    assert glob_under_root(tmp_path, "/etc/{c.ext,*.conf}") == ["/etc/c.ext", "/etc/a.conf", "/etc/b.conf"]
    assert glob_under_root(tmp_path, "/etc/none.conf") == []


def test_ldap_include_glob_is_read_in_reverse_order(tmp_path: Path) -> None:
    """settings.c pushes glob matches first to last, so the first match is read last and wins."""
    files = {"base-a.inc": "base = dc=a\n", "base-b.inc": "base = dc=b\n"}
    text = "uris = ldap://127.0.0.1:9\n!include base-*.inc\n"
    assert ldap_user_search(text, USER, extra_files=files).base == "dc=a"
    (tmp_path / "etc/dovecot").mkdir(parents=True)
    (tmp_path / "etc/dovecot/dovecot-ldap.conf.ext").write_text(text)
    for name, content in files.items():
        (tmp_path / "etc/dovecot" / name).write_text(content)
    assert read_dovecot_ldap_ext(tmp_path).value("base") == "dc=a"


def test_conf_include_glob_is_read_in_sorted_order(tmp_path: Path) -> None:
    config = write_tree(
        tmp_path,
        {
            "etc/dovecot/dovecot.conf": "ssl = no\n!include conf.d/*.conf\n",
            "etc/dovecot/conf.d/a.conf": "postmaster_address = a@example.org\n",
            "etc/dovecot/conf.d/b.conf": "postmaster_address = b@example.org\n",
        },
    )
    assert doveconf_value(config, "postmaster_address") == "b@example.org"
    assert load_dovecot_conf(tmp_path).settings.value("postmaster_address") == "b@example.org"


def test_unknown_ldap_key_that_looks_like_a_secret_is_not_named() -> None:
    with pytest.raises(InputError) as err:
        parse_dovecot_ldap_ext(f"uris = ldap://x\ndnpass:{CANARY}=x\n", "/e.ext")
    assert CANARY not in str(err.value) and "Unknown setting" in str(err.value)
