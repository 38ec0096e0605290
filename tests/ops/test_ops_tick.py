"""Delivery ticks, run history, status, alerts and logs, in process with an injected clock."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from support.children import serve_small
from support.installation import ALICE_WORDS, Installation
from support.stores import opened_store

from digest.cli import main
from digest.collect.fetch import Fetcher
from digest.config.profiles import profile_from_options
from digest.jobs.context import RunContext
from digest.jobs.run import deliver_due, fetch_once
from digest.jobs.schedule import latest_delivery_day
from digest.jobs.wiring import fetcher_reader, sender_factory
from digest.models import DeliveryState, Subscriber
from digest.store import Store

FETCHED = dt.datetime(2024, 11, 28, 5, 0, tzinfo=dt.UTC)
OPERATOR = "ops@example.org"


@pytest.fixture
def store(ops_installation: Installation) -> Iterator[Store]:
    with opened_store(ops_installation.database) as opened:
        yield opened


# Subscribed long before the days these tests play: every delivery moment counts for them.
LONG_AGO = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def add(store: Store, email: str, at: dt.time, zone: str) -> Subscriber:
    profile = profile_from_options(list(ALICE_WORDS))
    reader = Subscriber(email, profile, deliver_at=at, timezone=zone, created=LONG_AGO)
    return store.save_subscriber(reader)


def fetch(inst: Installation, store: Store, now: dt.datetime = FETCHED) -> None:
    serve_small(inst, now.date())
    with Fetcher(inst.settings.fetch) as fetcher:
        report = fetch_once(context(inst, store, now), fetcher_reader(fetcher))
    assert report.ok, report


def context(inst: Installation, store: Store, now: dt.datetime) -> RunContext:
    settings = inst.settings
    return RunContext(settings, store, sender_factory(settings), clock=lambda: now)


def tick(inst: Installation, store: Store, now: dt.datetime) -> list[str]:
    before = len(inst.smtp.handler.received)
    deliver_due(context(inst, store, now))
    return sorted(r for m in inst.smtp.handler.received[before:] for r in m.rcpt_tos)


def at_utc(hour: int, minute: int = 0, day: int = 28) -> dt.datetime:
    return dt.datetime(2024, 11, day, hour, minute, tzinfo=dt.UTC)


def test_ticks_deliver_at_each_subscribers_local_time(
    ops_installation: Installation, store: Store
) -> None:
    inst = ops_installation
    seven = dt.time(7, 0)
    tokyo = add(store, "tokyo@example.org", seven, "Asia/Tokyo")
    add(store, "berlin@example.org", seven, "Europe/Berlin")
    add(store, "newyork@example.org", seven, "America/New_York")
    # They have had yesterday's digest already; what is left is today's timing.
    for subscriber in store.subscribers():
        assert subscriber.id is not None
        day = dt.date(2024, 11, 27)
        store.enqueue(
            subscriber_id=subscriber.id,
            recipient=subscriber.email,
            day=day,
            message_id=f"<{subscriber.id}@x>",
            message=b"Subject: old\r\n\r\nold",
            papers=[],
            composed_at=FETCHED - dt.timedelta(days=1),
        )
        store.mark_sent(store.pending()[0].id)
    fetch(inst, store)

    assert tick(inst, store, at_utc(5, 30)) == ["tokyo@example.org"]  # 14:30 in Tokyo
    assert tick(inst, store, at_utc(5, 55)) == []  # 06:55 in Berlin
    assert tick(inst, store, at_utc(6, 0)) == ["berlin@example.org"]
    # Changes apply at the next tick, no restart: New York moves to 06:00, Tokyo leaves.
    add(store, "newyork@example.org", dt.time(6, 0), "America/New_York")
    store.deactivate_subscriber(tokyo.email)
    assert tick(inst, store, at_utc(11, 0)) == ["newyork@example.org"]  # 06:00 in New York
    assert tick(inst, store, at_utc(12, 0)) == []
    assert tick(inst, store, at_utc(22, 0)) == []  # 07:00 on the 29th in Tokyo: unsubscribed

    kinds = [run.kind for run in store.recent_runs(20)]
    assert kinds == ["tick", "tick", "tick", "fetch"]  # idle ticks leave no history


def write_operator(inst: Installation) -> None:
    text = inst.config.read_text(encoding="utf-8")
    inst.config.write_text(
        text.replace("[email]\n", f'[email]\noperator = "{OPERATOR}"\n', 1), encoding="utf-8"
    )


def test_a_run_with_problems_mails_the_operator_once_and_records_it(
    ops_installation: Installation, store: Store
) -> None:
    inst = ops_installation
    write_operator(inst)
    add(store, "reader@example.org", dt.time(0, 0), "UTC")
    serve_small(inst, FETCHED.date())
    inst.http.routes.pop("/rss/cs.LG")  # arXiv answers 404

    for hour in (5, 6):
        with Fetcher(inst.settings.fetch) as fetcher:
            report = fetch_once(context(inst, store, at_utc(hour)), fetcher_reader(fetcher))
        assert not report.ok

    (alert,) = inst.smtp.handler.to(OPERATOR)
    message = alert.message
    assert message["Subject"].startswith("[digest] fetch on ")
    body = message.get_body(("plain",)).get_content()
    assert "source arxiv failed" in body and "404" in body
    second, first = store.recent_runs(2)
    assert first.alert == f"sent to {OPERATOR}"
    assert second.alert.startswith("not sent: same problems")


def test_an_alert_that_cannot_be_sent_never_fails_the_run(
    ops_installation: Installation, store: Store
) -> None:
    inst = ops_installation
    write_operator(inst)
    inst.smtp.handler.reject[OPERATOR] = "550 5.1.1 no such mailbox"
    serve_small(inst, FETCHED.date())
    inst.http.routes.pop("/rss/cs.LG")
    with Fetcher(inst.settings.fetch) as fetcher:
        fetch_once(context(inst, store, FETCHED), fetcher_reader(fetcher))
    (run,) = store.recent_runs(1)
    assert run.alert.startswith("failed: ") and "550" in run.alert
    assert inst.smtp.handler.to(OPERATOR) == []


def test_status_shows_runs_sources_claims_and_next_deliveries(
    ops_installation: Installation, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    inst = ops_installation
    now = at_utc(12)
    later = add(store, "later@example.org", dt.time(23, 59), "Pacific/Kiritimati")
    add(store, "now@example.org", dt.time(0, 0), "UTC")
    fetch(inst, store, now)
    # Later's latest digest is composed and being sent by some worker right now.
    assert later.id is not None
    store.enqueue(
        subscriber_id=later.id,
        recipient=later.email,
        day=latest_delivery_day(later, now),
        message_id="<later@x>",
        message=b"Subject: hi\r\n\r\nhi",
        papers=[],
        composed_at=now,
    )
    assert store.claim_pending("host:123:abc", 600, now) is not None
    capsys.readouterr()
    assert main(["--config", str(inst.config), "status", "--now", now.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "fetch  ok" in out and "arxiv ok" in out
    assert "huggingface: ok" in out
    assert "Next fetch:" in out and ("EST" in out or "EDT" in out)
    assert "Pending deliveries: 1; failed: 0" in out
    assert "later@example.org: being sent by host:123:abc" in out
    assert "Next deliveries (1 due at the next tick):" in out
    assert "  now    now@example.org" in out
    assert "later@example.org (23:59 Pacific/Kiritimati)" in out


def test_log_json_flag_writes_one_json_object_per_line(
    ops_installation: Installation, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    inst = ops_installation
    add(store, "reader@example.org", dt.time(0, 0), "UTC")
    now = at_utc(12)
    fetch(inst, store, now)
    capsys.readouterr()
    tick_now = ["tick", "--now", now.isoformat()]
    assert main(["--config", str(inst.config), "--log-json", *tick_now]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    events = [entry["event"] for entry in lines]
    assert events == ["digest_composed", "delivered", "tick_finished"]
    delivered = lines[1]
    assert delivered["recipient"] == "reader@example.org"
    assert delivered["message_id"].startswith("<digest.")
    assert delivered["level"] == "info" and delivered["logger"] == "digest.delivery"
    # The readable default says the same in words.
    assert main(["--config", str(inst.config), *tick_now]) == 0
    assert capsys.readouterr().err == ""  # nothing left to do: an idle tick is quiet


def test_tick_with_fetch_is_the_cron_form_of_the_scheduler(
    ops_installation: Installation, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    inst = ops_installation
    add(store, "reader@example.org", dt.time(0, 0), "UTC")
    now = at_utc(12)
    serve_small(inst, now.date())
    assert main(["--config", str(inst.config), "tick", "--fetch", "--now", now.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "source arxiv ok" in out and "delivered 1 digests" in out
    assert [m.rcpt_tos for m in inst.smtp.handler.received] == [["reader@example.org"]]
    assert [run.kind for run in store.recent_runs()] == ["tick", "fetch"]


def test_nothing_new_at_their_time_closes_the_day_and_late_papers_wait_for_tomorrow(
    ops_installation: Installation, store: Store
) -> None:
    inst = ops_installation
    reader = add(store, "reader@example.org", dt.time(7, 0), "UTC")
    assert reader.id is not None
    # 07:05 on the 28th: their time, and the store holds no paper yet.
    assert tick(inst, store, at_utc(7, 5)) == []
    closed = store.outbox_for(reader.id, dt.date(2024, 11, 28))
    assert closed is not None and closed.state is DeliveryState.CLOSED
    runs = len(store.recent_runs(50))

    fetch(inst, store, at_utc(8, 0))  # papers arrive after their time
    for hour in (8, 12, 18, 23):
        assert tick(inst, store, at_utc(hour, 5)) == []  # not mailed late, not composed again
    assert len(store.recent_runs(50)) == runs + 1  # the fetch; the idle ticks left no trace

    assert tick(inst, store, at_utc(7, 5, day=29)) == ["reader@example.org"]
    (mail,) = inst.smtp.handler.to("reader@example.org")
    assert "arxiv.org/abs/" in mail.data.decode("utf-8", "replace")
