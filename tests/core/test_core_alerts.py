"""The operator alert as a mail system sees it: line limits, auto-submitted, decodable."""

from __future__ import annotations

import datetime as dt
import email
import email.policy

from digest.jobs.alerts import alert_message
from digest.models import RunReport, SourceOutcome, SourceState

STARTED = dt.datetime(2024, 11, 28, 6, 30, tzinfo=dt.UTC)


def test_a_long_non_ascii_problem_keeps_quoted_printable_lines_within_76() -> None:
    detail = "https://example.org/" + "très-long-chemin/" * 12 + ": HTTP 503 — réessayez plus tard"
    report = RunReport(
        started=STARTED,
        finished=STARTED,
        day=STARTED.date(),
        sources=(SourceOutcome("journal", SourceState.FAILED, 0, detail),),
    )
    lines = [f"source journal failed: {detail}"]

    raw = alert_message(
        sender="Digest <digest@example.org>",
        operator="ops@example.org",
        kind="fetch",
        report=report,
        lines=lines,
    )

    head, _, body = raw.partition(b"\r\n\r\n")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    assert max(len(line) for line in head.split(b"\r\n")) <= 78
    assert detail in message.get_content()
