"""Fuzz ldapdiag's parsers: the only outcomes allowed are a parsed result or a clean exit-2 error.

    .venv/bin/python -m bench.fuzz --count 100000 [--cli 300] [--seed 1]

Every parser that reads user input is fed mutated versions of the project's own files (seed corpora
from tests/data and scenarios/, plus the files DMS would render for each scenario): env files,
compose files, main.cf, ldap_table .cf files, dovecot.conf, dovecot-ldap.conf.ext, saslauthd.conf,
/etc/default shell files, LDAP filters, expect.yaml files, and the whole configuration load from an
env file (render + read back). In process, an input may end in a result or in the project's
LdapdiagError (what the CLI prints as one line with exit code 2; for the filter parser its
FilterSyntaxError, which becomes a lint finding). Anything else is a crash: printed with the input
and counted. `--cli N` also runs N inputs through the real `ldapdiag` CLI in a subprocess and
requires exit code 0, 1 or 2 and neither a traceback nor "internal error" on stderr.
Exit code: 0 no crash, 1 crashes found.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ldapdiag.config import compose, dovecot_conf, envfile, postfix_cf, saslauthd_conf
from ldapdiag.config.load import load_config
from ldapdiag.config.sources import SourceOptions
from ldapdiag.directory import filters
from ldapdiag.errors import LdapdiagError
from ldapdiag.postfix.ldap_config import read_ldap_table
from ldapdiag.run.parse import parse_file

ROOT = Path(__file__).resolve().parents[1]
LDAPDIAG = Path(sys.executable).with_name("ldapdiag")

# Pieces every format gives meaning to: quoting, escapes, interpolation, sections, filters, YAML.
TOKENS: tuple[bytes, ...] = (
    b"=",
    b"==",
    b'"',
    b"'",
    b"\\",
    b"\\\n",
    b"$",
    b"${",
    b"${A:-",
    b"${A?",
    b"$$",
    b"}",
    b"{",
    b"%",
    b"%s",
    b"%u",
    b"%d",
    b"%1",
    b"%9",
    b"%x",
    b"%{",
    b"%{ldap:",
    b"#",
    b" #",
    b"\n",
    b"\r\n",
    b"\r",
    b"\t",
    b" ",
    b"\0",
    b"\xff",
    b"\xc3",
    b"\xe2\x82\xac",
    b"\xef\xbb\xbf",
    b"!include ",
    b"!include_try ",
    b"<",
    b">",
    b":",
    b": ",
    b"- ",
    b"-",
    b"[",
    b"]",
    b"*",
    b"(",
    b")",
    b"(&",
    b"(|",
    b"(!",
    b"&",
    b"|",
    b"~=",
    b">=",
    b"<=",
    b":dn:",
    b":=",
    b"export ",
    b"`",
    b";",
    b",",
    b"ldap://",
    b"ldaps://",
    b"@",
    b"{SSHA}",
    b"&anchor ",
    b"*anchor",
    b"!!binary ",
    b"!!python/object ",
    b"? ",
    b"...",
    b"---",
    b"|\n",
    b">-\n",
    b"0x",
    b"1e999",
    b"-1",
    b"99999999999999999999",
    b"yes",
    b"no",
    b"null",
    b"~",
)


@dataclass
class Stats:
    """Counts for one parser."""

    inputs: int = 0
    parsed: int = 0
    rejected: int = 0  # the clean error
    crashes: list[tuple[bytes, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    """One parser: its seed corpus and how to feed it an input (raising only `clean` errors)."""

    name: str
    seeds: tuple[bytes, ...]
    feed: Callable[[bytes, Path], object]
    clean: tuple[type[BaseException], ...] = (LdapdiagError,)


# ---------------------------------------------------------------------------------------------
# seed corpora


def _files(*patterns: str) -> tuple[bytes, ...]:
    found: list[bytes] = []
    for pattern in patterns:
        found += [p.read_bytes() for p in sorted(ROOT.glob(pattern)) if p.is_file()]
    return tuple(found)


def _rendered() -> dict[str, list[bytes]]:
    """The files DMS would write for every scenario (and ldapdiag reads back), by format."""
    out: dict[str, list[bytes]] = {
        "postfix-main": [],
        "ldap-table": [],
        "dovecot-ldap": [],
        "dovecot-conf": [],
        "saslauthd": [],
    }
    for env in sorted(ROOT.glob("scenarios/*/mailserver.env")):
        try:
            config = load_config(SourceOptions(env_files=(env,), use_environment=False), {})
        except LdapdiagError:
            continue
        out["postfix-main"].append(config.postfix_main.text.encode())
        out["ldap-table"] += [t.text.encode() for t in config.postfix_tables.values()]
        if config.dovecot_ldap is not None:
            out["dovecot-ldap"].append(config.dovecot_ldap.text.encode())
        if config.dovecot_main is not None:
            out["dovecot-conf"].append(config.dovecot_main.settings.text.encode())
        if config.saslauthd is not None:
            out["saslauthd"].append(config.saslauthd.text.encode())
    return out


def _filter_seeds() -> tuple[bytes, ...]:
    seeds = [
        b"(&(objectClass=PostfixBookMailAccount)(uniqueIdentifier=%n))",
        b"(|)",
        b"(&)",
        b"mail=x",
        b"(mail=*@example.org)",
        b"(!(cn=a\\2a))",
        b"(cn:dn:2.5.13.5:=x)",
        b"(memberOf=cn=admin,*)",
        b"(&(mail=%s)(|(a>=1)(b<=2)(c~=3)))",
        b"(cn=*a*b*c*)",
        b"(objectClass=*)",
        b"",
    ]
    for line in (ROOT / "scenarios").glob("*/mailserver.env"):
        for text in line.read_bytes().splitlines():
            if b"FILTER" in text and b"=" in text:
                seeds.append(text.split(b"=", 1)[1].strip(b"\"'"))
    return tuple(seeds)


# ---------------------------------------------------------------------------------------------
# feeding each parser


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def feed_env(data: bytes, tmp: Path) -> object:
    """compose-go's dotenv parser, from a file (UTF-8 check included)."""
    return envfile.parse_env_file(_write(tmp, "fuzz.env", data), {"HOME": "/root", "A": "x"})


