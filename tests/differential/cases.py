"""The ldap_table files and keys the postmap differential tests ask about.

`$name` placeholders are filled per server: url, port, ldaps_url, ca, base, bind_dn, bind_pw,
dead (a port nobody listens on), dir (the sandbox directory, for domain list files).
"""

from __future__ import annotations

from dataclasses import dataclass

NON_UTF8 = b"al\xffice@example.org".decode("utf-8", "surrogateescape")
BAD_UTF8 = b"\xc3\x28@example.org".decode("utf-8", "surrogateescape")

BASIC_KEYS = [
    "alice@example.org", "ALICE@EXAMPLE.ORG", "Alice@Example.Org", "bob@example.org",
    "carol@example.org", "dave.davis@example.org", "Dave.Davis@Example.org", "info@example.org",
    "INFO@example.org", "team@example.org", "Team@Example.Org", "support@example.org",
    "postmaster@example.org", "alice.adams@example.org", "nobody@example.org",
    "alice+ext@example.org", "alice+@example.org", "alice", "ALICE", "@example.org", "@", "",
    "example.org", "EXAMPLE.ORG", "other.test", "a*@example.org", "*@example.org", "*", "a*",
    "(alice@example.org)", "al)ice@example.org", "alice\\@example.org", "\\", "\\2a",
    "alice@example.org)(mail=*", "*)(|(mail=*", "ali ce@example.org", "alice@example.org ",
    " alice@example.org", "alice@example.org\t", "álice@example.org", "ÄLICE@example.org",
    "用户@example.org", "alice@exämple.org", NON_UTF8, BAD_UTF8, "a@b@example.org",
    "alice@sub.example.org", "alice@example..org", "alice@.example.org", "alice@example.org.",
    "x@y", "#alice@example.org", "alice,bob@example.org", "alice;x@example.org", "a=b@example.org",
    "<a>@example.org", '"a"@example.org', "uid=alice@example.org", "alice@localhost",
]  # fmt: skip

SHORT_KEYS = [
    "alice@example.org", "INFO@Example.org", "team@example.org", "nobody@example.org", "alice",
    "@example.org", "", "*", "a*b@example.org", "(x)\\@example.org", "Ä@example.org", NON_UTF8,
    "a@b@example.org", "example.org",
]  # fmt: skip

MAPS_KEYS = [
    "u1@maps.test", "U1@MAPS.TEST", "u2@maps.test", "second@maps.test", "u3@maps.test",
    "u4@maps.test", "bin@maps.test", "nul@maps.test", "nodomain@maps.test", "a*b@maps.test",
    "A*B@Maps.Test", "a*c@maps.test", "(paren)@maps.test", "back\\slash@maps.test", "*", "a*",
    "mixed@maps.test", "MiXeD@Maps.Test", "plain", "PLAIN", "@maps.test", "u1+ext@maps.test",
    "u1+other@maps.test", "dup@maps.test", "noval@maps.test", "deep@a.b.maps.test",
    "g1@maps.test", "g2@maps.test", "g3@maps.test", "g4@maps.test", "gmissing@maps.test",
    "gbaddn@maps.test", "gurl@maps.test", "gbadurl@maps.test", "gurlfilter@maps.test",
    "gterm@maps.test", "quirk-t@maps.test", "quirk-l@maps.test", "devs@maps.test", "all@maps.test",
    "ada@maps.test", "bea.bee@maps.test", "bulk@maps.test", "nobody@maps.test", "u1", "@", "",
    "maps.test", "ü@maps.test", NON_UTF8,
]  # fmt: skip

DOMAIN_KEYS = [
    "example.org", "EXAMPLE.ORG", "Example.Org", "other.test", "sub.example.org", "org", "",
    "*.org", "example.*", "exam*", "example.org)(mail=*", "localhost", "exämple.org", "@example.org",
]  # fmt: skip

ERROR_KEYS = ["alice@example.org", "nobody@example.org", "alice", "@example.org", "", NON_UTF8, "*"]

MAPS_ERROR_KEYS = ["u1@maps.test", "g1@maps.test", "nobody@maps.test", "u1", "", NON_UTF8]

