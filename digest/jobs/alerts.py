"""Tell the operator when a run had problems: a short plain-text email through the same sender.

An alert never fails the run: if it cannot be sent, that is logged and recorded with the run.
The same set of problems is not mailed again within `REPEAT_AFTER` (a mail server that is
down for a day would otherwise send an alert every tick, through the very server that is down).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import socket
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr

from digest.compose.mail import make_message_id
from digest.deliver.smtp import Sender
from digest.models import DeliveryState, RunReport, SourceState
from digest.store.roles import Operations

log = logging.getLogger("digest.alerts")

REPEAT_AFTER = dt.timedelta(hours=6)
# The email package wraps quoted-printable at the policy's line length; RFC 2045 allows 76.
_ALERT_POLICY = SMTP.clone(max_line_length=76)
LAST_ALERT_KEY = "alert.last"


def problems(report: RunReport) -> list[str]:
    """One line per thing that went wrong in the run, in a stable order."""
    lines = [
        f"source {s.name} failed: {s.detail}"
        for s in report.sources
        if s.state is SourceState.FAILED
    ]
    lines += [
        f"delivery to {d.recipient} failed: {d.detail}"
        for d in report.deliveries
        if d.state is not DeliveryState.SENT
    ]
    lines += [f"error: {e}" for e in report.errors]
    left = report.left_behind
    if left:
        named = ", ".join(u.recipient for u in left[:5])
        more = f" and {len(left) - 5} more" if len(left) > 5 else ""
        lines.append(f"{len(left)} digest(s) left undelivered: {named}{more}")
    return lines


def alert_message(
    *, sender: str, operator: str, kind: str, report: RunReport, lines: list[str]
) -> bytes:
    host = socket.gethostname()
    message = EmailMessage(policy=_ALERT_POLICY)
    message["From"] = sender
    message["To"] = operator
    message["Subject"] = f"[digest] {kind} on {host}: {len(lines)} problem(s)"
    message["Date"] = format_datetime(report.finished.astimezone(dt.UTC))
    # RFC 3834: a machine wrote this; auto-responders and vacation replies stay quiet.
    message["Auto-Submitted"] = "auto-generated"
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_message_id(
        domain, f"alert.{host}.{kind}.{report.started.isoformat()}"
    )
    sent = sum(1 for d in report.deliveries if d.state is DeliveryState.SENT)
    body = [
        f"The digest {kind} on {host} started {report.started:%Y-%m-%d %H:%M:%S %Z} "
        f"(day {report.day}) finished with problems:",
        "",
        *(f"- {line}" for line in lines),
        "",
        f"{sent} digests were delivered in this {kind}.",
        "Failed deliveries are retried automatically; `digest status` shows the state and",
        "`digest retry` re-queues messages that were given up on.",
    ]
    message.set_content("\n".join(body) + "\n")
    return message.as_bytes()


def maybe_alert(
    *,
    operator: str | None,
    sender: str,
    store: Operations,
    make_sender: Callable[[], Sender],
    report: RunReport,
    kind: str,
    now: dt.datetime,
) -> str:
    """Mail the operator if the run had problems; returns what happened, for the run record."""
    lines = problems(report)
    if not lines or not operator:
        return ""
    fingerprint = hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()[:16]
    last = _last_alert(store)
    if last and last[0] == fingerprint and now - last[1] < REPEAT_AFTER:
        return f"not sent: same problems as the alert of {last[1]:%Y-%m-%d %H:%M}"
    message = alert_message(sender=sender, operator=operator, kind=kind, report=report, lines=lines)
    try:
        with make_sender() as transport:
            transport.send(parseaddr(sender)[1] or sender, operator, message)
    except Exception as err:  # an alert must never take the run down with it
        log.warning("alert to %s failed: %s", operator, err, extra={"event": "alert_failed"})
        return f"failed: {err}"
    store.set_meta(LAST_ALERT_KEY, json.dumps({"fingerprint": fingerprint, "at": now.isoformat()}))
    log.info("alert sent to %s", operator, extra={"event": "alert_sent"})
    return f"sent to {operator}"


def _last_alert(store: Operations) -> tuple[str, dt.datetime] | None:
    raw = store.meta(LAST_ALERT_KEY)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return str(data["fingerprint"]), dt.datetime.fromisoformat(data["at"])
    except (ValueError, KeyError, TypeError):
        return None
