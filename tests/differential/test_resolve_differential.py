"""`ldapdiag resolve` against the real postfix: RCPT/DATA replies and the recipients it delivers to.

For every probe of resolve_cases.py the sandbox runs one SMTP transaction on port 25 (from
outside mynetworks, or from 127.0.0.1 for `mynetworks` probes) and ldapdiag predicts the same
transaction. Each address's first non-2xx reply (RCPT, else the end of DATA) must be equal, the
RCPT replies too, and for queued mail the (original recipient, final recipient) pairs postfix
logged must be the ones ldapdiag lists, in the exact case; a status ldapdiag predicts (error
transport, resolver failure) must be postfix's. LMTP outcomes are the dovecot engine's part.
The sandbox leaves out what tests/sandbox/README.md lists (postgrey, amavis, milters, SPF...).
"""

from __future__ import annotations

import pytest

from tests.differential.resolve_cases import CONFIGURATIONS
from tests.differential.resolve_fixtures import session_runs, timings
from tests.differential.resolve_runs import ConfigurationRun, ResolvePair

CASES = [(c.name, i) for c in CONFIGURATIONS for i in range(len(c.probes))]
IDS = [f"{c.name}:{p.label}" for c in CONFIGURATIONS for p in c.probes]


def fold(text: str) -> str:
    return text.lower()


def real_replies(pair: ResolvePair) -> dict[str, str | None]:
    """Postfix's first non-2xx reply per address: the RCPT reply, else the DATA reply."""
    data = pair.real.data_reply
    out: dict[str, str | None] = {}
    for address, reply in pair.real.rcpt.items():
        if not reply.startswith("2"):
            out[address] = reply
        elif data is not None and not data.startswith("2"):
            out[address] = data
        else:
            out[address] = None
    return out


def explain(pair: ResolvePair) -> str:
    """Both sides, for a failing assertion."""
    lines = [f"postfix: RCPT {pair.real.rcpt} DATA {pair.real.data_reply}"]
    lines += [
        f"  delivered {d.to} (orig {d.orig_to}) {d.status} {d.dsn} {d.agent}" for d in pair.real.deliveries
    ]
    lines += [f"  log: {line}" for line in pair.real.log if "warning" in line or "reject" in line][:20]
    for outcome in pair.predicted.outcomes:
        lines.append(f"ldapdiag {outcome.address}: {outcome.verdict} {outcome.smtp_reply}")
        lines += [f"  -> {r.address} {r.status} {r.dsn}" for r in outcome.recipients]
        lines += [f"  [{s.phase}] {s.action}: {s.detail}" for s in outcome.steps]
    return "\n".join(lines)


def _pair(runs: dict[str, ConfigurationRun], name: str, index: int) -> ResolvePair:
    return runs[name].resolve[index]


@pytest.fixture(scope="module")
def runs() -> dict[str, ConfigurationRun]:
    """The session's runs of every configuration."""
    return session_runs()


@pytest.mark.parametrize(("name", "index"), CASES, ids=IDS)
def test_smtp_replies_equal_postfix(runs: dict[str, ConfigurationRun], name: str, index: int) -> None:
    pair = _pair(runs, name, index)
    assert pair.real.mail_reply == pair.predicted.mail_reply
    predicted = {o.address: o.smtp_reply for o in pair.predicted.outcomes}
    assert predicted == real_replies(pair), explain(pair)
    assert {o.address: o.rcpt_reply for o in pair.predicted.outcomes} == pair.real.rcpt, explain(pair)
    verdicts = {o.address: o.verdict for o in pair.predicted.outcomes}
    expected = {
        a: "deliver" if r is None else "defer" if r[0] == "4" else "reject"
        for a, r in real_replies(pair).items()
    }
    assert verdicts == expected, explain(pair)


@pytest.mark.parametrize(("name", "index"), CASES, ids=IDS)
def test_delivered_recipients_equal_postfix(runs: dict[str, ConfigurationRun], name: str, index: int) -> None:
    pair = _pair(runs, name, index)
    assert pair.real.settled, "the sandbox's queue did not settle"
    real = sorted((fold(d.orig_to or d.to), d.to) for d in pair.real.deliveries)
    predicted = sorted((fold(r.original), r.address) for o in pair.predicted.outcomes for r in o.recipients)
    assert predicted == real, explain(pair)
    by_pair = {(fold(d.orig_to or d.to), d.to): d for d in pair.real.deliveries}
    for outcome in pair.predicted.outcomes:
        for recipient in outcome.recipients:
            if recipient.status is not None:
                delivery = by_pair[(fold(recipient.original), recipient.address)]
                assert (recipient.status, recipient.dsn) == (delivery.status, delivery.dsn), explain(pair)


def test_enough_probes_and_time(runs: dict[str, ConfigurationRun]) -> None:
    probes = sum(len(run.resolve) for run in runs.values())
    addresses = sum(len(pair.probe.addresses) for run in runs.values() for pair in run.resolve)
    assert probes >= 100 and addresses >= 110, (probes, addresses)
    assert len([run for run in runs.values() if run.resolve]) >= 9
    assert timings().get("total", 0) < 180, timings()