def feed_compose(data: bytes, tmp: Path) -> object:
    """One compose service: YAML, interpolation, env_file entries, volumes."""
    folder = tmp / "compose"
    folder.mkdir(exist_ok=True)
    return compose.load_compose(_write(folder, "compose.yaml", data), None, {"HOME": "/root"})


def feed_postfix_main(data: bytes, tmp: Path) -> object:
    """main.cf as dict_load_fp() reads it, then every value $-expanded as postconf -x would."""
    conf = postfix_cf.parse_postfix_cf(data, "/etc/postfix/main.cf")
    params = {entry.key: entry.value for entry in conf.entries}
    for entry in conf.entries:
        postfix_cf.expand_postfix_value(entry.value, params, entry.key)
        postfix_cf.split_table_list(entry.value)
    return postfix_cf.postfix_cf_findings(conf)


def feed_ldap_table(data: bytes, tmp: Path) -> object:
    """An ldap_table .cf: the file, then dict_ldap_open()'s parameters (templates included)."""
    conf = postfix_cf.parse_postfix_cf(data, "/etc/postfix/ldap-users.cf", tolerant=True)
    return read_ldap_table(conf)


def feed_dovecot_conf(data: bytes, tmp: Path) -> object:
    """dovecot.conf (includes read under a private root)."""
    return dovecot_conf.parse_dovecot_conf(data, "/etc/dovecot/dovecot.conf", tmp, env={"HOME": "/root"})


def feed_dovecot_ldap(data: bytes, tmp: Path) -> object:
    """dovecot-ldap.conf.ext, strict and tolerant, and its findings."""
    path = "/etc/dovecot/dovecot-ldap.conf.ext"
    dovecot_conf.parse_dovecot_ldap_ext(data, path, root=tmp, tolerant=True)
    dovecot_conf.dovecot_ldap_ext_findings(_text(data), path, root=tmp)
    return dovecot_conf.parse_dovecot_ldap_ext(data, path, root=tmp)


def feed_saslauthd(data: bytes, tmp: Path) -> object:
    """saslauthd.conf (lak_config_read()), its findings, and /etc/default/saslauthd."""
    conf = saslauthd_conf.parse_saslauthd_conf(data, "/etc/saslauthd.conf", tolerant=True)
    saslauthd_conf.saslauthd_conf_findings(conf)
    saslauthd_conf.effective_settings(conf)
    with contextlib.suppress(LdapdiagError):
        saslauthd_conf.parse_shell_defaults(data, "/etc/default/saslauthd")
    return saslauthd_conf.parse_saslauthd_conf(data, "/etc/saslauthd.conf")


def feed_filter(data: bytes, tmp: Path) -> object:
    """RFC 4515 as libldap accepts it, and back to text."""
    node = filters.parse(data)
    return filters.encode(node)