DMS = {  # the DMS v15 template ldap-*.cf, as DMS fills it
    "bind": "yes",
    "bind_dn": "$bind_dn",
    "bind_pw": "$bind_pw",
    "search_base": "$base",
    "server_host": "$url",
    "start_tls": "no",
    "version": "3",
    "query_filter": "(mail=%s)",
    "result_attribute": "mail",
}
MAPS = {"server_host": "$url", "search_base": "$base", "bind_dn": "$bind_dn", "bind_pw": "$bind_pw"}
SPECIAL = {**MAPS, "special_result_attribute": "ldMember, ldMemberURL"}


def cf(template: dict[str, str], **changes: str | None) -> str:
    """An ldap_table file: the template's settings with `changes` (None removes one)."""
    settings = {**template, **changes}
    return "".join(f"{key} = {value}\n" for key, value in settings.items() if value is not None)


@dataclass(frozen=True)
class Case:
    """One ldap_table file and the keys asked of it."""

    name: str
    server: str  # basic | maps
    text: str
    keys: tuple[str, ...]
    main: str = "dms"  # which main.cf: dms (smtputf8_enable = no) or utf8


def _case(name: str, server: str, text: str, keys: list[str], main: str = "dms") -> Case:
    return Case(name, server, text, tuple(keys), main)


