"""`ldapdiag lookup MAP KEY...`: postmap -q for the configuration's tables.

MAP is users|aliases|groups|domains|senders (the DMS table files), the path of an ldap_table
file (or `ldap:/path`, any supported `type:name`), or a main.cf parameter whose tables are asked
in order, the first that answers deciding (maps_find()); virtual_mailbox_domains and
virtual_alias_domains are string lists, matched as trivial-rewrite matches them (see maps.py).
KEY `-` reads keys from stdin, one a line, as `postmap -q -` does.

Exit status: 0 something found, 1 nothing found, 2 a lookup error (postfix's temporary failure)
or a configuration postfix or ldapdiag refuses. Unlike postmap, which dies at the first key whose
lookup fails (and loses the output of the keys before it), every key is answered.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from ldapdiag.config.model import MailServerConfig
from ldapdiag.directory.faults import Fault
from ldapdiag.directory.trace import Trace
from ldapdiag.errors import EXIT_CANNOT_CHECK, EXIT_FINDING, EXIT_OK
from ldapdiag.postfix.maps import build_factory, resolve_map
from ldapdiag.postfix.tables import LookupResult


def read_keys(stream: BinaryIO) -> list[str]:
    """vstring_get_nonl(): one key a line, the newline removed (a `\\r` stays); bytes kept as they are."""
    data = stream.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    # postmap_queries() hands STR(keybuf) to dict_get(): a C string, so a key ends at its first NUL.
    return [line.split(b"\0", 1)[0].decode("utf-8", "surrogateescape") for line in lines]


def lookup_keys(
    config: MailServerConfig,
    map_name: str,
    keys: Sequence[str],
    *,
    ca_files: tuple[Path, ...] = (),
    ca_dirs: tuple[Path, ...] = (),
    trace: Trace | None = None,
    faults: list[list[Fault]] | None = None,
    fast: bool = True,
    searches_shown: bool = True,
) -> list[LookupResult]:
    """postmap -q KEY for each key on the map MAP names (postmap.c postmap_query()/postmap_queries()).

    `faults`, when given, receives per key what the directory could not answer (faults.py).
    `fast` batches the searches of many keys (ldap_prefetch.py; the answers are the same);
    without it every key sends its own search, as postmap does. `searches_shown=False`: the
    results' steps leave out the searches and the values taken (the text output shows neither).
    """
    from ldapdiag.postfix.ldap_prefetch import Prefetcher, ldap_tables

    factory = build_factory(config, ca_files, ca_dirs, trace)
    log = factory.pool.trace.faults
    # The answers are built of many small objects, hardly ever a cycle: the collector's passes
    # over them cost a quarter of a large batch's time. It runs again (and frees any cycle) after.
    paused = fast and len(keys) > 2 and gc.isenabled()
    if paused:
        gc.disable()
    try:
        resolved = resolve_map(map_name, factory)
        for table in ldap_tables(resolved.table):
            table.record_searches = searches_shown
        prefetcher = Prefetcher(resolved.table, keys if fast else ())
        results = []
        for index, key in enumerate(keys):
            prefetcher.before(index)
            mark = log.mark()
            results.append(resolved.table.lookup(key))
            if faults is not None:
                faults.append(log.since(mark))
        return results
    finally:
        factory.pool.close()
        if paused:
            gc.enable()


def exit_status(results: Sequence[LookupResult], faults: Sequence[list[Fault]] = ()) -> int:
    """2 when a lookup failed (or the directory did not answer), else 0 when a key was found, else 1."""
    if any(result.error is not None for result in results) or any(faults):
        return EXIT_CANNOT_CHECK
    return EXIT_OK if any(result.found for result in results) else EXIT_FINDING


def run_lookup(
    config: MailServerConfig,
    map_name: str,
    keys: Sequence[str],
    output_format: str = "text",
    ca_file: Path | None = None,
    ca_dir: Path | None = None,
    *,
    stdin: BinaryIO | None = None,
    explain: bool = False,
) -> int:
    """The `lookup` command: answer every key, print like postmap -q (or JSON), return the exit status."""
    from ldapdiag.report.faults_report import print_faults
    from ldapdiag.report.lookup_report import print_lookup

    from_stdin = list(keys) == ["-"]
    key_list = read_keys(stdin or sys.stdin.buffer) if from_stdin else list(keys)
    trace = Trace()
    faults: list[list[Fault]] = []
    results = lookup_keys(
        config,
        map_name,
        key_list,
        ca_files=(ca_file,) if ca_file else (),
        ca_dirs=(ca_dir,) if ca_dir else (),
        trace=trace,
        faults=faults,
        fast=not explain,  # --explain shows each key's own search, as postmap sends it
        searches_shown=explain or output_format != "text",
    )
    explained = None
    if explain:
        from ldapdiag.explain.postfix import from_lookup_results

        explained = from_lookup_results(config, map_name, results)
    single = len(keys) == 1 and not from_stdin
    print_lookup(results, output_format, single=single, faults=faults, explain=explained)
    print_faults(trace.faults)
    return exit_status(results, faults)
