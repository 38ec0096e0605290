"""What only the PostgreSQL backend has: its URL and password, its pool, a server that goes
away and comes back, its migrations, and SKIP LOCKED claims under many workers at once.

Everything a backend promises through the roles is in contract.py (test_postgres_store.py).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import closing

import psycopg
import pytest
from contract import NOON, queue, subscribe
from support.postgres import PASSWORD, Cluster
from support.stores import opened_store

from digest.errors import StoreError
from digest.store import open_store
from digest.store.postgres import PostgresStore
from digest.store.postgres_connection import display_url
from digest.store.postgres_schema import MIGRATIONS, SCHEMA_VERSION


@pytest.fixture
def store(postgres_url: str) -> Iterator[PostgresStore]:
    with closing(PostgresStore.open(postgres_url, wait=2)) as opened:
        yield opened


def test_display_url_leaves_the_password_out() -> None:
    assert display_url("postgresql://ada:s3cret@db.example.org:5433/digest") == (
        "postgresql://ada@db.example.org:5433/digest"
    )
    assert display_url("postgresql://ada@db/digest") == "postgresql://ada@db/digest"
    assert display_url("postgresql://:pw@[::1]/d") == "postgresql://[::1]/d"


def test_a_wrong_password_is_a_store_error_naming_the_database_without_the_password(
    postgres: Cluster,
) -> None:
    url = postgres.url().replace(PASSWORD, "wrong-password")
    with pytest.raises(StoreError) as caught:
        open_store(url)
    text = str(caught.value)
    assert text.startswith(f"postgresql://digest@127.0.0.1:{postgres.port}/postgres: ")
    assert "password authentication failed" in text
    assert "wrong-password" not in text and PASSWORD not in text
    assert isinstance(caught.value.__cause__, psycopg.Error)


def test_the_password_may_come_from_the_environment(
    postgres: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    with opened_store(postgres.fresh_database().replace(f":{PASSWORD}@", "@")) as store:
        assert store.subscribers() == []


def test_no_server_there_is_a_store_error(postgres: Cluster) -> None:
    url = f"postgresql://digest:{PASSWORD}@127.0.0.1:1/nowhere"
    with pytest.raises(StoreError, match=r"^postgresql://digest@127\.0\.0\.1:1/nowhere: "):
        PostgresStore.open(url, wait=1)


def test_an_empty_database_is_migrated_once_even_by_two_stores_opening_at_once(
    postgres: Cluster,
) -> None:
    url = postgres.empty_database()
    errors: list[BaseException] = []

    def open_and_close() -> None:
        try:
            with opened_store(url):
                pass
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=open_and_close) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with psycopg.connect(url) as conn:
        versions = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert [v for (v,) in versions] == list(range(1, len(MIGRATIONS) + 1))


def test_readonly_refuses_an_old_schema_and_a_newer_one_is_refused(postgres: Cluster) -> None:
    url = postgres.empty_database()
    with pytest.raises(StoreError, match="run `digest db upgrade`"):
        open_store(url, readonly=True)
    with opened_store(url):
        pass
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_version VALUES (%s)", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="newer than this digest understands"):
        open_store(url)


def test_timestamps_are_timestamptz_and_read_back_in_utc(
    store: PostgresStore, postgres_url: str
) -> None:
    sub = subscribe(store, "ada@example.org")
    berlin = dt.timezone(dt.timedelta(hours=1))
    queue(store, sub, composed_at=NOON.astimezone(berlin))
    with psycopg.connect(postgres_url) as conn:
        (kind,) = conn.execute(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_name = 'outbox' AND column_name = 'created_at'"
        ).fetchone() or ("",)
    assert kind == "timestamp with time zone"
    assert sub.id is not None
    last = store.last_digest_at(sub.id)
    assert last == NOON and last is not None and last.tzinfo == dt.UTC


def test_the_pool_serves_threads_beyond_its_size(postgres_url: str) -> None:
    with closing(PostgresStore.open(postgres_url, pool_size=2)) as store:
        subscribe(store, "ada@example.org")
        counts: list[int] = []

        def read() -> None:
            for _ in range(20):
                counts.append(len(store.subscribers()))

        threads = [threading.Thread(target=read) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert counts == [1] * 120


def test_a_restarted_server_is_reconnected_to_and_a_down_one_is_a_store_error(
    postgres: Cluster, store: PostgresStore
) -> None:
    subscribe(store, "ada@example.org")
    postgres.restart()  # every pooled connection is now dead
    assert [s.email for s in store.subscribers()] == ["ada@example.org"]
    postgres.stop("immediate")
    try:
        with pytest.raises(StoreError) as caught:
            store.subscribers()
        assert str(caught.value).startswith(display_url(store.pool.url) + ": ")
        assert PASSWORD not in str(caught.value)
    finally:
        postgres.start()
    subscribe(store, "bob@example.org")
    assert len(store.subscribers()) == 2


def test_many_workers_claiming_at_once_each_get_distinct_messages_and_miss_none(
    store: PostgresStore, postgres_url: str
) -> None:
    for number in range(300):
        queue(store, subscribe(store, f"r{number}@example.org"), [(f"2401.{number:05d}", 1)])
    taken: dict[str, list[int]] = {f"w{n}": [] for n in range(8)}
    start = threading.Barrier(len(taken))

    def worker(name: str) -> None:
        with closing(PostgresStore.open(postgres_url, pool_size=1)) as own:
            start.wait()
            last = 0
            while (item := own.claim_pending(name, 60, NOON, after_id=last)) is not None:
                taken[name].append(item.id)
                last = item.id

    threads = [threading.Thread(target=worker, args=(name,)) for name in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [oid for ids in taken.values() for oid in ids]
    assert len(every) == len(set(every)) == 300  # none twice, none left behind
    assert sorted(every) == [item.id for item in store.pending()]
    assert {claim.owner for claim in store.claims()} <= set(taken)
