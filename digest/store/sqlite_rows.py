"""SQLite's columns to typed values and back: rows in, the records of digest.store.roles out.

SQLite has no datetime type. Moments are stored as UTC ISO text with microseconds, one fixed
format, so they compare correctly as text in SQL; every moment read back is an aware UTC
datetime and every day a date, never text.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from digest.config.profiles import profile_from_dict, profile_to_dict
from digest.models import (
    DeliveryState,
    OutboxItem,
    RunReport,
    SourceOutcome,
    SourceState,
    Subscriber,
    Validators,
)
from digest.store.codec import paper_from_json, report_body, report_from_body
from digest.store.roles import Claim, RunRecord, RunState, SeenPaper, SourceRecord

Row = tuple[Any, ...]


def stamp(moment: dt.datetime) -> str:
    # A naive datetime is taken as UTC, as everywhere in digest, not as the machine's zone.
    aware = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment
    return aware.astimezone(dt.UTC).isoformat(timespec="microseconds")


def now_stamp() -> str:
    return stamp(dt.datetime.now(dt.UTC))


def moment(text: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(text)
    # Rows from before timestamps carried an offset were written in UTC.
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


# -- subscribers -------------------------------------------------------------------------

SUBSCRIBER_COLUMNS = "id, email, profile, deliver_at, timezone, active, created_at"


def subscriber_values(subscriber: Subscriber, now: str) -> Row:
    """email, profile, deliver_at, timezone, created_at, updated_at"""
    profile = json.dumps(profile_to_dict(subscriber.profile), ensure_ascii=False)
    clock = subscriber.deliver_at.strftime("%H:%M")
    # A subscriber moved from elsewhere keeps when they subscribed; a new one is "now".
    created = stamp(subscriber.created) if subscriber.created is not None else now
    return (subscriber.email, profile, clock, subscriber.timezone, created, now)


def subscriber(row: Row) -> Subscriber:
    sid, email, profile, deliver_at, timezone, active, created = row
    hours, minutes = deliver_at.split(":")
    return Subscriber(
        id=sid,
        email=email,
        profile=profile_from_dict(json.loads(profile)),
        deliver_at=dt.time(int(hours), int(minutes)),
        timezone=timezone,
        active=bool(active),
        created=moment(created),
    )


# -- papers and sources ------------------------------------------------------------------


def seen_paper(row: Row) -> SeenPaper:
    data, first, last = row
    return SeenPaper(paper_from_json(data), moment(first), moment(last))


SOURCE_COLUMNS = "name, url, etag, last_modified, last_state, last_detail, last_ok_day, updated_at"


def source_values(
    outcome: SourceOutcome, url: str, validators: Validators | None, on: dt.date, now: str
) -> Row:
    """SOURCE_COLUMNS, from one fetch: a failed one keeps the last good day."""
    ok = outcome.state is not SourceState.FAILED
    etag, modified = (validators.etag, validators.last_modified) if validators else (None, None)
    state, detail = outcome.state.value, outcome.detail
    return (outcome.name, url, etag, modified, state, detail, on.isoformat() if ok else None, now)


def source_record(row: Row) -> SourceRecord:
    name, url, etag, modified, state, detail, ok_day, updated = row
    return SourceRecord(
        name=name,
        url=url,
        validators=Validators(etag=etag, last_modified=modified),
        last_state=SourceState(state) if state else None,
        last_detail=detail,
        last_ok_day=day(ok_day) if ok_day else None,
        updated_at=moment(updated),
    )


# -- outbox ------------------------------------------------------------------------------

# The body lives in outbox_bodies (migration 9); a row written before that, or by hand,
# may still hold it in its own column.
MESSAGE = (
    "coalesce((SELECT b.message FROM outbox_bodies b WHERE b.outbox_id = outbox.id), "
    "outbox.message)"
)
OUTBOX_COLUMNS = (
    f"id, subscriber_id, recipient, day, message_id, {MESSAGE}, paper_ids, state, attempts, "
    "last_error"
)
# The same without the body (a claim takes it from the store's BodyMemo when it can); the
# body goes in at BODY_AT to make an OUTBOX_COLUMNS row.
BODILESS_COLUMNS = (
    "id, subscriber_id, recipient, day, message_id, paper_ids, state, attempts, last_error"
)
BODY_AT = 5


def with_body(row: Row, body: bytes) -> Row:
    return (*row[:BODY_AT], body, *row[BODY_AT:])


def outbox_item(row: Row) -> OutboxItem:
    oid, sid, recipient, on, message_id, message, paper_ids, state, attempts, error = row
    return OutboxItem(
        id=oid,
        subscriber_id=sid,
        recipient=recipient,
        day=day(on),
        message_id=message_id,
        message=bytes(message),
        paper_ids=tuple(json.loads(paper_ids)),
        state=DeliveryState(state),
        attempts=attempts,
        last_error=error,
    )


CLAIM_COLUMNS = "id, recipient, claimed_by, claimed_until"


def claim(row: Row) -> Claim:
    outbox_id, recipient, owner, until = row
    return Claim(outbox_id, recipient, owner, moment(until))


# -- runs --------------------------------------------------------------------------------

RUN_COLUMNS = "id, started, finished, day, report, kind, alert, state, host, pid"


def run_values(report: RunReport, kind: str, alert: str) -> Row:
    """started, finished, day, ok, report, kind, alert"""
    started, finished = stamp(report.started), stamp(report.finished)
    body = json.dumps(report_body(report), ensure_ascii=False)
    return (started, finished, report.day.isoformat(), int(report.ok), body, kind, alert)


def run_record(row: Row) -> RunRecord:
    run_id, started, finished, on, body, kind, alert, state, host, pid = row
    report = report_from_body(
        json.loads(body), started=moment(started), finished=moment(finished), day=day(on)
    )
    return RunRecord(report, kind, alert, run_id, RunState(state), host, pid)
