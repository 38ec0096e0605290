"""Pruning the outbox: old sent messages' bodies are emptied, on PostgreSQL by a worker pass a
month later and on SQLite by `digest db prune`; who was sent what stays, nothing is sent again.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess

import psycopg
from support.children import child_env, digest_command, run_digest
from support.installation import Installation
from support.queued import queue_messages

from digest.store.postgres_batches import SENT_AT as PG_SENT_AT
from digest.store.sqlite_batches import SENT_AT

PAPERS = ("2411.00001", "2411.00002")


def worker(inst: Installation, url: str, *args: str) -> None:
    done = subprocess.run(
        digest_command(inst.config, "worker", "--until-done", "--no-fetch", "--pause", "0.1")
        + list(args),
        env=child_env(DIGEST_DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def bodies(url: str) -> list[tuple[str, int]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT state, octet_length(message) FROM outbox ORDER BY id"
        ).fetchall()


def test_a_worker_pass_a_month_later_empties_old_bodies_and_sends_nothing_again(
    ops_installation: Installation, postgres_url: str
) -> None:
    inst = ops_installation
    emails = queue_messages(postgres_url, 12, PAPERS)
    worker(inst, postgres_url)
    assert sorted(inst.smtp.handler.recipients()) == emails
    assert all(state == "sent" and size > 0 for state, size in bodies(postgres_url))

    month_later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    worker(inst, postgres_url, "--now", month_later.isoformat())
    assert all(state == "sent" and size == 0 for state, size in bodies(postgres_url))
    with psycopg.connect(postgres_url) as conn:
        ledger = conn.execute(
            f"SELECT count(*), count({PG_SENT_AT.format(ledger='l')}) FROM ledger l "
            "WHERE paper_id = ANY(%s)",
            (list(PAPERS),),
        ).fetchone()
    assert ledger == (24, 24)  # every paper of every digest still known as sent
    assert len(inst.smtp.handler.received) == len(emails)  # nothing went out again
    done = run_digest(inst.config, "db", "prune", DIGEST_DATABASE_URL=postgres_url)
    assert done.returncode == 0 and "Emptied 0 sent messages" in done.stdout, done.stderr


def test_db_prune_empties_bodies_older_than_keep_days_on_sqlite(
    ops_installation: Installation,
) -> None:
    inst = ops_installation
    queue_messages(inst.database, 6, PAPERS)
    done = run_digest(inst.config, "retry")  # sends what is pending
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(inst.database) as db:
        old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).isoformat(timespec="microseconds")
        db.execute("UPDATE outbox SET sent_at = ? WHERE id <= 4", (old,))
    done = run_digest(inst.config, "db", "prune", "--keep-days", "2")
    assert done.returncode == 0, done.stderr
    assert "Emptied 4 sent messages" in done.stdout, done.stdout
    with sqlite3.connect(inst.database) as db:
        # The body is kept in outbox_bodies (SQLite migration 9): none there is a pruned one.
        sizes = db.execute(
            "SELECT o.id, coalesce(length(b.message), 0) FROM outbox o "
            "LEFT JOIN outbox_bodies b ON b.outbox_id = o.id ORDER BY o.id"
        ).fetchall()
        sent = db.execute(
            f"SELECT count(*) FROM ledger l WHERE {SENT_AT.format(ledger='l')} IS NOT NULL"
        ).fetchone()
    assert [size == 0 for _, size in sizes] == [True] * 4 + [False] * 2
    assert sent == (12,)
    again = run_digest(inst.config, "retry")
    assert again.returncode == 0 and len(inst.smtp.handler.received) == 6
    bad = run_digest(inst.config, "db", "prune", "--keep-days", "0")
    assert bad.returncode == 2 and "--keep-days is at least 1" in bad.stderr
