"""Read delivery outcomes from postfix's log (`maillog_file = /var/log/mail.log`).

A delivery line: `... postfix/lmtp[123]: 4F1A2B3C: to=<a@d>, orig_to=<b@d>, relay=host[...],
delay=0.1, delays=..., dsn=2.0.0, status=sent (250 2.0.0 <a@d> ... Saved)`.
"""

from __future__ import annotations

import re
from typing import Any

_DELIVERY = re.compile(
    r"postfix/(?:[\w.-]+/)*(?P<agent>[\w.-]+)\[\d+\]: (?P<qid>[0-9A-Za-z]+): "
    r"to=<(?P<to>[^>]*)>, (?:orig_to=<(?P<orig>[^>]*)>, )?(?P<fields>.*?), "
    r"status=(?P<status>\w+) \((?P<reply>.*)\)$"
)
_QUEUED = re.compile(r"queued as (?P<qid>[0-9A-Za-z]+)")


def queue_id(data_reply: str) -> str | None:
    """The queue id in smtpd's `250 2.0.0 Ok: queued as 4F1A2B3C`."""
    match = _QUEUED.search(data_reply)
    return match.group("qid") if match else None


def removed(lines: list[str], qid: str) -> bool:
    """Whether qmgr logged `QID: removed` (every recipient done, the message gone)."""
    return any(f"]: {qid}: removed" in line for line in lines)


def deliveries(lines: list[str], qid: str) -> list[dict[str, Any]]:
    """The delivery lines of message `qid`, as dicts of results.Delivery fields."""
    found = []
    for line in lines:
        match = _DELIVERY.search(line)
        if not match or match.group("qid") != qid:
            continue
        extra = dict(_pairs(match.group("fields")))
        found.append(
            {
                "queue_id": qid,
                "to": match.group("to"),
                "orig_to": match.group("orig"),
                "status": match.group("status"),
                "dsn": extra.get("dsn", ""),
                "relay": extra.get("relay", ""),
                "reply": match.group("reply"),
                "agent": match.group("agent"),
                "line": line,
            }
        )
    return found


def _pairs(text: str) -> list[tuple[str, str]]:
    """`key=value` pairs of a `relay=..., delay=..., dsn=...` fragment."""
    pairs = []
    for part in text.split(", "):
        key, sep, value = part.partition("=")
        if sep:
            pairs.append((key, value))
    return pairs
