"""`python scheduler.py` as a real process: it catches up, delivers what is due, stops cleanly."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import threading
from zoneinfo import ZoneInfo

from support.children import REPO, child_env, serve_today
from support.installation import ALICE_WORDS, Installation
from support.stores import opened_store

from digest.config.load import load_settings
from digest.config.profiles import profile_from_options
from digest.jobs.schedule import latest_delivery_day
from digest.models import Subscriber
from scheduler import build_scheduler


def start_scheduler(inst: Installation) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(REPO / "scheduler.py"), "--config", str(inst.config), "--log-json"],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_mail(inst: Installation, count: int, timeout: float = 60.0) -> None:
    inst.smtp.handler.wait_for(count, timeout)


def stop(child: subprocess.Popen[str]) -> tuple[int, list[dict[str, object]]]:
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=60)
    return child.returncode, [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_jobs_coalesce_never_overlap_and_fetch_after_the_sources_update(
    ops_installation: Installation,
) -> None:
    settings = load_settings(ops_installation.config, env={})
    scheduler = build_scheduler(settings, threading.Event())
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"fetch", "tick", "catch-up"}
    assert all(job.coalesce and job.max_instances == 1 for job in jobs.values())
    assert jobs["fetch"].misfire_grace_time == 6 * 3600  # asleep at fetch time: runs on waking
    assert jobs["tick"].trigger.interval == dt.timedelta(minutes=1)
    after = dt.datetime(2024, 11, 28, 12, 0, tzinfo=dt.UTC)
    fire = jobs["fetch"].trigger.get_next_fire_time(None, after)
    assert fire.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M") == "12:30"


def test_scheduler_delivers_what_is_due_and_stops_cleanly_on_sigterm(
    ops_installation: Installation,
) -> None:
    inst = ops_installation
    now = dt.datetime.now(dt.UTC)
    profile = profile_from_options(list(ALICE_WORDS))
    with opened_store(inst.database) as store:
        # Subscribed two days ago: today's 00:00 moment is theirs.
        created = now - dt.timedelta(days=2)
        store.save_subscriber(
            Subscriber("due@example.org", profile, dt.time(0, 0), "UTC", created=created)
        )
        # Already had the digest of their latest delivery time: nothing due until the next one.
        later = store.save_subscriber(Subscriber("later@example.org", profile, dt.time(23, 59)))
        assert later.id is not None
        store.enqueue(
            subscriber_id=later.id,
            recipient=later.email,
            day=latest_delivery_day(later, now),
            message_id="<later@x>",
            message=b"Subject: earlier\r\n\r\nearlier",
            papers=[],
            composed_at=now,
        )
        store.mark_sent(store.pending()[0].id)
    serve_today(inst)

    child = start_scheduler(inst)
    wait_for_mail(inst, 1)
    status, logs = stop(child)

    assert status == 0
    assert [m.rcpt_tos for m in inst.smtp.handler.received] == [["due@example.org"]]
    events = [entry["event"] for entry in logs]
    assert events[0] == "scheduler_started"
    assert {"source", "fetch_finished", "digest_composed", "delivered"} <= set(events), events
    assert events[-1] == "scheduler_stopped", events
    with opened_store(inst.database, readonly=True) as store:
        assert [run.kind for run in store.recent_runs()] == ["tick", "fetch"]
