"""SMTP probes run inside the sandbox (agent side): one transaction per call, like a real client.

The client connects from CLIENT_IP (outside mynetworks) to the sandbox's postfix; replies are
returned as "CODE X.Y.Z text" exactly as postfix sent them (multi-line replies joined by "\\n").
After each probe the queue is emptied with `postsuper -d ALL`.
"""

from __future__ import annotations

import base64
import json
import smtplib
import socket
import ssl
import time
import uuid
from collections.abc import Sequence
from email.utils import formatdate
from typing import Any

from tests.sandbox import layout, maillog
from tests.sandbox.daemons import run

SETTLE_TIMEOUT = 30.0
QUEUE_POLL_EVERY = 10  # run postqueue every N log polls
POLL = 0.01


class LogReader:
    """Reads what a log file gained since the reader was created."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = self._size()

    def _size(self) -> int:
        try:
            with open(self.path, "rb") as handle:
                return handle.seek(0, 2)
        except OSError:
            return 0

    def lines(self) -> list[str]:
        """Complete lines written since creation."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except OSError:
            return []
        text = data.decode("utf-8", "replace")
        return text.splitlines() if text.endswith("\n") else text.splitlines()[:-1]


def reply(code: int, message: bytes | str) -> str:
    """An SMTP reply as sent: each line "CODE text"."""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return "\n".join(f"{code} {line}" for line in (text.split("\n") if text else [""]))


def _client(port: int) -> smtplib.SMTP:
    """A connected client (the server name given here is what STARTTLS sends as SNI)."""
    return smtplib.SMTP(
        layout.SERVER_IP,
        port,
        local_hostname=layout.HELO_NAME,
        source_address=(layout.CLIENT_IP, 0),
        timeout=30,
    )


def _message(mail_from: str, recipients: Sequence[str]) -> str:
    return (
        f"From: <{mail_from}>\r\nTo: {', '.join(f'<{r}>' for r in recipients)}\r\n"
        f"Subject: ldapdiag sandbox probe\r\nDate: {formatdate()}\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@sandbox.invalid>\r\n\r\nprobe\r\n"
    )


def rcpt_probe(mail_from: str, recipients: Sequence[str]) -> dict[str, Any]:
    """MAIL FROM, one RCPT TO per address, DATA if any was accepted; then the deliveries."""
    log = LogReader(layout.MAIL_LOG)
    smtp = _client(layout.SMTP_PORT)
    try:
        smtp.ehlo()
        mail_reply = reply(*smtp.mail(mail_from))
        answers = {address: reply(*smtp.rcpt(address)) for address in recipients}
        data_reply = None
        if mail_reply.startswith("2") and any(a.startswith("2") for a in answers.values()):
            code, text = smtp.docmd("DATA")
            if code == 354:
                accepted = [a for a, r in answers.items() if r.startswith("2")]
                smtp.send(_message(mail_from, accepted) + ".\r\n")  # no line starts with "."
                code, text = smtp.getreply()
            data_reply = reply(code, text)
        smtp.quit()
    finally:
        smtp.close()
    qid = maillog.queue_id(data_reply) if data_reply and data_reply.startswith("250") else None
    settled = _settle(log, qid) if qid else True
    lines = _quiet_queue(log)
    return {
        "mail_from": mail_from,
        "mail_reply": mail_reply,
        "rcpt": answers,
        "data_reply": data_reply,
        "queue_id": qid,
        "deliveries": maillog.deliveries(lines, qid) if qid else [],
        "log": lines,
        "settled": settled,
    }


def _settle(log: LogReader, qid: str) -> bool:
    """Wait until the message is removed from the queue or sits in the deferred queue."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    polls = 0
    while time.monotonic() < deadline:
        if maillog.removed(log.lines(), qid):
            return True
        polls += 1
        if polls % QUEUE_POLL_EVERY == 0 and _queue_state(qid) in (None, "deferred", "hold"):
            time.sleep(0.05)  # let postlogd write the delivery lines
            return True
        time.sleep(POLL)
    return False


def _queue_state(qid: str) -> str | None:
    """The queue (incoming, active, deferred, hold) holding `qid`, None when it is gone."""
    for line in run(["postqueue", "-j"]).stdout.splitlines():
        entry = json.loads(line)
        if entry.get("queue_id") == qid:
            return str(entry.get("queue_name"))
    return None


def _quiet_queue(log: LogReader) -> list[str]:
    """Delete every queued message (bounces, deferred mail) and return the probe's log lines."""
    run(["postsuper", "-d", "ALL"])
    return log.lines()


