"""Generated directories for the benchmarks: a scenario folder with N accounts and planted cases.

The folder has the layout of scenarios/ (README there): the schema of the Basic Setup scenario
(core, cosine, inetorgperson, nis, postfix-book), `directory.ldif`, `passwords.yaml`,
`mailserver.env`, plus ldap_table files beside it. The tests reuse `write_scenario()` for the
10,000-entry directory with planted special cases (tests/integration/test_lookup_fast_path.py).
"""

from __future__ import annotations

import base64
import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

BASE = "dc=example,dc=org"
BIND_DN = f"cn=admin,ou=users,{BASE}"
BIND_PW = "bench-bind-secret"
SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
# attributes the bench slapd indexes for equality (what an operator of a big directory would do)
INDEXES = ("objectClass eq", "mail eq", "mailAlias eq", "mailGroupMember eq", "uid eq", "member eq")

# Special values planted among the generated accounts (users map keys hit them):
SPECIAL_MAILS = (
    "star*user@example.org",
    "paren(x)@example.org",
    "back\\slash@example.org",
    "all*()\\@example.org",
    "Mixed.Case@Example.ORG",
    "UPPER@EXAMPLE.ORG",
    "unicodé@example.org",
    "ünï@exämple.org",
    "space user@example.org",
)


@dataclass(frozen=True)
class Generated:
    """A generated scenario folder and the keys worth asking."""

    folder: Path
    present: tuple[str, ...]  # addresses held by some entry (mail, mailAlias or group)
    absent: tuple[str, ...]  # addresses no entry holds
    special: tuple[str, ...]  # planted special cases (both present and absent spellings)


def ssha(password: str, salt: bytes = b"bench9!!") -> str:
    """An {SSHA} userPassword value (slapd checks the bind password against it)."""
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def _attr(name: str, value: str) -> str:
    """One LDIF line, base64 when the value is not safe as plain text."""
    if value and value.isascii() and value.isprintable() and value[0] not in " :<" and value[-1] != " ":
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(value.encode()).decode()}"


def _entry(dn: str, *pairs: tuple[str, str]) -> str:
    return "\n".join([_attr("dn", dn), *(_attr(n, v) for n, v in pairs)]) + "\n"


