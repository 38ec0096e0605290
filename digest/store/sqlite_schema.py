"""The SQLite schema: its numbered migrations, and bringing a file up to date when it opens.

Only the SQLite backend reads this; another backend keeps its own DDL (its types differ), but
the tables mean the same (see digest.store.sqlite for what the outbox and ledger guarantee).
"""

from __future__ import annotations

import sqlite3

from digest.errors import StoreError
from digest.store.sqlite_connection import Connection

# Each entry moves the schema one version up; never edit a released entry, add a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE papers (
        id TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        version INTEGER,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL
    );
    CREATE INDEX papers_first_seen ON papers(first_seen);
    CREATE INDEX papers_last_seen ON papers(last_seen);

    CREATE TABLE subscribers (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        profile TEXT NOT NULL,
        deliver_at TEXT NOT NULL,
        timezone TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );

    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers(id),
        recipient TEXT NOT NULL,
        day TEXT NOT NULL,
        message_id TEXT NOT NULL,
        message BLOB NOT NULL,
        paper_ids TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (subscriber_id, day)
    );
    CREATE INDEX outbox_state ON outbox(state);

    CREATE TABLE ledger (
        subscriber_id INTEGER NOT NULL REFERENCES subscribers(id),
        paper_id TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 0,
        outbox_id INTEGER NOT NULL REFERENCES outbox(id),
        sent_at TEXT,
        PRIMARY KEY (subscriber_id, paper_id)
    ) WITHOUT ROWID;

    CREATE TABLE sources (
        name TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        etag TEXT,
        last_modified TEXT,
        last_state TEXT,
        last_detail TEXT NOT NULL DEFAULT '',
        last_ok_day TEXT,
        updated_at TEXT NOT NULL
    );

    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started TEXT NOT NULL,
        finished TEXT NOT NULL,
        day TEXT NOT NULL,
        ok INTEGER NOT NULL,
        report TEXT NOT NULL
    );

    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 2: several workers on one database. A worker claims a pending message for a lease
    # before sending it, so two processes never send the same one; a crashed worker's claim
    # expires and the message is taken up again. `leases` keeps two processes from running
    # the same job (a fetch) at once. Runs say what kind of job they were and how the
    # operator alert went.
    """
    ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
    ALTER TABLE outbox ADD COLUMN claimed_until TEXT;
    ALTER TABLE outbox ADD COLUMN sent_at TEXT;
    CREATE INDEX outbox_day ON outbox(day);

    CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        until TEXT NOT NULL
    );

    ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'run';
    ALTER TABLE runs ADD COLUMN alert TEXT NOT NULL DEFAULT '';
    """,
    # 3: sentence embeddings for semantic matching, computed once per paper (and per profile
    # version, keyed "profile:<hash>") and shared by every subscriber. Vectors are opaque
    # bytes here; digest.semantic owns their format.
    """
    CREATE TABLE embeddings (
        paper_id TEXT NOT NULL,
        model TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (paper_id, model)
    ) WITHOUT ROWID;
    """,
    # 4: marking a message sent stamps its papers' ledger rows by outbox id; without an index
    # that scanned the whole ledger once per message (quadratic in a day's digests).
    """
    CREATE INDEX ledger_outbox ON ledger(outbox_id);
    """,
    # 5: subscribers serve themselves (the web pages). A subscription has a state (pending
    # until the confirmation link is used, active, paused, unsubscribed; `active` stays the
    # "gets digests" flag); addresses are one subscriber whatever their case (email_key, the
    # lower-cased address, is unique; the first spelling is kept for sending; of rows that
    # already differ only in case the active, else oldest, one keeps the key and the others
    # are retired). Votes: "more like this" / "not for me", one per subscriber and paper.
    """
    ALTER TABLE subscribers ADD COLUMN state TEXT NOT NULL DEFAULT 'active';
    UPDATE subscribers SET state = 'unsubscribed' WHERE active = 0;
    ALTER TABLE subscribers ADD COLUMN email_key TEXT NOT NULL DEFAULT '';
    UPDATE subscribers SET email_key = lower(email);
    UPDATE subscribers SET email_key = email_key || ' #' || id, state = 'unsubscribed',
        active = 0
        WHERE id <> (SELECT t.id FROM subscribers AS t
                     WHERE lower(t.email) = lower(subscribers.email)
                     ORDER BY t.active DESC, t.id LIMIT 1);
    CREATE UNIQUE INDEX subscribers_email_key ON subscribers(email_key);
    ALTER TABLE subscribers ADD COLUMN confirm_nonce TEXT;
    ALTER TABLE subscribers ADD COLUMN pending_until TEXT;
    ALTER TABLE subscribers ADD COLUMN confirmed_at TEXT;
    CREATE INDEX subscribers_state ON subscribers(state);

    CREATE TABLE votes (
        subscriber_id INTEGER NOT NULL REFERENCES subscribers(id),
        paper_id TEXT NOT NULL,
        vote TEXT NOT NULL CHECK (vote IN ('up', 'down')),
        at TEXT NOT NULL,
        PRIMARY KEY (subscriber_id, paper_id)
    ) WITHOUT ROWID;
    """,
    # 6: corpus statistics per day (digest.store.roles.CorpusCounts): a day's paper count,
    # words per field and stem -> papers (JSON objects), and the day each paper is counted on.
    """
    CREATE TABLE corpus_days (
        day TEXT PRIMARY KEY,
        documents INTEGER NOT NULL,
        words TEXT NOT NULL,
        doc_freq TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE corpus_papers (
        paper_id TEXT PRIMARY KEY,
        day TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 7: a run is written when it starts (RUNNING, with the host and pid of its process) and
    # ended with its report, so a killed run shows in the history instead of leaving none;
    # rows from before were written finished.
    """
    ALTER TABLE runs ADD COLUMN state TEXT NOT NULL DEFAULT 'finished';
    ALTER TABLE runs ADD COLUMN host TEXT NOT NULL DEFAULT '';
    ALTER TABLE runs ADD COLUMN pid INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX runs_running ON runs(id) WHERE state = 'running';
    """,
    # 8: the mail provider's limits, shared by every process (digest.store.window): the
    # per-second pace (when the next message may go) and the day's sends counted per minute.
    # Pruning empties old sent messages' bodies: an index finds the ones not pruned yet.
    """
    CREATE TABLE send_pace (
        name TEXT PRIMARY KEY,
        next_at TEXT
    );
    INSERT INTO send_pace (name, next_at) VALUES ('smtp', NULL);
    CREATE TABLE send_counts (
        start TEXT PRIMARY KEY,
        sent INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX outbox_unpruned ON outbox(sent_at) WHERE state = 'sent' AND length(message) > 0;
    """,
    # 9: a message's bytes in a table of their own. SQLite rewrites a whole row, overflow
    # pages and all, on every UPDATE, so with the body in the outbox row a claim and marking
    # it sent each wrote the ~100 kB message again; now it is written once. The outbox's
    # message column stays, empty (older rows' bodies moved here); pruning deletes bodies.
    """
    CREATE TABLE outbox_bodies (
        outbox_id INTEGER PRIMARY KEY REFERENCES outbox(id),
        message BLOB NOT NULL
    );
    INSERT INTO outbox_bodies (outbox_id, message)
        SELECT id, message FROM outbox WHERE length(message) > 0;
    UPDATE outbox SET message = x'' WHERE length(message) > 0;
    DROP INDEX outbox_unpruned;
    """,
    # 10: a ledger row is sent when its outbox row is (sqlite_batches.SENT_AT): marking a
    # message sent no longer stamps its papers' rows by outbox id, so migration 4's index,
    # one more b-tree entry for every paper of every digest written, has no reader left.
    """
    DROP INDEX ledger_outbox;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: Connection) -> None:
    """Apply the migrations this file lacks; refuse a file newer than this code."""
    # The usual open finds the schema current and takes no write lock: opening a store does
    # not queue behind another process's write.
    if _checked_version(db, _version(db)) == SCHEMA_VERSION:
        return
    with db.transaction() as tx:
        # Read again under the write lock: another process may have upgraded meanwhile.
        version = _checked_version(db, _version(db))
        for number in range(version, SCHEMA_VERSION):
            _apply(tx, MIGRATIONS[number])
            tx.execute(f"PRAGMA user_version = {number + 1}")


def check_current(db: Connection) -> None:
    """A read-only open cannot upgrade: say which command will."""
    version = _version(db)
    if version != SCHEMA_VERSION:
        raise StoreError(
            f"{db.name}: database schema is version {version}, this digest needs "
            f"{SCHEMA_VERSION}; run any write command (e.g. `digest subscribers`) to upgrade"
        )


def _version(db: Connection) -> int:
    row = db.one("PRAGMA user_version")
    return int(row[0]) if row else 0


def _checked_version(db: Connection, version: int) -> int:
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{db.name}: database schema version {version} is newer than this "
            f"digest understands ({SCHEMA_VERSION}); upgrade digest"
        )
    return version


def _apply(tx: sqlite3.Connection, script: str) -> None:
    # Statement by statement: executescript() would COMMIT the open transaction first.
    for statement in script.split(";"):
        if statement.strip():
            tx.execute(statement)