def submission_probe(login: str, password: str, mail_from: str, rcpt: str) -> dict[str, Any]:
    """STARTTLS, AUTH PLAIN, MAIL FROM, RCPT TO on the submission port; no DATA."""
    log = LogReader(layout.MAIL_LOG)
    smtp = _client(layout.SUBMISSION_PORT)
    mail_reply = rcpt_reply = None
    try:
        smtp.ehlo()
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        smtp.starttls(context=context)
        smtp.ehlo()
        token = base64.b64encode(f"\0{login}\0{password}".encode()).decode()
        auth_reply = reply(*smtp.docmd("AUTH", f"PLAIN {token}"))
        if auth_reply.startswith("235"):
            mail_reply = reply(*smtp.mail(mail_from))
            rcpt_reply = reply(*smtp.rcpt(rcpt))
            smtp.rset()
        smtp.quit()
    finally:
        smtp.close()
    # Nothing is queued without DATA (cleanup drops the file at RSET by itself): no postsuper
    # here, it would race cleanup. Wait for the session's last log line instead.
    return {
        "auth": auth_reply,
        "mail_from": mail_reply,
        "rcpt": rcpt_reply,
        "log": _until(log, "disconnect from"),
    }


def _until(log: LogReader, text: str, timeout: float = 5.0) -> list[str]:
    """The log's new lines once one contains `text` (or after `timeout`)."""
    deadline = time.monotonic() + timeout
    lines = log.lines()
    while not any(text in line for line in lines) and time.monotonic() < deadline:
        time.sleep(POLL)
        lines = log.lines()
    return lines


class _Stalled(Exception):
    """A session step got no reply: the session ends there."""


class _Session:
    """A raw SMTP client that records each step and gives up on a step after `wait` seconds."""

    def __init__(self, port: int, wait: float) -> None:
        self.wait = wait
        self.steps: list[dict[str, str]] = []
        self.raw = socket.create_connection(
            (layout.SERVER_IP, port), timeout=wait, source_address=(layout.CLIENT_IP, 0)
        )
        self.sock: socket.socket | ssl.SSLSocket = self.raw

    def read(self, command: str) -> str:
        """The reply to `command` as sent (lines joined by "\\n"); _Stalled when none comes."""
        data = b""
        deadline = time.monotonic() + self.wait
        outcome = "timeout"
        try:
            while time.monotonic() < deadline:
                self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
                chunk = self.sock.recv(4096)
                if not chunk:
                    outcome = "closed"
                    break
                data += chunk
                lines = data.split(b"\r\n")
                if data.endswith(b"\r\n") and lines[-2][3:4] == b" ":
                    text = data.decode("utf-8", "replace").rstrip("\r\n").replace("\r\n", "\n")
                    self.steps.append({"command": command, "outcome": "reply", "reply": text})
                    return text
        except TimeoutError:
            outcome = "timeout"
        except OSError:
            outcome = "closed"
        self.steps.append({"command": command, "outcome": outcome, "reply": data.decode("utf-8", "replace")})
        raise _Stalled

    def send(self, line: str, command: str) -> str:
        try:
            self.sock.sendall(line.encode() + b"\r\n")
        except OSError as error:
            self.steps.append({"command": command, "outcome": "closed", "reply": str(error)})
            raise _Stalled from None
        return self.read(command)

    def starttls(self) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self.sock = context.wrap_socket(self.raw, server_hostname=layout.SERVER_IP)


def session_probe(
    port: int,
    mail_from: str,
    recipients: Sequence[str],
    login: str | None,
    password: str | None,
    wait: float,
) -> dict[str, Any]:
    """Greeting, EHLO, (587: STARTTLS, EHLO, AUTH PLAIN), MAIL FROM, RCPT TO..., QUIT: up to the
    first step without a reply within `wait` seconds. No DATA: nothing is queued."""
    log = LogReader(layout.MAIL_LOG)
    try:
        session = _Session(port, wait)
    except OSError as error:  # nothing listens (postfix does not run)
        step = {"command": "connect", "outcome": "refused", "reply": str(error)}
        return {"port": port, "steps": [step], "log": log.lines()}
    try:
        session.read("greeting")
        session.send(f"EHLO {layout.HELO_NAME}", "EHLO")
        if port == layout.SUBMISSION_PORT:
            session.send("STARTTLS", "STARTTLS")
            session.starttls()
            session.send(f"EHLO {layout.HELO_NAME}", "EHLO (TLS)")
            if login is not None:
                token = base64.b64encode(f"\0{login}\0{password or ''}".encode()).decode()
                session.send(f"AUTH PLAIN {token}", "AUTH")
        session.send(f"MAIL FROM:<{mail_from}>", "MAIL FROM")
        for recipient in recipients:
            session.send(f"RCPT TO:<{recipient}>", "RCPT TO")
        session.send("QUIT", "QUIT")
    except _Stalled:
        pass
    finally:
        session.sock.close()
    time.sleep(0.05)  # postlogd writes asynchronously
    return {"port": port, "steps": session.steps, "log": log.lines()}
