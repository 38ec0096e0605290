"""PostgreSQL's columns to the records of digest.store.roles and back.

PostgreSQL has the types SQLite lacks (timestamptz, date, time, boolean, arrays), so most
values pass through as they are; what is left is making every moment an aware UTC datetime
and decoding the JSON documents (profiles, papers, run reports) with the shared codec.
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


def utc(moment: dt.datetime) -> dt.datetime:
    # A naive datetime is taken as UTC, as everywhere in digest, not as the machine's zone.
    aware = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment
    return aware.astimezone(dt.UTC)


SUBSCRIBER_COLUMNS = "id, email, profile, deliver_at, timezone, active, created_at"


def subscriber_values(subscriber: Subscriber, now: dt.datetime) -> Row:
    """email, profile, deliver_at, timezone, created_at, updated_at"""
    profile = json.dumps(profile_to_dict(subscriber.profile), ensure_ascii=False)
    clock = subscriber.deliver_at.replace(second=0, microsecond=0, tzinfo=None)
    # A subscriber moved from elsewhere keeps when they subscribed; a new one is "now".
    created = subscriber.created or now
    return (subscriber.email, profile, clock, subscriber.timezone, created, now)


def subscriber(row: Row) -> Subscriber:
    sid, email, profile, deliver_at, timezone, active, created = row
    return Subscriber(
        id=sid,
        email=email,
        profile=profile_from_dict(json.loads(profile)),
        deliver_at=deliver_at,
        timezone=timezone,
        active=active,
        created=created.astimezone(dt.UTC),
    )


def seen_paper(row: Row) -> SeenPaper:
    data, first, last = row
    return SeenPaper(paper_from_json(data), utc(first), utc(last))


SOURCE_COLUMNS = "name, url, etag, last_modified, last_state, last_detail, last_ok_day, updated_at"


def source_values(
    outcome: SourceOutcome,
    url: str,
    validators: Validators | None,
    on: dt.date,
    now: dt.datetime,
) -> Row:
    """SOURCE_COLUMNS, from one fetch: a failed one keeps the last good day."""
    ok = outcome.state is not SourceState.FAILED
    etag, modified = (validators.etag, validators.last_modified) if validators else (None, None)
    state, detail = outcome.state.value, outcome.detail
    return (outcome.name, url, etag, modified, state, detail, on if ok else None, now)


def source_record(row: Row) -> SourceRecord:
    name, url, etag, modified, state, detail, ok_day, updated = row
    return SourceRecord(
        name=name,
        url=url,
        validators=Validators(etag=etag, last_modified=modified),
        last_state=SourceState(state) if state else None,
        last_detail=detail,
        last_ok_day=ok_day,
        updated_at=utc(updated),
    )


OUTBOX_COLUMNS = (
    "id, subscriber_id, recipient, day, message_id, message, paper_ids, state, attempts, last_error"
)


def outbox_item(row: Row) -> OutboxItem:
    oid, sid, recipient, on, message_id, message, paper_ids, state, attempts, error = row
    return OutboxItem(
        id=oid,
        subscriber_id=sid,
        recipient=recipient,
        day=on,
        message_id=message_id,
        message=bytes(message),
        paper_ids=tuple(paper_ids),
        state=DeliveryState(state),
        attempts=attempts,
        last_error=error,
    )


CLAIM_COLUMNS = "id, recipient, claimed_by, claimed_until"


def claim(row: Row) -> Claim:
    outbox_id, recipient, owner, until = row
    return Claim(outbox_id, recipient, owner, utc(until))


RUN_COLUMNS = "id, started, finished, day, report, kind, alert, state, host, pid"


def run_values(report: RunReport, kind: str, alert: str) -> Row:
    """started, finished, day, ok, report, kind, alert"""
    body = json.dumps(report_body(report), ensure_ascii=False)
    return (utc(report.started), utc(report.finished), report.day, report.ok, body, kind, alert)


def run_record(row: Row) -> RunRecord:
    run_id, started, finished, on, body, kind, alert, state, host, pid = row
    report = report_from_body(
        json.loads(body), started=utc(started), finished=utc(finished), day=on
    )
    return RunRecord(report, kind, alert, run_id, RunState(state), host, pid)
