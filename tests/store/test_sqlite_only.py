"""What only the SQLite backend has: its file, its locks, its pragmas and its schema versions.

Everything a backend promises through the roles is in contract.py; these tests look at the
file underneath with a second, raw sqlite3 connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from digest.errors import ConfigError, StoreError
from digest.models import Profile, Subscriber, Term, Topic
from digest.store.sqlite import SqliteStore

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
    SqliteStore.open(path).close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    yield other
    other.execute("ROLLBACK")
    other.close()


def test_a_write_while_another_process_holds_the_lock_is_a_store_error(path: Path) -> None:
    SqliteStore.open(path).close()
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
    with closing(SqliteStore.open(path)) as store, pytest.raises(StoreError) as caught:
        store.set_meta("k", "v")
    assert str(caught.value) == LOCKED.format(path=path, wait="0.05")
    monkeypatch.setenv("DIGEST_BUSY_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="DIGEST_BUSY_TIMEOUT: 'soon' is not a number"):
        SqliteStore.open(path)