BASIC_CASES = [
    _case("dms-users", "basic", cf(DMS, query_filter="(&(objectClass=inetOrgPerson)(mail=%s))"), BASIC_KEYS),
    _case(
        "dms-aliases",
        "basic",
        cf(DMS, query_filter="(&(objectClass=inetOrgPerson)(mailAlias=%s))"),
        BASIC_KEYS,
    ),
    _case(
        "dms-groups",
        "basic",
        cf(DMS, query_filter="(&(objectClass=inetOrgPerson)(mailGroupMember=%s))"),
        BASIC_KEYS,
    ),
    _case(
        "dms-domains",
        "basic",
        cf(DMS, query_filter="(|(mail=*@%s)(mailAlias=*@%s)(mailGroupMember=*@%s))"),
        DOMAIN_KEYS,
    ),
    _case(
        "dms-senders",
        "basic",
        cf(
            DMS,
            result_attribute="mail, uid",
            query_filter=("(&(objectClass=inetOrgPerson)(|(mail=%s)(mailAlias=%s)(mailGroupMember=%s)))"),
        ),
        BASIC_KEYS,
    ),
    _case(
        "utf8-users",
        "basic",
        cf(DMS, query_filter="(&(objectClass=inetOrgPerson)(mail=%s))"),
        [*SHORT_KEYS, "STRASSE@example.org", "ÉLISE@EXAMPLE.ORG"],
        "utf8",
    ),
    _case("really-simple-none", "basic", cf(DMS, query_filter="(|)"), SHORT_KEYS),
    _case("really-simple-admin", "basic", cf(DMS, query_filter="(|(mail=%s)(mail=admin@*))"), SHORT_KEYS),
    _case(
        "parts",
        "basic",
        cf(
            DMS,
            query_filter="(&(uid=%u)(mail=*@%d))",
            result_attribute="uid, mail",
            result_format="%u|%d|%s|%U|%D|%S|%1|%2|%%",
        ),
        BASIC_KEYS,
    ),
    _case(
        "user-only",
        "basic",
        cf(DMS, query_filter="(uid=%u)", result_attribute="mail, uid", result_format="<%U> %s"),
        BASIC_KEYS,
    ),
    _case("labels", "basic", cf(DMS, search_base="dc=%2,dc=%1", query_filter="(mail=%u@%2.%1)"), BASIC_KEYS),
    _case(
        "label3",
        "basic",
        cf(DMS, query_filter="(mail=%u@%3.%2.%1)"),
        [*SHORT_KEYS, "alice@sub.example.org", "alice@a.b.c"],
    ),
    _case("dynamic-base-missing", "basic", cf(DMS, search_base="ou=%d,$base"), SHORT_KEYS),
    _case("static-base-missing", "basic", cf(DMS, search_base="ou=nowhere,$base"), ERROR_KEYS),
    _case(
        "dn-escape",
        "basic",
        cf(DMS, search_base="uid=%u,ou=users,$base", scope="base", query_filter="(objectClass=*)"),
        BASIC_KEYS,
    ),
    _case("scope-one", "basic", cf(DMS, search_base="ou=users,$base", scope="one"), SHORT_KEYS),
    _case("scope-base", "basic", cf(DMS, search_base="ou=users,$base", scope="BASE"), SHORT_KEYS),
    _case("scope-bogus", "basic", cf(DMS, scope="everything"), SHORT_KEYS),
    _case(
        "domain-list",
        "basic",
        cf(
            DMS,
            domain="example.org, !other.test, inline:{sub.example.org=1}",
            query_filter="(|(mail=%s)(mail=%u@example.org))",
        ),
        [
            *SHORT_KEYS,
            "alice@other.test",
            "alice@sub.example.org",
            "ALICE@SUB.EXAMPLE.ORG",
            "alice@Example.ORG",
        ],
    ),
    _case(
        "domain-file",
        "basic",
        cf(DMS, domain="$dir/domains.txt", query_filter="(|(mail=%s)(mail=%u@example.org))"),
        [*SHORT_KEYS, "alice@other.test", "alice@third.test", "bob@blocked.test"],
    ),
    _case("size-limit", "basic", cf(DMS, query_filter="(mailAlias=%s)", size_limit="1"), SHORT_KEYS),
    _case(
        "expansion-limit", "basic", cf(DMS, query_filter="(mailAlias=%s)", expansion_limit="1"), SHORT_KEYS
    ),
    _case("bad-filter", "basic", cf(DMS, query_filter="(mail=%s"), ERROR_KEYS),
    _case("empty-filter", "basic", cf(DMS, query_filter=""), ERROR_KEYS),
    _case("domain-broken", "basic", cf(DMS, domain="other.test, ldap:$dir/empty-filter.cf"), ERROR_KEYS),
    _case("bare-filter", "basic", cf(DMS, query_filter="mail=%s"), SHORT_KEYS),
    _case("trailing-filter", "basic", cf(DMS, query_filter="(mail=%s)(uid=x)"), ERROR_KEYS),
    _case("fixed-filter", "basic", cf(DMS, query_filter="(mail=%%s)"), ERROR_KEYS),
    _case("unreachable", "basic", cf(DMS, server_host="$dead"), ERROR_KEYS),
    _case(
        "unreachable-nobind",
        "basic",
        cf(DMS, server_host="$dead", bind="no", query_filter="(mail=%d)"),
        ERROR_KEYS,
    ),
    _case("two-servers", "basic", cf(DMS, server_host="$dead, $url"), SHORT_KEYS),
    _case("host-port", "basic", cf(DMS, server_host="127.0.0.1", server_port="$port"), SHORT_KEYS),
    _case("host-colon-port", "basic", cf(DMS, server_host="127.0.0.1:$port"), SHORT_KEYS),
    _case("wrong-password", "basic", cf(DMS, bind_pw="not-the-password"), ERROR_KEYS),
    _case("empty-password", "basic", cf(DMS, bind_pw=""), ERROR_KEYS),
    _case("anonymous", "basic", cf(DMS, bind="no"), ERROR_KEYS),
    _case("version-2", "basic", cf(DMS, version="2"), ERROR_KEYS),
    _case("version-default", "basic", cf(DMS, version=None), SHORT_KEYS),
    _case("version-7", "basic", cf(DMS, version="7"), SHORT_KEYS),
    _case("starttls", "basic", cf(DMS, start_tls="yes"), SHORT_KEYS),
    _case(
        "starttls-verified",
        "basic",
        cf(DMS, start_tls="yes", tls_require_cert="yes", tls_ca_cert_file="$ca"),
        SHORT_KEYS,
    ),
    _case("starttls-untrusted", "basic", cf(DMS, start_tls="yes", tls_require_cert="yes"), ERROR_KEYS),
    _case(
        "ldaps-verified",
        "basic",
        cf(DMS, server_host="$ldaps_url", tls_require_cert="yes", tls_ca_cert_file="$ca"),
        SHORT_KEYS,
    ),
    _case("ldaps-untrusted", "basic", cf(DMS, server_host="$ldaps_url", tls_require_cert="yes"), ERROR_KEYS),
    _case("no-attributes", "basic", cf(DMS, result_attribute=""), SHORT_KEYS),
    _case("empty-format", "basic", cf(DMS, query_filter="(mailAlias=%s)", result_format=""), SHORT_KEYS),
    _case("result-filter", "basic", cf(DMS, query_filter="(mailAlias=%s)", result_filter="<%s>"), SHORT_KEYS),
    _case(
        "ignored-cache",
        "basic",
        cf(DMS, cache="yes", cache_expiry="30", cache_size="100", dereference="7"),
        SHORT_KEYS,
    ),
]

