"""The embedded default store: every role of digest.store.roles on one SQLite file.

Delivery semantics live in three tables:
- `outbox`: one rendered message per subscriber and day, pending -> sent | failed; its bytes
  in `outbox_bodies`, written once (claims and state changes rewrite only the small row).
- `ledger`: (subscriber, paper) rows written in the same transaction as the outbox row, so a
  paper waiting in a pending message is never put into a second one; a row counts as sent
  once its outbox row is (the SMTP server accepted the message), at that row's `sent_at`,
  so marking a message sent rewrites one row, not one per paper (sqlite_batches.SENT_AT).
- A rerun finds the pending row and delivers that same message (same Message-ID) instead of
  rendering a new one, so a crash never produces a second, different digest.

Beside it: sqlite_schema (tables, migrations), sqlite_rows (rows <-> records) and
sqlite_connection (every statement; each sqlite3 error becomes a StoreError).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from digest.errors import StoreError
from digest.models import (
    DeliveryState,
    OutboxItem,
    Paper,
    SourceOutcome,
    Subscriber,
    Validators,
)
from digest.store import sqlite_rows as rows
from digest.store.body_memo import BodyMemo
from digest.store.codec import paper_from_json, paper_to_json
from digest.store.roles import AlreadyQueued, Claim, Lease, NewDigest, SeenPaper, SourceRecord
from digest.store.sqlite_batches import SENT_AT, SqliteBatches, write_digests
from digest.store.sqlite_connection import BUSY_TIMEOUT, Connection
from digest.store.sqlite_corpus import SqliteCorpus
from digest.store.sqlite_runs import RunsMixin
from digest.store.sqlite_schema import MIGRATIONS, check_current, migrate
from digest.store.sqlite_sending import SqliteSending
from digest.store.sqlite_subscriptions import SubscriptionsMixin
from digest.store.sqlite_transfer import SqliteTransfer
from digest.util.private import private_file, private_folder

__all__ = ["MIGRATIONS", "AlreadyQueued", "SqliteStore"]


class SqliteStore(
    SubscriptionsMixin, RunsMixin, SqliteSending, SqliteTransfer, SqliteCorpus, SqliteBatches
):
    """One SQLite file in WAL mode, so readers never block the writer."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        path: Path | None,
        *,
        busy_timeout: float = BUSY_TIMEOUT,
    ) -> None:
        self._db = Connection(connection, path, busy_timeout)
        self._bodies = BodyMemo()  # what this store wrote, for its own claims
        self.path = path

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str, *, busy_timeout: float | None = None) -> SqliteStore:
        """Open (creating it and its folder) and migrate the file.

        `busy_timeout`: seconds a write waits for another process's lock before it fails
        with a StoreError; by default $DIGEST_BUSY_TIMEOUT, else 30.
        """
        file = Path(path)
        try:
            private_file(private_folder(file.parent) / file.name)
        except OSError as err:
            raise StoreError(f"{file}: cannot create the database: {err.strerror}") from err
        return cls._opened(Connection.connect(file, busy_timeout=busy_timeout), migrate)

    @classmethod
    def open_readonly(cls, path: Path | str, *, busy_timeout: float | None = None) -> SqliteStore:
        """For previews: SQLite refuses every write, so a bug cannot mark anything as seen."""
        file = Path(path)
        if not file.exists():
            raise StoreError(f"{file}: no database here yet (subscribe someone first)")
        db = Connection.connect(file, busy_timeout=busy_timeout, readonly=True)
        return cls._opened(db, check_current)

    @classmethod
    def _opened(cls, db: Connection, check: Callable[[Connection], None]) -> SqliteStore:
        try:
            check(db)
        except BaseException:
            db.close()
            raise
        return cls(db.raw, db.path, busy_timeout=db.busy_timeout)

    def close(self) -> None:
        self._db.close()

    # -- subscribers ---------------------------------------------------------------------

    def save_subscriber(self, subscriber: Subscriber) -> Subscriber:
        """Insert, or update the profile and delivery time of an existing address (whatever
        its case: the spelling first given is kept for sending).

        Re-subscribing reactivates the row and keeps the ledger, so nobody is sent again
        what they already had.
        """
        email, profile, clock, zone, created, now = rows.subscriber_values(
            subscriber, rows.now_stamp()
        )
        with self._db.transaction() as tx:
            tx.execute(
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
                (email, email, profile, clock, zone, now, created, now),
            )
        saved = self.subscriber(subscriber.email)
        assert saved is not None
        return saved

    def deactivate_subscriber(self, email: str) -> bool:
        with self._db.transaction() as tx:
            cursor = tx.execute(
                "UPDATE subscribers SET active = 0, state = 'unsubscribed', confirm_nonce = NULL, "
                "updated_at = ? WHERE email_key = lower(?) AND state <> 'unsubscribed'",
                (rows.now_stamp(), email),
            )
            return cursor.rowcount > 0

    def subscriber(self, email: str) -> Subscriber | None:
        row = self._db.one(
            f"SELECT {rows.SUBSCRIBER_COLUMNS} FROM subscribers WHERE email_key = lower(?)",
            (email,),
        )
        return rows.subscriber(row) if row else None

    def subscribers(self, *, active_only: bool = True) -> list[Subscriber]:
        where = "WHERE active = 1" if active_only else ""
        found = self._db.all(
            f"SELECT {rows.SUBSCRIBER_COLUMNS} FROM subscribers {where} ORDER BY id"
        )
        return [rows.subscriber(row) for row in found]

    # -- papers --------------------------------------------------------------------------

    def save_papers(self, papers: Iterable[Paper], seen_at: dt.datetime) -> None:
        stamp = rows.stamp(seen_at)
        values = [(p.id, paper_to_json(p), p.version, stamp, stamp) for p in papers]
        with self._db.transaction() as tx:
            tx.executemany(
                """
                INSERT INTO papers (id, data, version, first_seen, last_seen)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET
                    data = excluded.data, version = excluded.version,
                    last_seen = max(papers.last_seen, excluded.last_seen)
                """,
                values,
            )

    def papers_by_id(self, ids: Iterable[str]) -> dict[str, Paper]:
        found = self._db.rows_in("SELECT data FROM papers WHERE id IN ({marks})", ids)
        papers = (paper_from_json(data) for (data,) in found)
        return {paper.id: paper for paper in papers}

    def recent_papers(self, since: dt.datetime) -> list[SeenPaper]:
        found = self._db.all(
            "SELECT data, first_seen, last_seen FROM papers WHERE last_seen >= ? "
            "ORDER BY first_seen, rowid",
            (rows.stamp(since),),
        )
        return [rows.seen_paper(row) for row in found]

    # -- sources -------------------------------------------------------------------------

    def source_record(self, name: str) -> SourceRecord | None:
        row = self._db.one(f"SELECT {rows.SOURCE_COLUMNS} FROM sources WHERE name = ?", (name,))
        return rows.source_record(row) if row else None

    def save_source_outcome(
        self,
        outcome: SourceOutcome,
        *,
        url: str,
        validators: Validators | None,
        day: dt.date,
    ) -> None:
        with self._db.transaction() as tx:
            tx.execute(
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
                rows.source_values(outcome, url, validators, day, rows.now_stamp()),
            )

    # -- outbox and ledger ---------------------------------------------------------------

    def ledger_versions(self, subscriber_id: int, paper_ids: Iterable[str]) -> dict[str, int]:
        """Version of each paper already sent (or waiting in the outbox) to this subscriber."""
        found = self._db.rows_in(
            "SELECT paper_id, version FROM ledger WHERE subscriber_id = ? "
            "AND paper_id IN ({marks})",
            paper_ids,
            (subscriber_id,),
        )
        return dict(found)

    def ledger_sent(self, subscriber_id: int, paper_ids: Iterable[str]) -> dict[str, dt.datetime]:
        """When each paper was sent to this subscriber; one only waiting in the outbox is absent."""
        found = self._db.rows_in(
            f"SELECT l.paper_id, {SENT_AT.format(ledger='l')} FROM ledger l "
            "WHERE l.subscriber_id = ? AND l.paper_id IN ({marks})",
            paper_ids,
            (subscriber_id,),
        )
        return {paper_id: rows.moment(sent) for paper_id, sent in found if sent}

    def outbox_for(self, subscriber_id: int, day: dt.date) -> OutboxItem | None:
        row = self._db.one(
            f"SELECT {rows.OUTBOX_COLUMNS} FROM outbox WHERE subscriber_id = ? AND day = ?",
            (subscriber_id, day.isoformat()),
        )
        return rows.outbox_item(row) if row else None

    def last_digest_at(self, subscriber_id: int) -> dt.datetime | None:
        """When this subscriber's latest digest was composed (whatever its delivery state)."""
        row = self._db.one(
            "SELECT max(created_at) FROM outbox WHERE subscriber_id = ?", (subscriber_id,)
        )
        return rows.moment(row[0]) if row and row[0] else None

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
        """Store a rendered digest and reserve its papers for this subscriber, atomically.

        Raises AlreadyQueued, writing nothing, when a digest for this subscriber and day is
        in the outbox already (another worker composed it first).
        """
        digest = NewDigest(
            subscriber_id, recipient, day, composed_at, message_id, message, tuple(papers)
        )
        with self._db.transaction() as tx:
            (outbox_id,) = write_digests(tx, [digest])
            if outbox_id is None:
                raise AlreadyQueued(f"{recipient}: a digest for {day} is already queued")
        return OutboxItem(
            outbox_id,
            subscriber_id,
            recipient,
            day,
            message_id,
            message,
            tuple(paper_id for paper_id, _ in papers),
        )

    def close_day(
        self, *, subscriber_id: int, recipient: str, day: dt.date, closed_at: dt.datetime
    ) -> bool:
        """Mark the day done without a message (nothing new matched): no mail, no ledger rows,
        and the next digest's window starts here. False if the day already had a row."""
        now = rows.stamp(closed_at)
        with self._db.transaction() as tx:
            inserted = tx.execute(
                """
                INSERT INTO outbox (subscriber_id, recipient, day, message_id, message,
                                    paper_ids, state, created_at, updated_at)
                VALUES (?, ?, ?, '', x'', '[]', 'closed', ?, ?)
                ON CONFLICT (subscriber_id, day) DO NOTHING
                RETURNING id
                """,
                (subscriber_id, recipient, day.isoformat(), now, now),
            ).fetchone()
        return inserted is not None

    def digest_days(self, days: Iterable[dt.date]) -> set[tuple[int, dt.date]]:
        """(subscriber id, day) of every digest composed for one of `days`, whatever its state."""
        found = self._db.rows_in(
            "SELECT subscriber_id, day FROM outbox WHERE day IN ({marks})",
            sorted({d.isoformat() for d in days}),
        )
        return {(sid, rows.day(day)) for sid, day in found}

    def pending(self) -> list[OutboxItem]:
        return self._outbox_in_state(DeliveryState.PENDING)

    def failed(self) -> list[OutboxItem]:
        return self._outbox_in_state(DeliveryState.FAILED)

    def pending_count(self) -> int:
        row = self._db.one("SELECT count(*) FROM outbox WHERE state = 'pending'")
        return int(row[0]) if row else 0

    def _outbox_in_state(self, state: DeliveryState) -> list[OutboxItem]:
        found = self._db.all(
            f"SELECT {rows.OUTBOX_COLUMNS} FROM outbox WHERE state = ? ORDER BY id",
            (state.value,),
        )
        return [rows.outbox_item(row) for row in found]

    def claim_pending(
        self, worker: str, lease_seconds: float, now: dt.datetime, *, after_id: int = 0
    ) -> OutboxItem | None:
        """Take the next pending message (id above `after_id`) that nobody holds, for a lease.

        One UPDATE under the write lock, so two processes can never claim the same row; a
        claim whose lease ran out (its worker crashed) is taken over. Walking ids upwards
        means a message that failed in this pass is not retried in the same pass.
        """
        stamp = rows.stamp(now)
        until = rows.stamp(now + dt.timedelta(seconds=lease_seconds))
        with self._db.transaction() as tx:
            claimed = tx.execute(
                f"""
                UPDATE outbox SET claimed_by = ?, claimed_until = ?
                WHERE id = (
                    SELECT id FROM outbox
                    WHERE state = 'pending' AND id > ?
                      AND (claimed_until IS NULL OR claimed_until < ?)
                    ORDER BY id LIMIT 1)
                  AND state = 'pending' AND (claimed_until IS NULL OR claimed_until < ?)
                RETURNING {rows.OUTBOX_COLUMNS}
                """,
                (worker, until, after_id, stamp, stamp),
            ).fetchone()
        return rows.outbox_item(claimed) if claimed else None

    def release_claims(self, worker: str) -> int:
        """Give back every message `worker` still holds (a clean stop), so others may send it."""
        with self._db.transaction() as tx:
            cursor = tx.execute(
                "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ?",
                (worker,),
            )
            return cursor.rowcount

    def claims(self) -> list[Claim]:
        found = self._db.all(
            f"SELECT {rows.CLAIM_COLUMNS} FROM outbox "
            "WHERE state = 'pending' AND claimed_by IS NOT NULL ORDER BY id"
        )
        return [rows.claim(row) for row in found]

    def mark_sent(self, outbox_id: int) -> None:
        now = rows.now_stamp()
        with self._db.transaction() as tx:
            tx.execute(
                "UPDATE outbox SET state = 'sent', attempts = attempts + 1, last_error = '', "
                "claimed_by = NULL, claimed_until = NULL, sent_at = ?, updated_at = ? "
                "WHERE id = ?",
                (now, now, outbox_id),
            )

    def mark_failed_attempt(self, outbox_id: int, error: str, *, give_up: bool) -> None:
        state = DeliveryState.FAILED if give_up else DeliveryState.PENDING
        with self._db.transaction() as tx:
            tx.execute(
                "UPDATE outbox SET state = ?, attempts = attempts + 1, last_error = ?, "
                "claimed_by = NULL, claimed_until = NULL, updated_at = ? WHERE id = ?",
                (state.value, error, rows.now_stamp(), outbox_id),
            )

    def requeue_failed(self) -> int:
        with self._db.transaction() as tx:
            cursor = tx.execute(
                "UPDATE outbox SET state = 'pending', updated_at = ? WHERE state = 'failed'",
                (rows.now_stamp(),),
            )
            return cursor.rowcount

    # -- job leases ----------------------------------------------------------------------

    def acquire_lease(self, name: str, owner: str, seconds: float, now: dt.datetime) -> bool:
        """Hold job `name` for `seconds` unless another owner holds an unexpired lease on it."""
        until = rows.stamp(now + dt.timedelta(seconds=seconds))
        with self._db.transaction() as tx:
            cursor = tx.execute(
                """
                INSERT INTO leases (name, owner, until) VALUES (?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
                WHERE leases.owner = excluded.owner OR leases.until < ?
                """,
                (name, owner, until, rows.stamp(now)),
            )
            return cursor.rowcount > 0

    def release_lease(self, name: str, owner: str) -> None:
        with self._db.transaction() as tx:
            tx.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))

    def leases(self) -> list[Lease]:
        found = self._db.all("SELECT name, owner, until FROM leases ORDER BY name")
        return [Lease(name, owner, rows.moment(until)) for name, owner, until in found]

    # -- embeddings ----------------------------------------------------------------------

    def embeddings(self, ids: Iterable[str], model: str) -> dict[str, bytes]:
        found = self._db.rows_in(
            "SELECT paper_id, vector FROM embeddings WHERE model = ? AND paper_id IN ({marks})",
            ids,
            (model,),
        )
        return {paper_id: bytes(vector) for paper_id, vector in found}

    def save_embeddings(self, vectors: Mapping[str, bytes], model: str) -> None:
        if not vectors:
            return
        with self._db.transaction() as tx:
            tx.executemany(
                "INSERT INTO embeddings (paper_id, model, vector) VALUES (?, ?, ?) "
                "ON CONFLICT (paper_id, model) DO UPDATE SET vector = excluded.vector",
                [(key, model, blob) for key, blob in vectors.items()],
            )

    def prune_embeddings(self, papers_seen_before: dt.datetime) -> int:
        """Drop vectors of papers not seen since the cut-off; profile vectors stay (few, and a
        subscriber may come back)."""
        with self._db.transaction() as tx:
            cursor = tx.execute(
                "DELETE FROM embeddings WHERE paper_id NOT LIKE 'profile:%' AND paper_id NOT IN "
                "(SELECT id FROM papers WHERE last_seen >= ?)",
                (rows.stamp(papers_seen_before),),
            )
            return cursor.rowcount

    # -- meta (the run history is in sqlite_runs) ------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self._db.one("SELECT value FROM meta WHERE key = ?", (key,))
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._db.transaction() as tx:
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