class ExpectProblems(Exception):
    """parse_file() answered with FILE:LINE problems: `ldapdiag run` prints them and exits 2."""


def feed_expect(data: bytes, tmp: Path) -> object:
    """An expect.yaml for `ldapdiag run`: a result or FILE:LINE problems."""
    parsed, problems = parse_file(_write(tmp, "expect.yaml", data))
    if parsed is None:
        raise ExpectProblems("; ".join(str(p) for p in problems))
    return parsed


def feed_dms_env(data: bytes, tmp: Path) -> object:
    """The whole configuration from one env file: DMS's rendering, read back by every parser."""
    env = _write(tmp, "mailserver.env", data)
    return load_config(SourceOptions(env_files=(env,), use_environment=False), {"HOME": "/root"})


def targets() -> list[Target]:
    """Every fuzzed parser with its seed corpus."""
    rendered = _rendered()
    envs = _files("tests/data/envfiles/*.env", "scenarios/*/mailserver.env", "tests/data/**/*.env")
    return [
        Target("env-file", envs, feed_env),
        Target(
            "compose", _files("tests/data/compose/**/*.yml", "tests/data/compose/**/*.yaml"), feed_compose
        ),
        Target(
            "postfix-main.cf",
            (*_files("tests/data/parsers/postfix/main.cf"), *rendered["postfix-main"]),
            feed_postfix_main,
        ),
        Target("ldap_table.cf", (*_files("tests/data/**/*.cf"), *rendered["ldap-table"]), feed_ldap_table),
        Target("dovecot.conf", tuple(rendered["dovecot-conf"]), feed_dovecot_conf),
        Target(
            "dovecot-ldap.conf.ext",
            (*_files("tests/data/**/*.ext"), *rendered["dovecot-ldap"]),
            feed_dovecot_ldap,
        ),
        Target("saslauthd.conf", (*_files("tests/data/**/*.conf"), *rendered["saslauthd"]), feed_saslauthd),
        Target("filter", _filter_seeds(), feed_filter, (LdapdiagError, filters.FilterSyntaxError)),
        Target(
            "expect.yaml",
            _files("scenarios/*/expect.yaml", "tests/data/**/*.yaml"),
            feed_expect,
            (LdapdiagError, ExpectProblems),
        ),
        Target("dms-env (load_config)", envs, feed_dms_env),
    ]


# ---------------------------------------------------------------------------------------------
# mutation


def mutate(rng: random.Random, seeds: Sequence[bytes]) -> bytes:
    """A seed changed by 1-4 random edits (tokens, bytes, deletions, duplications, splices)."""
    data = bytearray(rng.choice(seeds) if seeds else b"")
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        pos = rng.randint(0, len(data))
        if op == 0:
            data[pos:pos] = rng.choice(TOKENS)
        elif op == 1 and data:
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op == 2 and data:
            end = min(len(data), pos + rng.randint(1, 32))
            del data[pos:end]
        elif op == 3 and data:
            end = min(len(data), pos + rng.randint(1, 64))
            data[pos:pos] = data[pos:end] * rng.randint(1, 3)
        elif op == 4 and seeds:
            other = rng.choice(seeds)
            cut = rng.randint(0, len(other))
            data[pos:] = other[cut:]
        elif op == 5:
            data[pos:pos] = rng.choice(TOKENS) * rng.choice((2, 16, 300))
        elif op == 6:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        else:
            line_start = data.rfind(b"\n", 0, pos) + 1
            data[line_start:line_start] = rng.choice(TOKENS)
    return bytes(data)


def fuzz_target(target: Target, count: int, rng: random.Random, tmp: Path) -> Stats:
    """Feed `count` mutated inputs to one parser; crashes keep their input and traceback."""
    stats = Stats()
    for _ in range(count):
        data = mutate(rng, target.seeds)
        stats.inputs += 1
        try:
            target.feed(data, tmp)
        except target.clean:
            stats.rejected += 1
        except RecursionError as error:  # a crash too, but keep its traceback short
            stats.crashes.append((data, f"RecursionError: {error}"))
        except Exception:
            stats.crashes.append((data, traceback.format_exc(limit=-3)))
        else:
            stats.parsed += 1
    return stats


# ---------------------------------------------------------------------------------------------
# through the real CLI


@dataclass(frozen=True)
class CliCase:
    """One CLI run: the input file's name and the command line using it."""

    file: str
    args: tuple[str, ...]
    target: str