def write_scenario(folder: Path, accounts: int = 10_000, *, planted: bool = True, seed: int = 9) -> Generated:
    """Write a scenario folder with `accounts` users, aliases, groups (nested via member) and specials."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    schema = folder / "schema"
    schema.mkdir(exist_ok=True)
    book = (SCENARIOS / "basic-setup" / "schema" / "postfix-book.ldif").read_text(encoding="utf-8")
    (schema / "postfix-book.ldif").write_text(book, encoding="utf-8")
    (schema / "schemas.txt").write_text(
        "core\ncosine\ninetorgperson\nnis\npostfix-book.ldif\n", encoding="utf-8"
    )
    (folder / "passwords.yaml").write_text(
        f"bind:\n  dn: {BIND_DN}\n  password: {BIND_PW}\nusers: {{}}\n", encoding="utf-8"
    )
    entries = [
        _entry(
            BASE,
            ("objectClass", "dcObject"),
            ("objectClass", "organization"),
            ("dc", "example"),
            ("o", "Bench"),
        ),
        _entry(f"ou=users,{BASE}", ("objectClass", "organizationalUnit"), ("ou", "users")),
        _entry(f"ou=groups,{BASE}", ("objectClass", "organizationalUnit"), ("ou", "groups")),
        _entry(
            BIND_DN,
            ("objectClass", "organizationalRole"),
            ("objectClass", "simpleSecurityObject"),
            ("cn", "admin"),
            ("userPassword", ssha(BIND_PW)),
        ),
    ]
    present: list[str] = []
    groups = max(1, accounts // 50)
    for number in range(accounts):
        uid = f"user{number:05d}"
        mail = f"{uid}@example.org"
        pairs = [
            ("objectClass", "inetOrgPerson"),
            ("objectClass", "PostfixBookMailAccount"),
            ("uid", uid),
            ("cn", f"User {number}"),
            ("sn", f"{number}"),
            ("mail", mail),
        ]
        present.append(mail)
        if number % 7 == 0:  # a second mail value: multi-valued results (adjacent lines: slapadd keeps
            pairs.append(("mail", f"{uid}.second@example.org"))  # non-adjacent ones as two attributes)
        if number % 3 == 0:
            alias = f"alias{number:05d}@example.org"
            pairs.append(("mailAlias", alias))
            present.append(alias)
        pairs.append(("mailGroupMember", f"group{number % groups:04d}@example.org"))
        pairs.append(("mailEnabled", "TRUE" if number % 11 else "FALSE"))
        entries.append(_entry(f"uid={uid},ou=users,{BASE}", *pairs))
    special: list[str] = []
    if planted:
        special = _planted(entries, present)
    # groups: members are user DNs and (every 5th group) another group: nested special_result_attribute
    for number in range(groups):
        name = f"group{number:04d}"
        members = [f"uid=user{(number * 50 + k) % accounts:05d},ou=users,{BASE}" for k in range(3)]
        if number % 5 == 0 and groups > 1:
            members.append(f"cn=group{(number + 1) % groups:04d},ou=groups,{BASE}")
        if number % 13 == 0:
            members.append(f"cn=missing{number},ou=groups,{BASE}")  # a dangling DN: postfix skips it
        pairs = [
            ("objectClass", "groupOfNames"),
            ("objectClass", "PostfixBookMailAccount"),
            ("cn", name),
            ("mail", f"{name}@example.org"),
            *(("member", m) for m in members),
        ]
        entries.append(_entry(f"cn={name},ou=groups,{BASE}", *pairs))
        present.append(f"{name}@example.org")
    (folder / "directory.ldif").write_text("\n".join(entries), encoding="utf-8")
    absent = [f"nobody{n:05d}@example.org" for n in range(accounts)]
    rng.shuffle(absent)
    return Generated(folder, tuple(present), tuple(absent), tuple(special))


def _planted(entries: list[str], present: list[str]) -> list[str]:
    """Accounts with duplicates, case variants, filter-special characters and unicode values."""
    base = f"ou=users,{BASE}"
    special: list[str] = []
    for number, mail in enumerate(SPECIAL_MAILS):
        uid = f"special{number:02d}"
        pairs = [
            ("objectClass", "inetOrgPerson"),
            ("objectClass", "PostfixBookMailAccount"),
            ("uid", uid),
            ("cn", uid),
            ("sn", uid),
            ("mail", mail),
            ("mailAlias", "dup-alias@example.org"),
            ("mailGroupMember", mail),
            ("mailEnabled", "TRUE"),
        ]
        entries.append(_entry(f"uid={uid},{base}", *pairs))
        present.append(mail)
        special += [mail, mail.lower(), mail.upper(), mail.replace("@", " @")]
    # two entries holding the same mail (a duplicate: postfix joins both values, in server order)
    for number in range(2):
        pairs = [
            ("objectClass", "inetOrgPerson"),
            ("objectClass", "PostfixBookMailAccount"),
            ("uid", f"twin{number}"),
            ("cn", f"twin{number}"),
            ("sn", "twin"),
            ("mail", "twin@example.org"),
            ("mail", f"twin{number}@example.org"),
            ("mail", "Twin@Example.org"),
        ]
        entries.append(_entry(f"uid=twin{number},{base}", *pairs))
    special += [
        "twin@example.org",
        "TWIN@example.org",
        "twin0@example.org",
        "dup-alias@example.org",
        "*@example.org",
        "(mail=*)",
        "\\2a@example.org",
        " leading@example.org",
        "trailing@example.org ",
        "user00001@example.org\t",
        "",
        "@",
        "@example.org",
    ]
    present += ["twin@example.org", "dup-alias@example.org"]
    return special
