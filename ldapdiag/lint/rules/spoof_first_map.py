"""spoof-first-map: smtpd_sender_login_maps lists several tables (SPOOF_PROTECTION=1 without
LDAP_QUERY_FILTER_SENDERS).

DMS v15 setup.d/security/spoofing.sh then sets smtpd_sender_login_maps to the users, aliases and
groups tables, a plain table list: postfix 3.7.11 global/maps.c maps_find() returns the answer of
the FIRST table that has one, so the owners of an address that is a mailbox come from the users
table alone (the DMS docs call it a disjunction; it is not). Read from main.cf, so it works for
real files too. With --server, addresses that the first table and a later one both answer are
named.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ldapdiag.lint.context import LintContext, where_of
from ldapdiag.lint.problem import LintProblem

CODES = ("spoof-first-map",)
SERVER = False
DESCRIPTION = "several smtpd_sender_login_maps tables: the first one that answers decides"
MAX_PROBES = 50
_LDAP = re.compile(r"(?:^|[\s,])(?:proxy:)?ldap:(\S+?)(?=[\s,]|$)")


def check(ctx: LintContext) -> Iterator[LintProblem]:
    main = ctx.config.postfix_main
    entry = main.get("smtpd_sender_login_maps")
    if entry is None:
        return
    tables = [m.group(1) for m in _LDAP.finditer(entry.value)]
    if len(tables) < 2:
        return
    where, variable = where_of(main, entry, "smtpd_sender_login_maps")
    names = [path.rsplit("/", 1)[-1] for path in tables]
    cause = f"{variable}=1 without LDAP_QUERY_FILTER_SENDERS: " if variable == "SPOOF_PROTECTION" else ""
    explanation = (
        f"{cause}postfix asks {', then '.join(names)} who may send as an address, and the FIRST table "
        "that answers decides (no union)"
    )
    hint = (
        "set LDAP_QUERY_FILTER_SENDERS to one filter that finds every owner, e.g. (|(mail=%s)(mailAlias=%s))"
    )
    conflicts = list(_conflicts(ctx, tables)) if ctx.server is not None else []
    if not conflicts:
        yield LintProblem("info", "spoof-first-map", "postfix", where, explanation + ".", hint)
        return
    shown = "; ".join(f"{key}: {owners}" for key, owners in conflicts[:3])
    yield LintProblem(
        "warning",
        "spoof-first-map",
        "postfix",
        where,
        f"{explanation}: an address that is a mailbox and an alias or group too may be used only by the "
        f"owners the first table names ({shown})",
        hint,
    )


def _conflicts(ctx: LintContext, tables: list[str]) -> Iterator[tuple[str, str]]:
    server = ctx.server
    assert server is not None
    factory = server.postfix_tables()
    first, rest = tables[0], tables[1:]
    for key in server.sample_addresses[:MAX_PROBES]:
        folded = key.lower()
        answer = factory.ldap(first).lookup(folded)
        if not answer.found:
            continue
        for path in rest:
            other = factory.ldap(path).lookup(folded)
            if other.found and other.value != answer.value:
                yield (
                    folded,
                    f"{first.rsplit('/', 1)[-1]} says {answer.value}, "
                    f"{path.rsplit('/', 1)[-1]} would add {other.value}",
                )
                break
