"""What only the SQLite backend has: its file, its locks, its pragmas and its schema versions.

Everything a backend promises through the roles is in contract.py; these tests look at the
file underneath with a second, raw sqlite3 connection.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from support.stores import opened_store, sqlite_url

from digest.errors import ConfigError, StoreError
from digest.models import Profile, Subscriber, Term, Topic
from digest.store import open_store
from digest.store.sqlite import MIGRATIONS, SqliteStore
from digest.store.sqlite_batches import SENT_AT

PROFILE = Profile(topics=(Topic("main", (Term("diffusion"),)),))
LOCKED = (
    "{path}: the database is locked by another process (waited {wait} s); "
    "try again when the other digest process has finished"
)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "digest.sqlite3"


@pytest.fixture
def write_lock(path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's write transaction on the (migrated) file, held for the test."""
    with opened_store(path):
        pass
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    yield other
    other.execute("ROLLBACK")
    other.close()


def test_a_write_while_another_process_holds_the_lock_is_a_store_error(path: Path) -> None:
    with opened_store(path):
        pass
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    # Opening needs no write lock when the schema is current.
    with closing(SqliteStore.open(path, busy_timeout=0.05)) as store:
        with pytest.raises(StoreError) as caught:
            store.save_subscriber(Subscriber("ada@example.org", PROFILE))
        assert str(caught.value) == LOCKED.format(path=path, wait="0.05")
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        assert store.subscribers() == []  # readers never wait for the writer (WAL)
        other.execute("ROLLBACK")
        other.close()
        # The failed write left no transaction half-open: the next one goes through.
        store.save_subscriber(Subscriber("ada@example.org", PROFILE))
        assert [s.email for s in store.subscribers()] == ["ada@example.org"]


def test_the_wait_for_a_lock_comes_from_the_environment_by_default(
    path: Path, write_lock: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_BUSY_TIMEOUT", "0.05")
    with opened_store(path) as store, pytest.raises(StoreError) as caught:
        store.set_meta("k", "v")
    assert str(caught.value) == LOCKED.format(path=path, wait="0.05")
    monkeypatch.setenv("DIGEST_BUSY_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="DIGEST_BUSY_TIMEOUT: 'soon' is not a number"):
        open_store(path)


# -- schema versions -------------------------------------------------------------------------


def test_migrations_set_the_schema_version(path: Path) -> None:
    with opened_store(path):
        pass
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    db.close()
    # Opening again migrates nothing and keeps data.
    with opened_store(path) as again:
        again.set_meta("k", "v")
    with opened_store(path) as third:
        assert third.subscribers() == [] and third.meta("k") == "v"


def test_newer_schema_is_refused(path: Path) -> None:
    path.parent.mkdir()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer than this digest understands"):
        open_store(path)
    with pytest.raises(StoreError, match=f"is version {len(MIGRATIONS) + 1}, this digest needs"):
        open_store(path, readonly=True)


def test_a_version_one_database_is_upgraded_and_its_pending_mail_still_goes(path: Path) -> None:
    path.parent.mkdir()
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

    with pytest.raises(StoreError, match=r"is version 1, .* run any write command"):
        open_store(path, readonly=True)  # a preview cannot upgrade; it says what will
    now = dt.datetime(2024, 11, 28, 12, 0, tzinfo=dt.UTC)
    with opened_store(path) as store:
        item = store.claim_pending("w", 60, now)
        assert item is not None and item.recipient == "old@example.org"
        (run,) = store.recent_runs(1)
        assert run.kind == "run" and run.report.day == dt.date(2024, 11, 27)
        assert run.report.started == dt.datetime(2024, 11, 27, 6, 0, tzinfo=dt.UTC)
        assert store.digest_days([dt.date(2024, 11, 27)]) == {(1, dt.date(2024, 11, 27))}
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    check.close()


# -- the file --------------------------------------------------------------------------------


def test_the_queries_run_per_message_use_an_index(path: Path) -> None:
    # A full scan per message is quadratic over a day of thousands of digests.
    with opened_store(path):
        pass
    db = sqlite3.connect(path)
    per_message = {
        "sent when": f"SELECT {SENT_AT.format(ledger='l')} FROM ledger l "
        "WHERE l.subscriber_id = 1 AND l.paper_id = ''",
        "mark sent (outbox)": "UPDATE outbox SET state = 'sent' WHERE id = 1",
        "already composed": "SELECT id FROM outbox WHERE subscriber_id = 1 AND day = ''",
        "sent before": "SELECT version FROM ledger WHERE subscriber_id = 1 AND paper_id = ''",
    }
    for name, query in per_message.items():
        plan = " ".join(row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + query))
        assert "SCAN" not in plan, f"{name}: {plan}"
    db.close()


def test_marking_a_message_sent_rewrites_its_row_and_no_ledger_row(path: Path) -> None:
    """Its papers are sent with it (SENT_AT): one row written per message, whatever it lists."""
    now = dt.datetime(2024, 11, 28, 12, 0, tzinfo=dt.UTC)
    papers = [(f"2411.{n:05d}", 1) for n in range(40)]
    with opened_store(path) as store:
        sub = store.save_subscriber(Subscriber("a@example.org", Profile(topics=())))
        assert sub.id is not None
        item = store.enqueue(
            subscriber_id=sub.id,
            recipient=sub.email,
            day=now.date(),
            message_id="<m@x>",
            message=b"Subject: x\r\n\r\nbody\r\n",
            papers=papers,
            composed_at=now,
        )
        raw = store._db.raw
        before = raw.total_changes
        store.mark_sent_many([item.id])
        assert raw.total_changes - before == 1
        assert set(store.ledger_sent(sub.id, [p for p, _ in papers])) == {p for p, _ in papers}


def test_the_file_is_in_wal_mode_so_readers_never_block_the_writer(path: Path) -> None:
    with opened_store(path):
        pass
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_a_url_or_a_plain_path_opens_the_same_file(path: Path) -> None:
    with opened_store(sqlite_url(path)) as by_url:
        by_url.set_meta("k", "v")
    with opened_store(path) as by_path:
        assert by_path.meta("k") == "v"
    with pytest.raises(StoreError, match="a SQLite URL is sqlite:///path"):
        open_store("sqlite://digest.sqlite3")  # two slashes: a host, not a path
    with pytest.raises(StoreError, match="unknown database URL scheme 'mysql'"):
        open_store("mysql://localhost/digest")


# -- read-only opens -------------------------------------------------------------------------


def test_readonly_open_names_the_file_it_refuses_to_write(path: Path, tmp_path: Path) -> None:
    with opened_store(path) as store:
        store.save_subscriber(Subscriber("ada@example.org", PROFILE))
    with opened_store(path, readonly=True) as readonly:
        assert [s.email for s in readonly.subscribers()] == ["ada@example.org"]
        with pytest.raises(StoreError) as caught:
            readonly.set_meta("k", "v")
    assert str(caught.value).startswith(f"{path}: the database is open read-only here")
    assert "readonly" in str(caught.value)  # SQLite's own words stay in the message
    with pytest.raises(StoreError, match="no database here yet"):
        open_store(tmp_path / "absent.sqlite3", readonly=True)
    assert not (tmp_path / "absent.sqlite3").exists()


def test_a_closed_store_names_its_file(path: Path) -> None:
    with opened_store(path) as store:
        store.close()
        with pytest.raises(StoreError, match="Cannot operate on a closed database") as caught:
            store.subscribers()
    assert str(caught.value).startswith(f"{path}: database error: ")
