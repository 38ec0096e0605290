"""The shared store: every role of digest.store.roles on one PostgreSQL database, for workers
on many machines.

The delivery rules are SQLite's (see digest.store.sqlite): one outbox row per subscriber and
day, its papers reserved in the ledger in the same transaction, marked sent only once the SMTP
server accepted the message. What changes is how workers meet:
- "already queued" is `ON CONFLICT DO NOTHING RETURNING` giving back no row;
- a claim takes the next pending message with `FOR UPDATE SKIP LOCKED`, so workers claiming
  at once never wait on each other's rows and never get the same one;
- moments are timestamptz, compared by the server, never as text.

Beside it: postgres_schema (migrations), postgres_rows (rows <-> records) and
postgres_connection (the pool; each psycopg error becomes a StoreError).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence

from digest.models import (
    DeliveryState,
    OutboxItem,
    Paper,
    SourceOutcome,
    Subscriber,
    Validators,
)
from digest.store import postgres_rows as rows
from digest.store.codec import paper_from_json, paper_to_json
from digest.store.postgres_batches import SENT_AT, PostgresBatches
from digest.store.postgres_connection import POOL_WAIT, Pool
from digest.store.postgres_corpus import PostgresCorpus
from digest.store.postgres_runs import PostgresRuns
from digest.store.postgres_schema import check_current, migrate
from digest.store.postgres_sending import PostgresSending
from digest.store.postgres_subscriptions import PostgresSubscriptions
from digest.store.postgres_transfer import PostgresTransfer
from digest.store.roles import AlreadyQueued, Claim, Lease, SeenPaper, SourceRecord

__all__ = ["PostgresStore"]

# Claim attempts when racing workers keep taking the row a claim picked (see claim_pending).
CLAIM_TRIES = 20


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PostgresStore(
    PostgresSubscriptions,
    PostgresRuns,
    PostgresSending,
    PostgresTransfer,
    PostgresCorpus,
    PostgresBatches,
):
    """A pool of connections to one database; safe to share between threads."""

    def __init__(self, pool: Pool) -> None:
        self._db = pool
        self.url = pool.name  # without the password

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls, url: str, *, pool_size: int | None = None, wait: float = POOL_WAIT
    ) -> PostgresStore:
        """Connect and migrate. `pool_size`: connections kept, by default
        $DIGEST_DB_POOL_SIZE, else 4; `wait`: seconds a statement waits for a connection
        (or for a restarting server) before it fails with a StoreError."""
        return cls._opened(Pool(url, size=pool_size, wait=wait), migrate)

    @classmethod
    def open_readonly(cls, url: str) -> PostgresStore:
        """For previews: the server refuses every write in these sessions."""
        return cls._opened(Pool(url, readonly=True, size=1), check_current)

    @classmethod
    def _opened(cls, db: Pool, check: Callable[[Pool], None]) -> PostgresStore:
        try:
            check(db)
        except BaseException:
            db.close()
            raise
        return cls(db)

    @property
    def pool(self) -> Pool:
        return self._db

    def close(self) -> None:
        self._db.close()

    # -- subscribers ---------------------------------------------------------------------

    def save_subscriber(self, subscriber: Subscriber) -> Subscriber:
        """Insert, or update the profile and delivery time of an existing address (whatever
        its case); re-subscribing reactivates the row and keeps the ledger."""
        email, profile, clock, zone, created, now = rows.subscriber_values(subscriber, _now())
        with self._db.transaction() as tx:
            row = tx.execute(
                f"""
                INSERT INTO subscribers
                    (email, email_key, profile, deliver_at, timezone, active, state,
                     confirmed_at, created_at, updated_at)
                VALUES (%s, lower(%s), %s, %s, %s, true, 'active', %s, %s, %s)
                ON CONFLICT (email_key) DO UPDATE SET
                    profile = excluded.profile, deliver_at = excluded.deliver_at,
                    timezone = excluded.timezone, active = true, state = 'active',
                    confirm_nonce = NULL, pending_until = NULL,
                    confirmed_at = coalesce(subscribers.confirmed_at, excluded.confirmed_at),
                    updated_at = excluded.updated_at
                RETURNING {rows.SUBSCRIBER_COLUMNS}
                """.encode(),
                (email, email, profile, clock, zone, now, created, now),
            ).fetchone()
        assert row is not None
        return rows.subscriber(row)

    def deactivate_subscriber(self, email: str) -> bool:
        with self._db.transaction() as tx:
            cursor = tx.execute(
                "UPDATE subscribers SET active = false, state = 'unsubscribed', "
                "confirm_nonce = NULL, updated_at = %s "
                "WHERE email_key = lower(%s) AND state <> 'unsubscribed'",
                (_now(), email),
            )
            return cursor.rowcount > 0

    def subscriber(self, email: str) -> Subscriber | None:
        row = self._db.one(
            f"SELECT {rows.SUBSCRIBER_COLUMNS} FROM subscribers WHERE email_key = lower(%s)",
            (email,),
        )
        return rows.subscriber(row) if row else None

    def subscribers(self, *, active_only: bool = True) -> list[Subscriber]:
        where = "WHERE active" if active_only else ""
        found = self._db.all(
            f"SELECT {rows.SUBSCRIBER_COLUMNS} FROM subscribers {where} ORDER BY id"
        )
        return [rows.subscriber(row) for row in found]

    # -- papers --------------------------------------------------------------------------

    def save_papers(self, papers: Iterable[Paper], seen_at: dt.datetime) -> None:
        moment = rows.utc(seen_at)
        values = [(p.id, paper_to_json(p), p.version, moment, moment) for p in papers]
        if not values:
            return
        with self._db.transaction() as tx, tx.cursor() as cursor:
            cursor.executemany(
                """
                INSERT INTO papers (id, data, version, first_seen, last_seen)
                VALUES (%s, %s, %s, %s, %s)
                ON CONFLICT (id) DO UPDATE SET
                    data = excluded.data, version = excluded.version,
                    last_seen = greatest(papers.last_seen, excluded.last_seen)
                """,
                values,
            )

    def papers_by_id(self, ids: Iterable[str]) -> dict[str, Paper]:
        # One array parameter, however many ids: no chunking needed here.
        found = self._db.all("SELECT data FROM papers WHERE id = ANY(%s)", (list(set(ids)),))
        papers = (paper_from_json(data) for (data,) in found)
        return {paper.id: paper for paper in papers}

    def recent_papers(self, since: dt.datetime) -> list[SeenPaper]:
        found = self._db.all(
            "SELECT data, first_seen, last_seen FROM papers WHERE last_seen >= %s "
            "ORDER BY first_seen, seq",
            (rows.utc(since),),
        )
        return [rows.seen_paper(row) for row in found]

    # -- sources -------------------------------------------------------------------------

    def source_record(self, name: str) -> SourceRecord | None:
        row = self._db.one(f"SELECT {rows.SOURCE_COLUMNS} FROM sources WHERE name = %s", (name,))
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
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (name) DO UPDATE SET
                    url = excluded.url,
                    etag = coalesce(excluded.etag, sources.etag),
                    last_modified = coalesce(excluded.last_modified, sources.last_modified),
                    last_state = excluded.last_state, last_detail = excluded.last_detail,
                    last_ok_day = coalesce(excluded.last_ok_day, sources.last_ok_day),
                    updated_at = excluded.updated_at
                """,
                rows.source_values(outcome, url, validators, day, _now()),
            )

    # -- outbox and ledger ---------------------------------------------------------------

    def ledger_versions(self, subscriber_id: int, paper_ids: Iterable[str]) -> dict[str, int]:
        found = self._db.all(
            "SELECT paper_id, version FROM ledger WHERE subscriber_id = %s AND paper_id = ANY(%s)",
            (subscriber_id, list(set(paper_ids))),
        )
        return dict(found)

    def ledger_sent(self, subscriber_id: int, paper_ids: Iterable[str]) -> dict[str, dt.datetime]:
        found = self._db.all(
            f"SELECT l.paper_id, {SENT_AT.format(ledger='l')} FROM ledger l "
            "WHERE l.subscriber_id = %s AND l.paper_id = ANY(%s)",
            (subscriber_id, list(set(paper_ids))),
        )
        return {paper_id: rows.utc(sent) for paper_id, sent in found if sent}

    def outbox_for(self, subscriber_id: int, day: dt.date) -> OutboxItem | None:
        row = self._db.one(
            f"SELECT {rows.OUTBOX_COLUMNS} FROM outbox WHERE subscriber_id = %s AND day = %s",
            (subscriber_id, day),
        )
        return rows.outbox_item(row) if row else None

    def last_digest_at(self, subscriber_id: int) -> dt.datetime | None:
        row = self._db.one(
            "SELECT max(created_at) FROM outbox WHERE subscriber_id = %s", (subscriber_id,)
        )
        return rows.utc(row[0]) if row and row[0] else None

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
        """Store a rendered digest and reserve its papers, atomically; AlreadyQueued (writing
        nothing) when this subscriber's digest for `day` is in the outbox already."""
        now = rows.utc(composed_at)
        listed = [paper_id for paper_id, _ in papers]
        with self._db.transaction() as tx:
            inserted = tx.execute(
                f"""
                INSERT INTO outbox (subscriber_id, recipient, day, message_id, message,
                                    paper_ids, created_at, updated_at)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (subscriber_id, day) DO NOTHING
                RETURNING {rows.OUTBOX_COLUMNS}
                """.encode(),
                (subscriber_id, recipient, day, message_id, message, listed, now, now),
            ).fetchone()
            if inserted is None:
                raise AlreadyQueued(f"{recipient}: a digest for {day} is already queued")
            if papers:
                # One statement for every paper: unnest the two arrays into rows.
                tx.execute(
                    f"""
                    INSERT INTO ledger (subscriber_id, paper_id, version, outbox_id, sent_at)
                    SELECT %s, p.id, p.version, %s, NULL
                    FROM unnest(%s::text[], %s::integer[]) AS p(id, version)
                    ON CONFLICT (subscriber_id, paper_id) DO UPDATE SET
                        version = excluded.version, outbox_id = excluded.outbox_id,
                        sent_at = {SENT_AT.format(ledger="ledger")}
                    """.encode(),
                    (subscriber_id, inserted[0], listed, [version for _, version in papers]),
                )
        return rows.outbox_item(inserted)

    def close_day(
        self, *, subscriber_id: int, recipient: str, day: dt.date, closed_at: dt.datetime
    ) -> bool:
        """The day done without a message (nothing new matched); False if it had a row."""
        with self._db.transaction() as tx:
            row = tx.execute(
                "INSERT INTO outbox (subscriber_id, recipient, day, message_id, message, "
                "paper_ids, state, created_at, updated_at) "
                "VALUES (%s, %s, %s, '', '', '{}', 'closed', %s, %s) "
                "ON CONFLICT (subscriber_id, day) DO NOTHING RETURNING id",
                (subscriber_id, recipient, day, closed_at, closed_at),
            ).fetchone()
        return row is not None

    def digest_days(self, days: Iterable[dt.date]) -> set[tuple[int, dt.date]]:
        found = self._db.all(
            "SELECT subscriber_id, day FROM outbox WHERE day = ANY(%s)", (sorted(set(days)),)
        )
        return {(sid, day) for sid, day in found}

    def pending(self) -> list[OutboxItem]:
        return self._outbox_in_state(DeliveryState.PENDING)

    def failed(self) -> list[OutboxItem]:
        return self._outbox_in_state(DeliveryState.FAILED)

    def pending_count(self) -> int:
        row = self._db.one("SELECT count(*) FROM outbox WHERE state = 'pending'")
        return int(row[0]) if row else 0

    def _outbox_in_state(self, state: DeliveryState) -> list[OutboxItem]:
        found = self._db.all(
            f"SELECT {rows.OUTBOX_COLUMNS} FROM outbox WHERE state = %s ORDER BY id",
            (state.value,),
        )
        return [rows.outbox_item(row) for row in found]

    def claim_pending(
        self, worker: str, lease_seconds: float, now: dt.datetime, *, after_id: int = 0
    ) -> OutboxItem | None:
        """Take the next pending message (id above `after_id`) nobody holds, for a lease.

        SKIP LOCKED: a row another worker is claiming right now is passed over, not waited
        for; the row this one locks is re-checked, so an expired claim is taken over once.
        """
        moment = rows.utc(now)
        until = moment + dt.timedelta(seconds=lease_seconds)
        for _ in range(CLAIM_TRIES):
            with self._db.transaction() as tx:
                claimed = tx.execute(
                    f"""
                    UPDATE outbox SET claimed_by = %s, claimed_until = %s
                    WHERE id = (
                        SELECT id FROM outbox
                        WHERE state = 'pending' AND id > %s
                          AND (claimed_until IS NULL OR claimed_until < %s)
                        ORDER BY id LIMIT 1
                        FOR UPDATE SKIP LOCKED)
                    RETURNING {rows.OUTBOX_COLUMNS}
                    """.encode(),
                    (worker, until, after_id, moment),
                ).fetchone()
            if claimed is not None:
                return rows.outbox_item(claimed)
            # No row can also mean the one this statement picked was claimed and committed
            # by another worker in between (the re-check drops it, LIMIT 1 finds no other):
            # look again with a fresh snapshot while something claimable is left.
            left = self._db.one(
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE state = 'pending' AND id > %s "
                "AND (claimed_until IS NULL OR claimed_until < %s))",
                (after_id, moment),
            )
            if not left or not left[0]:
                return None
        return None

    def release_claims(self, worker: str) -> int:
        with self._db.transaction() as tx:
            cursor = tx.execute(
                "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = %s",
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
        now = _now()
        with self._db.transaction() as tx:
            tx.execute(
                "UPDATE outbox SET state = 'sent', attempts = attempts + 1, last_error = '', "
                "claimed_by = NULL, claimed_until = NULL, sent_at = %s, updated_at = %s "
                "WHERE id = %s",
                (now, now, outbox_id),
            )

    def mark_failed_attempt(self, outbox_id: int, error: str, *, give_up: bool) -> None:
        state = DeliveryState.FAILED if give_up else DeliveryState.PENDING
        with self._db.transaction() as tx:
            tx.execute(
                "UPDATE outbox SET state = %s, attempts = attempts + 1, last_error = %s, "
                "claimed_by = NULL, claimed_until = NULL, updated_at = %s WHERE id = %s",
                (state.value, error, _now(), outbox_id),
            )

    def requeue_failed(self) -> int:
        with self._db.transaction() as tx:
            cursor = tx.execute(
                "UPDATE outbox SET state = 'pending', updated_at = %s WHERE state = 'failed'",
                (_now(),),
            )
            return cursor.rowcount

    # -- job leases ----------------------------------------------------------------------

    def acquire_lease(self, name: str, owner: str, seconds: float, now: dt.datetime) -> bool:
        """Hold job `name` for `seconds` unless another owner holds an unexpired lease on it."""
        moment = rows.utc(now)
        with self._db.transaction() as tx:
            cursor = tx.execute(
                """
                INSERT INTO leases (name, owner, until) VALUES (%s, %s, %s)
                ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
                WHERE leases.owner = excluded.owner OR leases.until < %s
                """,
                (name, owner, moment + dt.timedelta(seconds=seconds), moment),
            )
            return cursor.rowcount > 0

    def release_lease(self, name: str, owner: str) -> None:
        with self._db.transaction() as tx:
            tx.execute("DELETE FROM leases WHERE name = %s AND owner = %s", (name, owner))

    def leases(self) -> list[Lease]:
        found = self._db.all("SELECT name, owner, until FROM leases ORDER BY name")
        return [Lease(name, owner, until.astimezone(dt.UTC)) for name, owner, until in found]

    # -- embeddings ----------------------------------------------------------------------

    def embeddings(self, ids: Iterable[str], model: str) -> dict[str, bytes]:
        found = self._db.all(
            "SELECT paper_id, vector FROM embeddings WHERE model = %s AND paper_id = ANY(%s)",
            (model, list(set(ids))),
        )
        return {paper_id: bytes(vector) for paper_id, vector in found}

    def save_embeddings(self, vectors: Mapping[str, bytes], model: str) -> None:
        if not vectors:
            return
        with self._db.transaction() as tx, tx.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO embeddings (paper_id, model, vector) VALUES (%s, %s, %s) "
                "ON CONFLICT (paper_id, model) DO UPDATE SET vector = excluded.vector",
                [(key, model, blob) for key, blob in vectors.items()],
            )

    def prune_embeddings(self, papers_seen_before: dt.datetime) -> int:
        """Drop vectors of papers not seen since the cut-off; profile vectors stay."""
        with self._db.transaction() as tx:
            cursor = tx.execute(
                "DELETE FROM embeddings e WHERE e.paper_id NOT LIKE 'profile:%%' AND NOT EXISTS "
                "(SELECT 1 FROM papers p WHERE p.id = e.paper_id AND p.last_seen >= %s)",
                (rows.utc(papers_seen_before),),
            )
            return cursor.rowcount

    # -- meta (the run history is in postgres_runs) ----------------------------------------

    def meta(self, key: str) -> str | None:
        row = self._db.one("SELECT value FROM meta WHERE key = %s", (key,))
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._db.transaction() as tx:
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
