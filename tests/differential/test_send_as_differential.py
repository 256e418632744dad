"""`ldapdiag send-as` against the real postfix on DMS's submission port.

For every sender of resolve_cases.py's SendAs probes the sandbox authenticates (STARTTLS, AUTH
PLAIN with the user's password from passwords.yaml), sends MAIL FROM:<sender> and one RCPT TO;
the first non-2xx reply (smtpd_delay_reject = yes puts the sender check at RCPT) must equal
ldapdiag's `smtp_reply`, and the SASL name postfix logged or named in its reply must equal
ldapdiag's `sasl_username`.
"""

from __future__ import annotations

import re

import pytest

from tests.differential.resolve_cases import CONFIGURATIONS
from tests.differential.resolve_fixtures import session_runs
from tests.differential.resolve_runs import ConfigurationRun, SendAsPair

CASES = [(c.name, i) for c in CONFIGURATIONS for i in range(sum(len(case.senders) for case in c.send_as))]
IDS = [
    f"{c.name}:{case.login}->{sender or '<>'}"
    for c in CONFIGURATIONS
    for case in c.send_as
    for sender in case.senders
]
SASL_LOGGED = re.compile(r"sasl_username=(\S+)")
SASL_REPLIED = re.compile(r"not owned by user (\S+)$")


def real_reply(pair: SendAsPair) -> str | None:
    for reply in (pair.real.mail_from, pair.real.rcpt):
        if reply is not None and not reply.startswith("2"):
            return reply
    return None


def real_sasl_name(pair: SendAsPair) -> str | None:
    for line in pair.real.log:
        if (match := SASL_LOGGED.search(line)) is not None:
            return match.group(1).rstrip(",")
    reply = real_reply(pair) or ""
    match = SASL_REPLIED.search(reply)
    return match.group(1) if match else None


def explain(pair: SendAsPair) -> str:
    lines = [f"postfix: AUTH {pair.real.auth} MAIL {pair.real.mail_from} RCPT {pair.real.rcpt}"]
    lines += [f"  log: {line}" for line in pair.real.log if "reject" in line or "warning" in line][:10]
    lines.append(f"ldapdiag: {pair.predicted.as_dict()['smtp_reply']} owners={pair.predicted.owners}")
    lines += [f"  [{s.phase}] {s.action}: {s.detail}" for s in pair.predicted.steps]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def runs() -> dict[str, ConfigurationRun]:
    """The session's runs of every configuration."""
    return session_runs()


@pytest.mark.parametrize(("name", "index"), CASES, ids=IDS)
def test_send_as_replies_equal_postfix(runs: dict[str, ConfigurationRun], name: str, index: int) -> None:
    pair = runs[name].send_as[index]
    assert pair.real.auth.startswith("235"), (
        f"the sandbox login failed, the probe says nothing: {pair.real.auth}"
    )
    assert pair.predicted.smtp_reply == real_reply(pair), explain(pair)
    assert pair.predicted.allowed == (real_reply(pair) is None)
    name_seen = real_sasl_name(pair)
    if name_seen is not None:
        assert pair.predicted.sasl_username == name_seen, explain(pair)


def test_enough_send_as_probes(runs: dict[str, ConfigurationRun]) -> None:
    pairs = [pair for run in runs.values() for pair in run.send_as]
    assert len(pairs) >= 30
    assert sum(1 for p in pairs if real_sasl_name(p) is not None) >= 20
    assert {p.predicted.allowed for p in pairs} == {True, False}
