"""A generated directory for `ldapdiag audit`: N mailboxes in the Basic Setup schema, with one planted
fault of each kind (but AD) and the exact set of findings the audit must report.

Layout of scenarios/ (README there): schema (core, cosine, inetorgperson, nis, postfix-book),
directory.ldif, passwords.yaml, mailserver.env. Served with INDEXES (equality on the attributes
the filters compare). Used by tests/integration/test_audit.py (2,000 mailboxes) and
bench/audit_bench.py (10,000 and 100,000).

Why each planted entry is broken (the expected findings, reasoned from the configuration below):
- Team-X@example.org: a mailGroupMember value with capitals; mailGroupMember is caseExactIA5Match
  and postfix lowercases keys, so the groups map never finds it: 550 5.1.1 at RCPT (bounce).
- disabled@: mailEnabled FALSE. The postfix user filter does not look at it (accepted), dovecot's
  does: LMTP 550 (bounce, mailbox). Its alias old-alias@ and its group group0@ reach it (dangling).
- plus+box@: postfix finds the whole key; dovecot's LMTP cuts the local part at `+` (recipient
  delimiter) and looks up plus@, which nobody has: 550 (bounce, mailbox).
- loopa@ / loopb@: each entry's mailAlias is the other's mail: loopa -> loopb -> loopa, cleanup
  defers (loop); each address is one entry's mailbox and the other's alias (duplicate).
- dup@: two entries with this mail: postfix accepts, dovecot finds two entries and fails the
  lookup (451 at LMTP RCPT): duplicate, mailbox.
- nouid@: no posixAccount, so no uidNumber/gidNumber: the userdb answers without uid/gid, LMTP
  accepts and defers after DATA (mailbox).
- twin1@ / twin2@ (entries cn=twin-1, cn=twin-2): both uid "twin". pass_attrs uid=user renames the
  login to "twin", and the userdb lookup of "twin" finds two entries: the IMAP login fails (login).
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

BASE = "dc=example,dc=org"
BIND_DN = f"cn=admin,ou=users,{BASE}"
BIND_PW = "audit-bench-bind-secret"
SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
INDEXES = ("objectClass eq", "mail eq,sub", "mailAlias eq,sub", "mailGroupMember eq", "uid eq")
GROUP_SIZE = 50

ENV = """ACCOUNT_PROVISIONER=LDAP
LDAP_SERVER_HOST=ldap://ldap.example.org
LDAP_SEARCH_BASE=dc=example,dc=org
LDAP_BIND_DN=cn=admin,ou=users,dc=example,dc=org
LDAP_BIND_PW=audit-bench-bind-secret
OVERRIDE_HOSTNAME=mail.example.org
LDAP_QUERY_FILTER_DOMAIN=(|(mail=*@%s)(mailAlias=*@%s))
LDAP_QUERY_FILTER_USER=(&(objectClass=inetOrgPerson)(mail=%s))
LDAP_QUERY_FILTER_ALIAS=(&(objectClass=inetOrgPerson)(mailAlias=%s))
LDAP_QUERY_FILTER_GROUP=(&(objectClass=inetOrgPerson)(mailGroupMember=%s))
DOVECOT_USER_FILTER=(&(objectClass=inetOrgPerson)(mailEnabled=TRUE)(|(mail=%u)(uid=%u)))
DOVECOT_PASS_ATTRS=uid=user,userPassword=password
DOVECOT_USER_ATTRS==home=/var/mail/%{ldap:uid},=mail=maildir:~/Maildir,uidNumber=uid,gidNumber=gid
"""

EXPECTED: frozenset[tuple[str, str]] = frozenset(
    {
        ("Team-X@example.org", "bounce"),
        ("disabled@example.org", "bounce"),
        ("disabled@example.org", "mailbox"),
        ("old-alias@example.org", "dangling"),
        ("group0@example.org", "dangling"),
        ("plus+box@example.org", "bounce"),
        ("plus+box@example.org", "mailbox"),
        ("loopa@example.org", "loop"),
        ("loopa@example.org", "duplicate"),
        ("loopb@example.org", "loop"),
        ("loopb@example.org", "duplicate"),
        ("dup@example.org", "duplicate"),
        ("dup@example.org", "mailbox"),
        ("nouid@example.org", "mailbox"),
        ("twin1@example.org", "login"),
        ("twin2@example.org", "login"),
    }
)


def _ssha(password: str) -> str:
    """{SSHA}: base64(sha1(password + salt) + salt), as slappasswd makes it."""
    salt = b"auditslt"
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()


def _line(name: str, value: str) -> str:
    if value.isascii() and value.isprintable() and value[:1] not in (" ", ":", "<") and value[-1:] != " ":
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(value.encode()).decode()}"


def _person(uid: str, mail: str, *, posix: bool = True, enabled: bool = True, **extra: list[str]) -> str:
    lines = [
        _line("dn", f"cn={uid},ou=users,{BASE}"),
        "objectClass: inetOrgPerson",
        *(["objectClass: posixAccount"] if posix else []),
        "objectClass: PostfixBookMailAccount",
        _line("uid", uid.split("-", 1)[0] if uid.startswith("twin") else uid),
        f"cn: {uid}",
        f"sn: {uid}",
        _line("mail", mail),
        f"mailEnabled: {'TRUE' if enabled else 'FALSE'}",
        f"userPassword: {_ssha(uid)}",  # dovecot's passdb needs one to answer a lookup
    ]
    if posix:
        lines += ["uidNumber: 5000", "gidNumber: 5000", f"homeDirectory: /var/mail/{uid}"]
    for name, values in extra.items():
        lines += [_line(name, value) for value in values]
    return "\n".join(lines) + "\n"


def planted() -> list[str]:
    """The entries that carry one fault each (see the module docstring)."""
    return [
        _person("disabled", "disabled@example.org", enabled=False, mailAlias=["old-alias@example.org"],
                mailGroupMember=["group0@example.org"]),
        _person("plusbox", "plus+box@example.org"),
        _person("loopa", "loopa@example.org", mailAlias=["loopb@example.org"]),
        _person("loopb", "loopb@example.org", mailAlias=["loopa@example.org"]),
        _person("dupa", "dup@example.org"),
        _person("dupb", "dup@example.org"),
        _person("nouid", "nouid@example.org", posix=False),
        _person("twin-1", "twin1@example.org"),
        _person("twin-2", "twin2@example.org"),
    ]  # fmt: skip


def write_audit_scenario(folder: Path, mailboxes: int) -> Path:
    """Write the scenario folder: `mailboxes` entries in all (the planted ones included)."""
    (folder / "schema").mkdir(parents=True, exist_ok=True)
    book = (SCENARIOS / "basic-setup" / "schema" / "postfix-book.ldif").read_text(encoding="utf-8")
    (folder / "schema" / "postfix-book.ldif").write_text(book, encoding="utf-8")
    (folder / "schema" / "schemas.txt").write_text("core\ncosine\ninetorgperson\nnis\npostfix-book.ldif\n")
    (folder / "passwords.yaml").write_text(f"bind:\n  dn: {BIND_DN}\n  password: {BIND_PW}\nusers: {{}}\n")
    (folder / "mailserver.env").write_text(ENV)
    special = planted()
    with (folder / "directory.ldif").open("w", encoding="utf-8") as out:
        out.write(f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Audit\n\n")
        out.write(f"dn: ou=users,{BASE}\nobjectClass: organizationalUnit\nou: users\n\n")
        out.write(
            f"dn: {BIND_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
            f"cn: admin\nuserPassword: {_ssha(BIND_PW)}\n\n"
        )
        for entry in special:
            out.write(entry + "\n")
        groups = max(1, (mailboxes - len(special)) // GROUP_SIZE)
        for i in range(mailboxes - len(special)):
            extra: dict[str, list[str]] = {"mailGroupMember": [f"group{i % groups}@example.org"]}
            if i % 5 == 0:
                extra["mailAlias"] = [f"alias{i}@example.org"]
            if i == 1:
                extra["mailGroupMember"].append("Team-X@example.org")
            out.write(_person(f"user{i}", f"user{i}@example.org", **extra) + "\n")
    return folder
