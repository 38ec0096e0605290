"""The mail provider's limits held for every worker together, in the database: three
`digest worker` processes on one real PostgreSQL sending to one real SMTP sink.

Per second: a slot is reserved in the store before each message is claimed and the
connection waits for it, so the slots of all workers are spaced 1/max_per_second apart and
any one second holds at most max_per_second of them. The sink's receive times can bunch
only by messages that had their slot before the second began and were still on the way:
each is on an SMTP connection of its own, so any second of the sink holds at most
max_per_second + (all the workers' connections). That bound is what the test asserts.

Per day: exactly the cap arrives, the rest stay pending (the report and `digest status` say
how many wait and when the window opens), and a day later (the workers' clock moved on with
--now) the rest go out, each once.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from support.children import child_env, digest_command, run_digest, wait_all
from support.postgres import Cluster
from support.queued import queue_messages
from support.smtp_server import RecordingHandler, SmtpSink
from support.stores import opened_store

from digest.deliver.delivery import SLOT_BATCH

WORKERS = 3
CONNECTIONS = 1  # per worker
PER_SECOND = 20
TIMEOUT = 120.0


@dataclass
class TimedHandler(RecordingHandler):
    """Also keeps when each message was accepted (before the 250 goes back)."""

    arrivals: list[float] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        with self.lock:
            self.arrivals.append(time.monotonic())
        return reply


@dataclass
class Senders:
    url: str
    config: Path
    smtp: SmtpSink
    handler: TimedHandler
    logs: Path

    def start(self, *args: str) -> subprocess.Popen[str]:
        command = digest_command(
            self.config, "worker", "--until-done", "--no-fetch", "--pause", "0.2", *args
        )
        log = self.logs / f"worker-{len(list(self.logs.iterdir()))}.log"
        with log.open("w") as sink:
            return subprocess.Popen(
                command,
                env=child_env(DIGEST_DATABASE_URL=self.url),
                stdout=sink,
                stderr=subprocess.STDOUT,
                text=True,
            )

    def run_fleet(self, *args: str) -> None:
        wait_all([self.start(*args) for _ in range(WORKERS)], TIMEOUT, self.tail)

    def tail(self) -> str:
        return "\n".join(f"{p.name}: {p.read_text()[-1500:]}" for p in self.logs.iterdir())

    def recipients(self) -> list[str]:
        return self.handler.recipients()

    def status(self) -> str:
        done = run_digest(self.config, "status", DIGEST_DATABASE_URL=self.url)
        assert done.returncode == 0, done.stderr
        return done.stdout


def make_senders(tmp_path: Path, url: str, limits: str) -> Senders:
    handler = TimedHandler()
    smtp = SmtpSink(handler)
    config = tmp_path / "digest.toml"
    config.write_text(
        f"""
[digest]
data_dir = "state"
semantic = false
compose_workers = 1

[email]
from = "Paper Digest <digest@example.org>"

[smtp]
host = "127.0.0.1"
port = {smtp.port}
security = "plain"
timeout = 5
connections = {CONNECTIONS}
{limits}

[schedule]
lease_seconds = 5
""",
        encoding="utf-8",
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    return Senders(url, config, smtp, handler, logs)


@pytest.fixture
def paced(tmp_path: Path, postgres: Cluster) -> Iterator[Senders]:
    senders = make_senders(tmp_path, postgres.fresh_database(), f"max_per_second = {PER_SECOND}")
    try:
        yield senders
    finally:
        senders.smtp.close()


@pytest.fixture
def capped(tmp_path: Path, postgres: Cluster) -> Iterator[Senders]:
    senders = make_senders(tmp_path, postgres.fresh_database(), "max_per_day = 60")
    try:
        yield senders
    finally:
        senders.smtp.close()


def busiest_second(arrivals: list[float]) -> int:
    """The most arrivals in any half-open one-second window."""
    times = sorted(arrivals)
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def outbox_states(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())


def test_three_workers_together_keep_max_per_second(paced: Senders) -> None:
    emails = queue_messages(paced.url, 200)
    paced.run_fleet()
    assert sorted(paced.recipients()) == emails  # each once
    with paced.handler.lock:
        arrivals = list(paced.handler.arrivals)
    # Slots: at most PER_SECOND in any second; the sink may see at most one more per
    # connection (a message whose slot came before the second, still on its way).
    assert busiest_second(arrivals) <= PER_SECOND + WORKERS * CONNECTIONS, busiest_second(arrivals)
    assert outbox_states(paced.url) == {"sent": 200}


def test_the_daily_cap_holds_across_workers_and_the_rest_go_the_next_day(
    capped: Senders,
) -> None:
    emails = queue_messages(capped.url, 100)
    capped.run_fleet()
    first_day = capped.recipients()
    assert len(first_day) == 60 and len(set(first_day)) == 60, capped.tail()
    assert outbox_states(capped.url) == {"sent": 60, "pending": 40}
    waiting = re.compile(r"(\d+) digests wait for the daily sending window \(next slot at (.+)\)")
    status = capped.status()
    found = waiting.search(status)
    assert found is not None and found.group(1) == "40", status
    with opened_store(capped.url) as store:
        notes = [n for run in store.recent_runs(20) for n in run.report.notes]
    counts = [int(m.group(1)) for note in notes if (m := waiting.search(note))]
    # A worker's note is a snapshot taken when it is done, while the others may still work:
    # fewer, by the claims another holds and is giving back (one per connection); more, by
    # messages another sends a moment later in slots it had already reserved (up to a batch
    # each) or had claimed between the note's two reads. `digest status` above, after every
    # worker ended, is the exact count.
    spread = WORKERS * max(CONNECTIONS, SLOT_BATCH)
    assert counts and all(40 - WORKERS * CONNECTIONS <= n <= 40 + spread for n in counts), notes

    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1, minutes=10)
    capped.run_fleet("--now", tomorrow.isoformat())
    received = Counter(capped.recipients())
    assert sorted(received) == emails and set(received.values()) == {1}
    assert outbox_states(capped.url) == {"sent": 100}
