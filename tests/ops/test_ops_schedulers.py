"""`python scheduler.py` on two "machines" (two processes with different DIGEST_HOST_ID) on
one real PostgreSQL, their jobs' clock injected with --now: the day is fetched once, each
digest composed once and sent once, though both start, catch up and tick at the same time.

Without a tick waiting for the other machine's fetch, this fails: the machine that lost the
fetch lease ticks at once, finds no papers yet and closes every reader's day without mail.

Claims here last longer than any send (the unhurried installation): with the crash tests'
one-second lease, a send slowed past it on a loaded machine is taken over and sent again by
the other machine, which is the documented takeover of a stale claim, not what this tests.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import time
from collections import Counter

import psycopg
from support.children import REPO, child_env, serve_small
from support.installation import ALICE_WORDS, Installation
from support.stores import opened_store

from digest.config.profiles import profile_from_options
from digest.models import Subscriber

PEOPLE = [f"reader{n:02d}@example.org" for n in range(20)]
TIMEOUT = 90.0


def start_scheduler(
    inst: Installation, url: str, host: str, now: dt.datetime
) -> subprocess.Popen[str]:
    script = [sys.executable, str(REPO / "scheduler.py"), "--config", str(inst.config)]
    return subprocess.Popen(
        [*script, "--log-json", "--now", now.isoformat()],
        env=child_env(DIGEST_DATABASE_URL=url, DIGEST_HOST_ID=host),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(child: subprocess.Popen[str]) -> list[dict[str, object]]:
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err[-3000:]
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_two_schedulers_on_two_machines_fetch_compose_and_send_each_digest_once(
    unhurried_ops_installation: Installation, postgres_url: str
) -> None:
    inst = unhurried_ops_installation
    day = dt.datetime.now(dt.UTC).date()
    now = dt.datetime.combine(day, dt.time(7, 10), dt.UTC)  # the injected clock starts here
    serve_small(inst, day)
    profile = profile_from_options(list(ALICE_WORDS))
    with opened_store(postgres_url) as store:
        for email in PEOPLE:
            # Subscribed two days before: today's 07:00 delivery is theirs.
            created = now - dt.timedelta(days=2)
            store.save_subscriber(Subscriber(email, profile, dt.time(7, 0), "UTC", created=created))

    schedulers = [
        start_scheduler(inst, postgres_url, host, now) for host in ("machine-a", "machine-b")
    ]
    try:
        deadline = time.monotonic() + TIMEOUT
        while len(inst.smtp.handler.received) < len(PEOPLE):
            assert time.monotonic() < deadline, f"{len(inst.smtp.handler.received)} arrived"
            time.sleep(0.05)
    finally:
        logs = [stop(child) for child in schedulers]

    received = inst.smtp.handler.received
    assert Counter(r for m in received for r in m.rcpt_tos) == Counter(PEOPLE)
    assert len({m.message["Message-ID"] for m in received}) == len(PEOPLE)
    events = [entry["event"] for log in logs for entry in log]
    assert events.count("fetch_finished") == 1, events  # the other one skipped or waited
    assert events.count("digest_composed") == len(PEOPLE)
    with psycopg.connect(postgres_url) as conn:
        outbox = conn.execute("SELECT day, state, count(*) FROM outbox GROUP BY 1, 2").fetchall()
        fetches = conn.execute("SELECT count(*) FROM runs WHERE kind = 'fetch'").fetchone()
        held = conn.execute(
            "SELECT (SELECT count(*) FROM outbox WHERE claimed_by IS NOT NULL), "
            "(SELECT count(*) FROM leases)"
        ).fetchone()
    assert outbox == [(day, "sent", len(PEOPLE))]
    assert fetches == (1,) and held == (0, 0)
