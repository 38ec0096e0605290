"""Persistent state: papers seen, subscribers, the ledger of what each was sent, the outbox.

This is the only module that speaks SQL. The pipeline talks to the `Store` protocol, so a
PostgreSQL store for several workers can be added beside `SqliteStore` without touching the
other stages.

Delivery semantics live in three tables:
- `outbox`: one rendered message per subscriber and day, pending -> sent | failed.
- `ledger`: (subscriber, paper) rows written in the same transaction as the outbox row, so a
  paper waiting in a pending message is never put into a second one; `sent_at` is filled
  only once the SMTP server accepted the message.
- A rerun finds the pending row and delivers that same message (same Message-ID) instead of
  rendering a new one, so a crash never produces a second, different digest.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from digest.config.profiles import profile_from_dict, profile_to_dict
from digest.errors import StoreError
from digest.models import (
    DeliveryOutcome,
    DeliveryState,
    OutboxItem,
    Paper,
    RunReport,
    SourceOutcome,
    SourceState,
    Subscriber,
    Validators,
)
from digest.store.codec import paper_from_json, paper_to_json
from digest.store.roles import (
    AlreadyQueued,
    Claim,
    RunRecord,
    SeenPaper,
    SourceRecord,
    SubscriberRecord,
    SubscriberState,
    Vote,
    VoteRecord,
)

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
)


def _stamp(moment: dt.datetime) -> str:
    # One fixed format (UTC, microseconds) so timestamps compare correctly as text.
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _now() -> str:
    return _stamp(dt.datetime.now(dt.UTC))


class SqliteStore:
    """The embedded default store: one SQLite file, WAL mode so readers never block the writer."""

    def __init__(self, connection: sqlite3.Connection, path: Path | None) -> None:
        self._db = connection
        self.path = path

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str) -> SqliteStore:
        file = Path(path)
        file.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(file, isolation_level=None, timeout=30.0)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as err:
            raise StoreError(f"{file}: cannot open database: {err}") from err
        store = cls(db, file)
        store._migrate()
        return store

    @classmethod
    def open_readonly(cls, path: Path | str) -> SqliteStore:
        """For previews: SQLite refuses every write, so a bug cannot mark anything as seen."""
        file = Path(path)
        if not file.exists():
            raise StoreError(f"{file}: no database here yet (subscribe someone first)")
        try:
            db = sqlite3.connect(
                f"{file.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None
            )
            version = db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as err:
            raise StoreError(f"{file}: cannot open database: {err}") from err
        if version != len(MIGRATIONS):
            raise StoreError(
                f"{file}: database schema is version {version}, this digest needs "
                f"{len(MIGRATIONS)}; run any write command (e.g. `digest subscribers`) to upgrade"
            )
        return cls(db, file)

    def _migrate(self) -> None:
        with self._transaction():
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"{self.path}: database schema version {version} is newer than this "
                    f"digest understands ({len(MIGRATIONS)}); upgrade digest"
                )
            for number in range(version, len(MIGRATIONS)):
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number + 1}")

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front: two processes never interleave a
        # read-then-write of the outbox.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- subscribers ---------------------------------------------------------------------

    def save_subscriber(self, subscriber: Subscriber) -> Subscriber:
        """Insert, or update the profile and delivery time of an existing address.

        Re-subscribing reactivates the row and keeps the ledger, so nobody is sent again
        what they already had.
        """
        profile = json.dumps(profile_to_dict(subscriber.profile), ensure_ascii=False)
        now = _now()
        with self._transaction() as db:
            db.execute(
                """
                INSERT INTO subscribers
                    (email, email_key, profile, deliver_at, timezone, active, state,
                     confirmed_at, created_at, updated_at)
                VALUES (?, lower(?), ?, ?, ?, 1, 'active', ?, ?, ?)
                ON CONFLICT (email_key) DO UPDATE SET
                    profile = excluded.profile, deliver_at = excluded.deliver_at,
                    timezone = excluded.timezone, active = 1, state = 'active',
                    confirm_nonce = NULL, pending_until = NULL,
                    confirmed_at = coalesce(subscribers.confirmed_at, excluded.confirmed_at),
                    updated_at = excluded.updated_at
                """,
                (
                    subscriber.email,
                    subscriber.email,
                    profile,
                    subscriber.deliver_at.strftime("%H:%M"),
                    subscriber.timezone,
                    now,
                    now,
                    now,
                ),
            )
        saved = self.subscriber(subscriber.email)
        assert saved is not None
        return saved

    def deactivate_subscriber(self, email: str) -> bool:
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE subscribers SET active = 0, state = 'unsubscribed', confirm_nonce = NULL, "
                "updated_at = ? WHERE email_key = lower(?) AND state <> 'unsubscribed'",
                (_now(), email),
            )
            return cursor.rowcount > 0

    def subscriber(self, email: str) -> Subscriber | None:
        row = self._db.execute(
            "SELECT id, email, profile, deliver_at, timezone, active FROM subscribers "
            "WHERE email_key = lower(?)",
            (email,),
        ).fetchone()
        return _subscriber(row) if row else None

    def subscribers(self, *, active_only: bool = True) -> list[Subscriber]:
        where = "WHERE active = 1" if active_only else ""
        rows = self._db.execute(
            "SELECT id, email, profile, deliver_at, timezone, active FROM subscribers "
            f"{where} ORDER BY id"
        ).fetchall()
        return [_subscriber(row) for row in rows]

    # -- papers --------------------------------------------------------------------------

    def save_papers(self, papers: Iterable[Paper], seen_at: dt.datetime) -> None:
        stamp = _stamp(seen_at)
        rows = [(p.id, paper_to_json(p), p.version, stamp, stamp) for p in papers]
        with self._transaction() as db:
            db.executemany(
                """
                INSERT INTO papers (id, data, version, first_seen, last_seen)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET
                    data = excluded.data, version = excluded.version,
                    last_seen = max(papers.last_seen, excluded.last_seen)
                """,
                rows,
            )

    def papers_by_id(self, ids: Iterable[str]) -> dict[str, Paper]:
        found: dict[str, Paper] = {}
        wanted = list(ids)
        for start in range(0, len(wanted), 500):  # stay under SQLite's variable limit
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for (data,) in self._db.execute(
                f"SELECT data FROM papers WHERE id IN ({marks})", chunk
            ):
                paper = paper_from_json(data)
                found[paper.id] = paper
        return found

    def recent_papers(self, since: dt.datetime) -> list[SeenPaper]:
        rows = self._db.execute(
            "SELECT data, first_seen, last_seen FROM papers WHERE last_seen >= ? "
            "ORDER BY first_seen, rowid",
            (_stamp(since),),
        ).fetchall()
        return [
            SeenPaper(
                paper_from_json(data),
                dt.datetime.fromisoformat(first),
                dt.datetime.fromisoformat(last),
            )
            for data, first, last in rows
        ]

    def ledger_versions(self, subscriber_id: int, paper_ids: Iterable[str]) -> dict[str, int]:
        """Version of each paper already sent (or waiting in the outbox) to this subscriber."""
        wanted = list(paper_ids)
        found: dict[str, int] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT paper_id, version FROM ledger WHERE subscriber_id = ? "
                f"AND paper_id IN ({marks})",
                (subscriber_id, *chunk),
            )
            found.update(rows)
        return found

    # -- sources -------------------------------------------------------------------------

    def source_record(self, name: str) -> SourceRecord | None:
        row = self._db.execute(
            "SELECT name, url, etag, last_modified, last_state, last_detail, last_ok_day, "
            "updated_at FROM sources WHERE name = ?",
            (name,),
        ).fetchone()
        if not row:
            return None
        name, url, etag, modified, state, detail, ok_day, updated = row
        return SourceRecord(
            name=name,
            url=url,
            validators=Validators(etag=etag, last_modified=modified),
            last_state=SourceState(state) if state else None,
            last_detail=detail,
            last_ok_day=dt.date.fromisoformat(ok_day) if ok_day else None,
            updated_at=dt.datetime.fromisoformat(updated),
        )

    def save_source_outcome(
        self,
        outcome: SourceOutcome,
        *,
        url: str,
        validators: Validators | None,
        day: dt.date,
    ) -> None:
        ok = outcome.state is not SourceState.FAILED
        with self._transaction() as db:
            db.execute(
                """
                INSERT INTO sources (name, url, etag, last_modified, last_state, last_detail,
                                     last_ok_day, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET
                    url = excluded.url,
                    etag = coalesce(excluded.etag, sources.etag),
                    last_modified = coalesce(excluded.last_modified, sources.last_modified),
                    last_state = excluded.last_state, last_detail = excluded.last_detail,
                    last_ok_day = coalesce(excluded.last_ok_day, sources.last_ok_day),
                    updated_at = excluded.updated_at
                """,
                (
                    outcome.name,
                    url,
                    validators.etag if validators else None,
                    validators.last_modified if validators else None,
                    outcome.state.value,
                    outcome.detail,
                    day.isoformat() if ok else None,
                    _now(),
                ),
            )

    # -- outbox --------------------------------------------------------------------------

    def outbox_for(self, subscriber_id: int, day: dt.date) -> OutboxItem | None:
        row = self._db.execute(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE subscriber_id = ? AND day = ?",
            (subscriber_id, day.isoformat()),
        ).fetchone()
        return _outbox(row) if row else None

    def last_digest_at(self, subscriber_id: int) -> dt.datetime | None:
        """When this subscriber's latest digest was composed (whatever its delivery state)."""
        row = self._db.execute(
            "SELECT max(created_at) FROM outbox WHERE subscriber_id = ?", (subscriber_id,)
        ).fetchone()
        return dt.datetime.fromisoformat(row[0]) if row and row[0] else None

    def enqueue(
        self,
        *,
        subscriber_id: int,
        recipient: str,
        day: dt.date,
        message_id: str,
        message: bytes,
        papers: Sequence[tuple[str, int]],
        composed_at: dt.datetime,
    ) -> OutboxItem:
        """Store a rendered digest and reserve its papers for this subscriber, atomically."""
        now = _stamp(composed_at)
        ids = [paper_id for paper_id, _ in papers]
        try:
            self._insert_outbox(
                subscriber_id, recipient, day, message_id, message, papers, ids, now
            )
        except sqlite3.IntegrityError as err:
            if "UNIQUE" not in str(err):
                raise
            # The UNIQUE (subscriber_id, day) key refused a second digest for the day: another
            # worker composed it first. Its ledger rows were rolled back with it.
            raise AlreadyQueued(f"{recipient}: a digest for {day} is already queued") from err
        item = self.outbox_for(subscriber_id, day)
        assert item is not None
        return item

    def _insert_outbox(
        self,
        subscriber_id: int,
        recipient: str,
        day: dt.date,
        message_id: str,
        message: bytes,
        papers: Sequence[tuple[str, int]],
        ids: list[str],
        now: str,
    ) -> None:
        with self._transaction() as db:
            cursor = db.execute(
                """
                INSERT INTO outbox (subscriber_id, recipient, day, message_id, message,
                                    paper_ids, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (
                    subscriber_id,
                    recipient,
                    day.isoformat(),
                    message_id,
                    message,
                    json.dumps(ids),
                    now,
                    now,
                ),
            )
            outbox_id = cursor.lastrowid
            db.executemany(
                """
                INSERT INTO ledger (subscriber_id, paper_id, version, outbox_id, sent_at)
                VALUES (?, ?, ?, ?, NULL)
                ON CONFLICT (subscriber_id, paper_id) DO UPDATE SET
                    version = excluded.version, outbox_id = excluded.outbox_id
                """,
                [(subscriber_id, paper_id, version, outbox_id) for paper_id, version in papers],
            )

    def digest_days(self, days: Iterable[dt.date]) -> set[tuple[int, dt.date]]:
        """(subscriber id, day) of every digest composed for one of `days`, whatever its state."""
        wanted = sorted({d.isoformat() for d in days})
        if not wanted:
            return set()
        marks = ",".join("?" * len(wanted))
        rows = self._db.execute(
            f"SELECT subscriber_id, day FROM outbox WHERE day IN ({marks})", wanted
        ).fetchall()
        return {(sid, dt.date.fromisoformat(day)) for sid, day in rows}

    def pending(self) -> list[OutboxItem]:
        return self._outbox_in_state(DeliveryState.PENDING)

    def failed(self) -> list[OutboxItem]:
        return self._outbox_in_state(DeliveryState.FAILED)

    def pending_count(self) -> int:
        row = self._db.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()
        return int(row[0])

    def _outbox_in_state(self, state: DeliveryState) -> list[OutboxItem]:
        rows = self._db.execute(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE state = ? ORDER BY id",
            (state.value,),
        ).fetchall()
        return [_outbox(row) for row in rows]

    def claim_pending(
        self, worker: str, lease_seconds: float, now: dt.datetime, *, after_id: int = 0
    ) -> OutboxItem | None:
        """Take the next pending message (id above `after_id`) that nobody holds, for a lease.

        One UPDATE under the write lock, so two processes can never claim the same row; a
        claim whose lease ran out (its worker crashed) is taken over. Walking ids upwards
        means a message that failed in this pass is not retried in the same pass.
        """
        stamp = _stamp(now)
        until = _stamp(now + dt.timedelta(seconds=lease_seconds))
        with self._transaction() as db:
            row = db.execute(
                """
                UPDATE outbox SET claimed_by = ?, claimed_until = ?
                WHERE id = (
                    SELECT id FROM outbox
                    WHERE state = 'pending' AND id > ?
                      AND (claimed_until IS NULL OR claimed_until < ?)
                    ORDER BY id LIMIT 1)
                  AND state = 'pending' AND (claimed_until IS NULL OR claimed_until < ?)
                RETURNING id
                """,
                (worker, until, after_id, stamp, stamp),
            ).fetchone()
        if row is None:
            return None
        found = self._db.execute(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE id = ?", (row[0],)
        ).fetchone()
        return _outbox(found)

    def release_claims(self, worker: str) -> int:
        """Give back every message `worker` still holds (a clean stop), so others may send it."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ?",
                (worker,),
            )
            return cursor.rowcount

    def claims(self) -> list[Claim]:
        rows = self._db.execute(
            "SELECT id, recipient, claimed_by, claimed_until FROM outbox "
            "WHERE state = 'pending' AND claimed_by IS NOT NULL ORDER BY id"
        ).fetchall()
        return [Claim(i, r, o, dt.datetime.fromisoformat(u)) for i, r, o, u in rows]

    def mark_sent(self, outbox_id: int) -> None:
        now = _now()
        with self._transaction() as db:
            db.execute(
                "UPDATE outbox SET state = 'sent', attempts = attempts + 1, last_error = '', "
                "claimed_by = NULL, claimed_until = NULL, sent_at = ?, updated_at = ? "
                "WHERE id = ?",
                (now, now, outbox_id),
            )
            db.execute("UPDATE ledger SET sent_at = ? WHERE outbox_id = ?", (now, outbox_id))

    def mark_failed_attempt(self, outbox_id: int, error: str, *, give_up: bool) -> None:
        state = DeliveryState.FAILED if give_up else DeliveryState.PENDING
        with self._transaction() as db:
            db.execute(
                "UPDATE outbox SET state = ?, attempts = attempts + 1, last_error = ?, "
                "claimed_by = NULL, claimed_until = NULL, updated_at = ? WHERE id = ?",
                (state.value, error, _now(), outbox_id),
            )

    def requeue_failed(self) -> int:
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE outbox SET state = 'pending', updated_at = ? WHERE state = 'failed'",
                (_now(),),
            )
            return cursor.rowcount

    # -- job leases ----------------------------------------------------------------------

    def acquire_lease(self, name: str, owner: str, seconds: float, now: dt.datetime) -> bool:
        """Hold job `name` for `seconds` unless another owner holds an unexpired lease on it."""
        until = _stamp(now + dt.timedelta(seconds=seconds))
        with self._transaction() as db:
            cursor = db.execute(
                """
                INSERT INTO leases (name, owner, until) VALUES (?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
                WHERE leases.owner = excluded.owner OR leases.until < ?
                """,
                (name, owner, until, _stamp(now)),
            )
            return cursor.rowcount > 0

    def release_lease(self, name: str, owner: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))

    # -- embeddings ----------------------------------------------------------------------

    def embeddings(self, ids: Iterable[str], model: str) -> dict[str, bytes]:
        wanted = list(dict.fromkeys(ids))
        found: dict[str, bytes] = {}
        for start in range(0, len(wanted), 500):  # stay under SQLite's variable limit
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT paper_id, vector FROM embeddings WHERE model = ? "
                f"AND paper_id IN ({marks})",
                (model, *chunk),
            )
            found.update((paper_id, bytes(vector)) for paper_id, vector in rows)
        return found

    def save_embeddings(self, vectors: Mapping[str, bytes], model: str) -> None:
        if not vectors:
            return
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO embeddings (paper_id, model, vector) VALUES (?, ?, ?) "
                "ON CONFLICT (paper_id, model) DO UPDATE SET vector = excluded.vector",
                [(key, model, blob) for key, blob in vectors.items()],
            )

    def prune_embeddings(self, papers_seen_before: dt.datetime) -> int:
        """Drop vectors of papers not seen since the cut-off; profile vectors stay (few, and a
        subscriber may come back)."""
        with self._transaction() as db:
            cursor = db.execute(
                "DELETE FROM embeddings WHERE paper_id NOT LIKE 'profile:%' AND paper_id NOT IN "
                "(SELECT id FROM papers WHERE last_seen >= ?)",
                (_stamp(papers_seen_before),),
            )
            return cursor.rowcount

    # -- runs and meta -------------------------------------------------------------------

    def record_run(self, report: RunReport, *, kind: str = "run", alert: str = "") -> None:
        body = {
            "sources": [
                {"name": s.name, "state": s.state.value, "papers": s.papers, "detail": s.detail}
                for s in report.sources
            ],
            "deliveries": [
                {
                    "recipient": d.recipient,
                    "state": d.state.value,
                    "papers": d.papers,
                    "detail": d.detail,
                }
                for d in report.deliveries
            ],
            "errors": list(report.errors),
            "notes": list(report.notes),
        }
        with self._transaction() as db:
            db.execute(
                "INSERT INTO runs (started, finished, day, ok, report, kind, alert) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    report.started.isoformat(timespec="seconds"),
                    report.finished.isoformat(timespec="seconds"),
                    report.day.isoformat(),
                    int(report.ok),
                    json.dumps(body, ensure_ascii=False),
                    kind,
                    alert,
                ),
            )

    def recent_runs(self, limit: int = 10) -> list[RunRecord]:
        rows = self._db.execute(
            "SELECT started, finished, day, report, kind, alert FROM runs ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            RunRecord(
                report=_run_report(started, finished, day, json.loads(body)),
                kind=kind,
                alert=alert,
            )
            for started, finished, day, body, kind, alert in rows
        ]

    def last_run_started(self, kinds: Sequence[str]) -> dt.datetime | None:
        marks = ",".join("?" * len(kinds))
        row = self._db.execute(
            f"SELECT started FROM runs WHERE kind IN ({marks}) ORDER BY id DESC LIMIT 1",
            list(kinds),
        ).fetchone()
        return dt.datetime.fromisoformat(row[0]) if row else None

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- subscriptions, votes, paper stamps (the web pages; migration 5) ------------------

    def subscriber_record(self, email: str) -> SubscriberRecord | None:
        row = self._db.execute(
            f"SELECT {_RECORD_COLUMNS} FROM subscribers WHERE email_key = lower(?)", (email,)
        ).fetchone()
        return _record(row) if row else None

    def subscriber_records(self) -> list[SubscriberRecord]:
        rows = self._db.execute(f"SELECT {_RECORD_COLUMNS} FROM subscribers ORDER BY id")
        return [_record(row) for row in rows.fetchall()]

    def request_subscription(
        self, subscriber: Subscriber, *, nonce: str, until: dt.datetime, now: dt.datetime
    ) -> SubscriberRecord:
        profile = json.dumps(profile_to_dict(subscriber.profile), ensure_ascii=False)
        at, stamp, until_stamp = subscriber.deliver_at.strftime("%H:%M"), _stamp(now), _stamp(until)
        with self._guard(), self._transaction() as db:
            row = db.execute(
                "SELECT state FROM subscribers WHERE email_key = lower(?)", (subscriber.email,)
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO subscribers (email, email_key, profile, deliver_at, timezone, "
                    "active, state, confirm_nonce, pending_until, created_at, updated_at) "
                    "VALUES (?, lower(?), ?, ?, ?, 0, 'pending', ?, ?, ?, ?)",
                    (
                        subscriber.email,
                        subscriber.email,
                        profile,
                        at,
                        subscriber.timezone,
                        nonce,
                        until_stamp,
                        stamp,
                        stamp,
                    ),
                )
            elif row[0] in (SubscriberState.PENDING, SubscriberState.UNSUBSCRIBED):
                db.execute(
                    "UPDATE subscribers SET profile = ?, deliver_at = ?, timezone = ?, active = 0, "
                    "state = 'pending', confirm_nonce = ?, pending_until = ?, updated_at = ? "
                    "WHERE email_key = lower(?)",
                    (profile, at, subscriber.timezone, nonce, until_stamp, stamp, subscriber.email),
                )
        record = self.subscriber_record(subscriber.email)
        assert record is not None
        return record

    def confirm_subscription(
        self, email: str, nonce: str, now: dt.datetime
    ) -> SubscriberRecord | None:
        stamp = _stamp(now)
        with self._guard(), self._transaction() as db:
            cursor = db.execute(
                "UPDATE subscribers SET state = 'active', active = 1, confirm_nonce = NULL, "
                "pending_until = NULL, confirmed_at = ?, updated_at = ? "
                "WHERE email_key = lower(?) AND state = 'pending' AND confirm_nonce = ? "
                "AND pending_until >= ?",
                (stamp, stamp, email, nonce, stamp),
            )
            changed = cursor.rowcount > 0
        return self.subscriber_record(email) if changed else None

    def set_subscriber_state(self, email: str, state: SubscriberState, now: dt.datetime) -> bool:
        allowed = {
            SubscriberState.PAUSED: "('active')",
            SubscriberState.ACTIVE: "('paused')",
            SubscriberState.UNSUBSCRIBED: "('active', 'paused', 'pending')",
        }
        if state not in allowed:
            raise StoreError(f"{self.path}: a subscription cannot be set to {state.value}")
        with self._guard(), self._transaction() as db:
            cursor = db.execute(
                "UPDATE subscribers SET state = ?, active = ?, confirm_nonce = NULL, "
                f"updated_at = ? WHERE email_key = lower(?) AND state IN {allowed[state]}",
                (state.value, int(state is SubscriberState.ACTIVE), _stamp(now), email),
            )
            return cursor.rowcount > 0

    def update_subscriber(self, subscriber: Subscriber, now: dt.datetime) -> Subscriber | None:
        profile = json.dumps(profile_to_dict(subscriber.profile), ensure_ascii=False)
        with self._guard(), self._transaction() as db:
            db.execute(
                "UPDATE subscribers SET profile = ?, deliver_at = ?, timezone = ?, updated_at = ? "
                "WHERE email_key = lower(?)",
                (
                    profile,
                    subscriber.deliver_at.strftime("%H:%M"),
                    subscriber.timezone,
                    _stamp(now),
                    subscriber.email,
                ),
            )
        return self.subscriber(subscriber.email)

    def expire_pending(self, now: dt.datetime) -> int:
        """Lapsed sign-ups: forgotten, or back to unsubscribed if they had digests before."""
        stamp = _stamp(now)
        lapsed = "state = 'pending' AND pending_until < ?"
        with self._guard(), self._transaction() as db:
            gone = db.execute(
                f"DELETE FROM subscribers WHERE {lapsed} "
                "AND id NOT IN (SELECT subscriber_id FROM outbox) "
                "AND id NOT IN (SELECT subscriber_id FROM votes)",
                (stamp,),
            ).rowcount
            back = db.execute(
                "UPDATE subscribers SET state = 'unsubscribed', confirm_nonce = NULL, "
                f"pending_until = NULL, updated_at = ? WHERE {lapsed}",
                (stamp, stamp),
            ).rowcount
            return gone + back

    def record_vote(self, subscriber_id: int, paper_id: str, vote: Vote, at: dt.datetime) -> None:
        with self._guard(), self._transaction() as db:
            db.execute(
                "INSERT INTO votes (subscriber_id, paper_id, vote, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (subscriber_id, paper_id) DO UPDATE SET "
                "vote = excluded.vote, at = excluded.at",
                (subscriber_id, paper_id, Vote(vote).value, _stamp(at)),
            )

    def undo_vote(self, subscriber_id: int, paper_id: str) -> bool:
        with self._guard(), self._transaction() as db:
            cursor = db.execute(
                "DELETE FROM votes WHERE subscriber_id = ? AND paper_id = ?",
                (subscriber_id, paper_id),
            )
            return cursor.rowcount > 0

    def votes(self, subscriber_id: int) -> list[VoteRecord]:
        with self._guard():
            rows = self._db.execute(
                "SELECT paper_id, vote, at FROM votes WHERE subscriber_id = ? "
                "ORDER BY at DESC, paper_id",
                (subscriber_id,),
            ).fetchall()
        return [
            VoteRecord(subscriber_id, paper, Vote(vote), dt.datetime.fromisoformat(at))
            for paper, vote, at in rows
        ]

    def papers_stamp(self) -> tuple[int, dt.datetime | None]:
        with self._guard():
            count, latest = self._db.execute(
                "SELECT count(*), max(last_seen) FROM papers"
            ).fetchone()
        return int(count), dt.datetime.fromisoformat(latest) if latest else None

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Every error of the methods above surfaces as a StoreError naming the database."""
        try:
            yield
        except sqlite3.Error as err:
            raise StoreError(f"{self.path}: {err}") from err


_OUTBOX_COLUMNS = (
    "id, subscriber_id, recipient, day, message_id, message, paper_ids, state, attempts, last_error"
)


def _outbox(row: tuple[Any, ...]) -> OutboxItem:
    oid, sid, recipient, day, message_id, message, paper_ids, state, attempts, error = row
    return OutboxItem(
        id=oid,
        subscriber_id=sid,
        recipient=recipient,
        day=dt.date.fromisoformat(day),
        message_id=message_id,
        message=bytes(message),
        paper_ids=tuple(json.loads(paper_ids)),
        state=DeliveryState(state),
        attempts=attempts,
        last_error=error,
    )


def _subscriber(row: tuple[Any, ...]) -> Subscriber:
    sid, email, profile, deliver_at, timezone, active = row
    hours, minutes = deliver_at.split(":")
    return Subscriber(
        id=sid,
        email=email,
        profile=profile_from_dict(json.loads(profile)),
        deliver_at=dt.time(int(hours), int(minutes)),
        timezone=timezone,
        active=bool(active),
    )


_RECORD_COLUMNS = (
    "id, email, profile, deliver_at, timezone, active, state, created_at, updated_at, "
    "confirmed_at, pending_until"
)


def _record(row: tuple[Any, ...]) -> SubscriberRecord:
    created, updated, confirmed, until = row[7:11]
    return SubscriberRecord(
        subscriber=_subscriber(row[:6]),
        state=SubscriberState(row[6]),
        created_at=dt.datetime.fromisoformat(created),
        updated_at=dt.datetime.fromisoformat(updated),
        confirmed_at=dt.datetime.fromisoformat(confirmed) if confirmed else None,
        pending_until=dt.datetime.fromisoformat(until) if until else None,
    )


def _run_report(started: str, finished: str, day: str, body: dict[str, Any]) -> RunReport:
    return RunReport(
        started=dt.datetime.fromisoformat(started),
        finished=dt.datetime.fromisoformat(finished),
        day=dt.date.fromisoformat(day),
        sources=tuple(
            SourceOutcome(s["name"], SourceState(s["state"]), s["papers"], s["detail"])
            for s in body.get("sources", ())
        ),
        deliveries=tuple(
            DeliveryOutcome(d["recipient"], DeliveryState(d["state"]), d["papers"], d["detail"])
            for d in body.get("deliveries", ())
        ),
        errors=tuple(body.get("errors", ())),
        notes=tuple(body.get("notes", ())),
    )
