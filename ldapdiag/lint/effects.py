"""What a broken or never-matching setting does to mail, said the way each program says it.

Replies from FACTS.md (postfix smtpd/trivial-rewrite, dovecot LMTP, saslauthd): a failed lookup
is a temporary failure, a lookup that finds nothing is "unknown".
"""

from __future__ import annotations

from ldapdiag.lint.context import Use

_TABLE_ROLE = {
    "ldap-users.cf": "virtual_mailbox_maps",
    "ldap-aliases.cf": "virtual_alias_maps",
    "ldap-groups.cf": "virtual_alias_maps",
    "ldap-domains.cf": "virtual_mailbox_domains",
    "ldap-senders.cf": "smtpd_sender_login_maps",
}
_NOTHING = {
    "ldap-users.cf": "no address is a mailbox: postfix rejects mail to every user with "
    "'550 5.1.1 User unknown in virtual mailbox table'",
    "ldap-aliases.cf": "no alias address resolves",
    "ldap-groups.cf": "no group address resolves",
    "ldap-domains.cf": "no domain is accepted from the directory: mail from outside to those domains "
    "gets '554 5.7.1 Relay access denied'",
    "ldap-senders.cf": "no login owns any sender address: submissions get "
    "'553 5.7.1 Sender address rejected: not owned by user'",
}


def _names(use: Use) -> list[str]:
    return [path.rsplit("/", 1)[-1] for path in use.files]


def fails(use: Use) -> str:
    """What happens when every search with this setting fails."""
    if use.component == "postfix":
        maps = ", ".join(dict.fromkeys(_TABLE_ROLE.get(name, name) for name in _names(use)))
        return f"every lookup in {maps} is a temporary failure ('451 4.3.0 Temporary lookup failure')"
    if use.component == "dovecot":
        if "user_filter" in use.keys or use.key == "base":
            return "dovecot fails every login and LMTP delivery with an internal error (451 4.3.0)"
        return "dovecot fails every login with an internal error"
    return "saslauthd fails every SMTP AUTH"


def finds_nothing(use: Use) -> str:
    """What happens when this filter never finds an entry."""
    if use.component == "postfix":
        texts = [_NOTHING.get(name, f"{name} never answers") for name in _names(use)]
        return "; ".join(dict.fromkeys(texts))
    if use.component == "dovecot":
        if "user_filter" in use.keys:
            return "dovecot knows no user: logins fail and LMTP answers '550 5.1.1 User doesn't exist'"
        return "dovecot knows no user: every login fails"
    return "saslauthd finds no user: every SMTP AUTH fails"