MAPS_CASES = [
    _case("defaults", "maps", cf(MAPS), MAPS_KEYS),
    _case("special", "maps", cf(SPECIAL), MAPS_KEYS),
    _case("leaf", "maps", cf(SPECIAL, leaf_result_attribute="ldLeaf"), MAPS_KEYS),
    _case(
        "terminal",
        "maps",
        cf(SPECIAL, leaf_result_attribute="ldLeaf", terminal_result_attribute="ldTerminal"),
        MAPS_KEYS,
    ),
    _case("recursion-2", "maps", cf(SPECIAL, recursion_limit="2"), MAPS_KEYS),
    _case("expansion-3", "maps", cf(SPECIAL, expansion_limit="3"), MAPS_KEYS),
    _case("size-3", "maps", cf(SPECIAL, size_limit="3"), MAPS_KEYS),
    _case(
        "ad-groups",
        "maps",
        cf(
            MAPS,
            search_base="ou=ad,$base",
            query_filter="(mail=%s)",
            result_attribute="mail",
            leaf_result_attribute="mail",
            special_result_attribute="member",
        ),
        MAPS_KEYS,
    ),
    _case("values", "maps", cf(MAPS, result_attribute="maildrop, ldText, ldOctets, description"), MAPS_KEYS),
    _case(
        "values-utf8",
        "maps",
        cf(MAPS, result_attribute="maildrop, ldText, ldOctets, description"),
        MAPS_KEYS,
        "utf8",
    ),
    _case("value-parts", "maps", cf(MAPS, result_format="%u at %d"), MAPS_KEYS),
    _case("value-user", "maps", cf(MAPS, result_format="%u/%s"), MAPS_KEYS),
    _case("deref-never", "maps", cf(MAPS, search_base="ou=aliases,$base", dereference="0"), MAPS_ERROR_KEYS),
    _case("deref-always", "maps", cf(MAPS, search_base="ou=aliases,$base", dereference="3"), MAPS_ERROR_KEYS),
    _case(
        "deref-finding",
        "maps",
        cf(
            MAPS,
            search_base="cn=to-u1,ou=aliases,$base",
            scope="base",
            query_filter="(objectClass=*)",
            dereference="2",
        ),
        MAPS_ERROR_KEYS,
    ),
    _case(
        "subtypes-url",
        "maps",
        cf(MAPS, result_attribute="description;lang-de, maildrop", special_result_attribute="ldMemberURL"),
        MAPS_KEYS,
    ),
    _case(
        "maps-domain",
        "maps",
        cf(SPECIAL, domain="maps.test", query_filter="(mailacceptinggeneralid=%u@%d)"),
        MAPS_KEYS,
    ),
]

# Tables postfix refuses when it opens them (fatal): the message must be the same.
FATAL_CASES = [
    _case("fatal-bool", "basic", cf(DMS, start_tls="maybe"), ["alice@example.org"]),
    _case("fatal-int", "basic", cf(DMS, timeout="10s"), ["alice@example.org"]),
    _case("fatal-version-1", "basic", cf(DMS, version="1"), ["alice@example.org"]),
    _case("fatal-recursion-0", "basic", cf(DMS, recursion_limit="0"), ["alice@example.org"]),
    _case("fatal-bind", "basic", cf(DMS, bind="maybe"), ["alice@example.org"]),
    _case("fatal-query-template", "basic", cf(DMS, query_filter="(mail=%x)"), ["alice@example.org"]),
    _case("fatal-result-template", "basic", cf(DMS, result_format="%s%"), ["alice@example.org"]),
    _case("fatal-scope-empty", "basic", cf(DMS, scope=""), ["alice@example.org"]),
    _case("fatal-server-empty", "basic", cf(DMS, server_host=""), ["alice@example.org"]),
]
