"""Claims, leases and the schema upgrade that brought them, on real SQLite files."""

from __future__ import annotations

import datetime as dt
import io
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.models import Profile, Subscriber, Term, Topic
from digest.store.sqlite import MIGRATIONS, SqliteStore
from digest.util.progress import Progress

NOW = dt.datetime(2024, 11, 28, 12, 0, tzinfo=dt.UTC)
PROFILE = Profile(topics=(Topic("main", (Term("x"),)),))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "digest.sqlite3"


@pytest.fixture
def store(path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore.open(path)
    yield opened
    opened.close()


def queue(store: SqliteStore, count: int) -> None:
    for number in range(count):
        saved = store.save_subscriber(Subscriber(f"r{number}@example.org", PROFILE))
        assert saved.id is not None
        store.enqueue(
            subscriber_id=saved.id,
            recipient=saved.email,
            day=NOW.date(),
            message_id=f"<{number}@x>",
            message=b"Subject: s\r\n\r\nbody",
            papers=[(f"2401.{number:05d}", 1)],
            composed_at=NOW,
        )


def test_two_connections_claiming_at_once_never_get_the_same_message(
    store: SqliteStore, path: Path
) -> None:
    queue(store, 40)
    taken: dict[str, list[int]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def worker(name: str) -> None:
        own = SqliteStore.open(path)
        try:
            start.wait()
            last = 0
            while (item := own.claim_pending(name, 60, NOW, after_id=last)) is not None:
                taken[name].append(item.id)
                last = item.id
        finally:
            own.close()

    threads = [threading.Thread(target=worker, args=(name,)) for name in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(taken["a"]).isdisjoint(taken["b"])
    assert sorted(taken["a"] + taken["b"]) == [item.id for item in store.pending()]


def test_an_expired_claim_is_taken_over_and_a_released_one_at_once(store: SqliteStore) -> None:
    queue(store, 1)
    first = store.claim_pending("crashed", 60, NOW)
    assert first is not None
    assert store.claim_pending("other", 60, NOW + dt.timedelta(seconds=59)) is None
    again = store.claim_pending("other", 60, NOW + dt.timedelta(seconds=61))
    assert again is not None and again.id == first.id
    (claim,) = store.claims()
    assert claim.owner == "other"
    assert store.release_claims("other") == 1
    assert store.claims() == []
    assert store.claim_pending("third", 60, NOW) is not None
    store.mark_sent(first.id)
    assert store.claims() == [] and store.pending() == []


def test_a_job_lease_keeps_a_second_owner_out_until_it_expires(store: SqliteStore) -> None:
    assert store.acquire_lease("fetch", "a", 60, NOW)
    assert store.acquire_lease("fetch", "a", 60, NOW)  # the owner may renew
    assert not store.acquire_lease("fetch", "b", 60, NOW + dt.timedelta(seconds=30))
    assert store.acquire_lease("fetch", "b", 60, NOW + dt.timedelta(seconds=61))
    store.release_lease("fetch", "a")  # not the owner any more: no effect
    assert not store.acquire_lease("fetch", "a", 60, NOW + dt.timedelta(seconds=62))
    store.release_lease("fetch", "b")
    assert store.acquire_lease("fetch", "a", 60, NOW + dt.timedelta(seconds=62))


def test_a_version_one_database_is_upgraded_and_its_pending_mail_still_goes(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    db.execute(
        "INSERT INTO subscribers (email, profile, deliver_at, timezone, created_at, updated_at) "
        "VALUES ('old@example.org', '{\"topics\": []}', '07:00', 'UTC', 'x', 'x')"
    )
    db.execute(
        "INSERT INTO outbox (subscriber_id, recipient, day, message_id, message, paper_ids, "
        "created_at, updated_at) VALUES (1, 'old@example.org', '2024-11-27', '<m@x>', x'00', "
        "'[]', 'x', 'x')"
    )
    db.execute(
        "INSERT INTO runs (started, finished, day, ok, report) VALUES "
        "('2024-11-27T06:00:00+00:00', '2024-11-27T06:01:00+00:00', '2024-11-27', 1, '{}')"
    )
    db.commit()
    db.close()

    store = SqliteStore.open(path)
    try:
        item = store.claim_pending("w", 60, NOW)
        assert item is not None and item.recipient == "old@example.org"
        (run,) = store.recent_runs(1)
        assert run.kind == "run" and run.report.day == dt.date(2024, 11, 27)
        assert store.digest_days([dt.date(2024, 11, 27)]) == {(1, dt.date(2024, 11, 27))}
    finally:
        store.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    check.close()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_only_on_a_terminal() -> None:
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        progress = Progress("sending", 2, stream=stream)
        progress.step("a@example.org")
        progress.step("b@example.org")
        progress.finish()
    assert "\rsending 1/2 a@example.org" in terminal.getvalue()
    assert "\rsending 2/2 b@example.org" in terminal.getvalue()
    assert terminal.getvalue().endswith("\r")
    assert pipe.getvalue() == ""
