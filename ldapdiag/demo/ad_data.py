"""LDIF the Samba DC is loaded with besides the scenario's own: passwords and generated members.

Passwords never go to a file: the LDIF is piped into ldbmodify. AD keeps a password in
unicodePwd, written as the UTF-16LE encoding of the password in double quotes; it is never
readable over LDAP (unlike the scenario's userPassword values, which AD stores as any attribute).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from ldapdiag.demo.ad_scenario import LargeGroup

NORMAL_ACCOUNT = 512  # userAccountControl: enabled, password required
DISTRIBUTION_GROUP = 2  # groupType: global distribution group (not a security group)


def unicode_pwd(password: str) -> str:
    """The base64 value of unicodePwd for `password`."""
    return base64.b64encode(f'"{password}"'.encode("utf-16-le")).decode("ascii")


def password_ldif(passwords: Mapping[str, str], enable: frozenset[str] = frozenset()) -> str:
    """Set each DN's password; DNs in `enable` also become enabled normal accounts."""
    records = []
    for dn, password in passwords.items():
        lines = [
            f"dn: {dn}",
            "changetype: modify",
            "replace: unicodePwd",
            f"unicodePwd:: {unicode_pwd(password)}",
        ]
        if dn in enable:
            lines += ["-", "replace: userAccountControl", f"userAccountControl: {NORMAL_ACCOUNT}"]
        records.append("\n".join(lines) + "\n")
    return "\n".join(records)


def large_group_ldif(group: LargeGroup) -> str:
    """The group's container (an OU), its member contacts and the group with every member DN."""
    records = [f"dn: {group.container}\nchangetype: add\nobjectClass: organizationalUnit\n"]
    members = []
    for n in range(1, group.members + 1):
        dn = f"CN=member{n:05d},{group.container}"
        members.append(dn)
        records.append(
            f"dn: {dn}\nchangetype: add\nobjectClass: contact\nmail: {group.member_mail.format(n=n)}\n"
        )
    name = group.dn.split(",", 1)[0].split("=", 1)[1]
    head = [
        f"dn: {group.dn}",
        "changetype: add",
        "objectClass: group",
        f"sAMAccountName: {name.replace(' ', '-').lower()[:20]}",
        f"groupType: {DISTRIBUTION_GROUP}",
        f"mail: {group.mail}",
    ]
    records.append("\n".join([*head, *(f"member: {dn}" for dn in members)]) + "\n")
    return "\n".join(records)
