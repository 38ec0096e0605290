"""A command that meets a database another process is writing: one line, status 2."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from support.children import run_digest
from support.installation import Installation

from digest.store.sqlite import SqliteStore


def test_a_locked_database_is_one_error_line_and_status_2(ops_installation: Installation) -> None:
    database = ops_installation.database
    SqliteStore.open(database).close()
    other = sqlite3.connect(database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another digest process in the middle of a write
    try:
        result = run_digest(
            ops_installation.config,
            "subscribe",
            "ada@example.org",
            "-k",
            "diffusion",
            DIGEST_BUSY_TIMEOUT="0.1",
        )
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"digest: error: {database}: the database is locked by another process (waited 0.1 s); "
        "try again when the other digest process has finished"
    ]
    assert result.stdout == ""
    with closing(SqliteStore.open_readonly(database)) as store:
        assert store.subscribers() == []  # nothing half-done
