"""A command that meets a database another process is writing: one line, status 2."""

from __future__ import annotations

import sqlite3

from support.children import run_digest
from support.installation import Installation
from support.stores import opened_store


def test_a_locked_database_is_one_error_line_and_status_2(ops_installation: Installation) -> None:
    database = ops_installation.database
    with opened_store(database):
        pass  # the schema is in place before anyone locks it
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
    with opened_store(database, readonly=True) as store:
        assert store.subscribers() == []  # nothing half-done