CLI_CASES = (
    CliCase("mailserver.env", ("config", "--no-env", "--env-file", "{file}"), "env-file"),
    CliCase("mailserver.env", ("lint", "--no-env", "--env-file", "{file}"), "dms-env (load_config)"),
    CliCase("compose.yaml", ("config", "--no-env", "--compose", "{file}"), "compose"),
    CliCase("expect.yaml", ("run", "--no-env", "{file}"), "expect.yaml"),
    CliCase("ldap-users.cf", ("lookup", "--no-env", "{file}", "-"), "ldap_table.cf"),
)


@dataclass
class CliStats:
    """Counts for the CLI runs."""

    runs: int = 0
    exit_codes: dict[int, int] = field(default_factory=dict)
    failures: list[tuple[CliCase, bytes, int, str]] = field(default_factory=list)


def cli_bad(returncode: int, stderr: str) -> bool:
    """Not a clean outcome: an exit code other than 0/1/2, a traceback or an internal error."""
    return returncode not in (0, 1, 2) or "Traceback" in stderr or "internal error" in stderr


def fuzz_cli(count: int, rng: random.Random, tmp: Path, seeds: dict[str, tuple[bytes, ...]]) -> CliStats:
    """Run `count` mutated inputs through the ldapdiag CLI (a subprocess each)."""
    stats = CliStats()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LDAP", "DOVECOT", "SASLAUTHD"))}
    env.pop("LDAPDIAG_DEBUG", None)
    folder = tmp / "cli"
    folder.mkdir(exist_ok=True)
    for index in range(count):
        case = CLI_CASES[index % len(CLI_CASES)]
        data = mutate(rng, seeds[case.target])
        path = _write(folder, case.file, data)
        args = [str(LDAPDIAG), *(a.format(file=path) for a in case.args)]
        proc = subprocess.run(
            args, input=b"a@example.org\n", capture_output=True, timeout=120, cwd=folder, env=env, check=False
        )
        stderr = proc.stderr.decode("utf-8", "replace")
        stats.runs += 1
        stats.exit_codes[proc.returncode] = stats.exit_codes.get(proc.returncode, 0) + 1
        if cli_bad(proc.returncode, stderr):
            stats.failures.append((case, data, proc.returncode, stderr[-2000:]))
    return stats


# ---------------------------------------------------------------------------------------------


def run(count: int, cli: int, seed: int, out: Callable[[str], None] = print) -> int:
    """Fuzz every parser (`count` inputs split evenly) and `cli` CLI runs; the number of crashes."""
    rng = random.Random(seed)
    chosen = targets()
    share = max(1, count // len(chosen))
    crashes = 0
    with tempfile.TemporaryDirectory(prefix="ldapdiag-fuzz-") as name:
        tmp = Path(name)
        for target in chosen:
            started = time.monotonic()
            stats = fuzz_target(target, share, rng, tmp)
            crashes += len(stats.crashes)
            out(
                f"{target.name:24} {stats.inputs:7} inputs: {stats.parsed:7} parsed, "
                f"{stats.rejected:7} clean errors, {len(stats.crashes)} crashes "
                f"({len(target.seeds)} seeds, {time.monotonic() - started:.1f} s)"
            )
            for data, trace in stats.crashes[:3]:
                out(f"  CRASH input={data[:300]!r}\n  " + trace.replace("\n", "\n  "))
        if cli:
            seeds = {t.name: t.seeds for t in chosen}
            started = time.monotonic()
            cli_stats = fuzz_cli(cli, rng, tmp, seeds)
            crashes += len(cli_stats.failures)
            codes = ", ".join(f"exit {c}: {n}" for c, n in sorted(cli_stats.exit_codes.items()))
            out(
                f"{'CLI (subprocess)':24} {cli_stats.runs:7} runs: {codes}; "
                f"{len(cli_stats.failures)} unclean ({time.monotonic() - started:.1f} s)"
            )
            for case, data, code, stderr in cli_stats.failures[:3]:
                out(f"  UNCLEAN {case.args[0]} exit {code} input={data[:300]!r}\n  {stderr}")
    out(f"total: {share * len(chosen)} in-process inputs, {cli} CLI runs, {crashes} crashes")
    return crashes


def main(argv: Sequence[str] | None = None) -> int:
    """The bench/fuzz command."""
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="in-process inputs over all parsers")
    parser.add_argument("--cli", type=int, default=300, help="inputs run through the ldapdiag CLI")
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args(argv)
    return 1 if run(options.count, options.cli, options.seed) else 0


if __name__ == "__main__":
    sys.exit(main())
