"""The SQLite backend's batched outbox: many digests written, claimed or marked sent in one
transaction, and the reads composing needs for a whole batch of subscribers in one statement.

A mixin of SqliteStore. The single-message methods (enqueue, claim_pending, mark_sent) keep
their meaning; these do the same for a batch, so a run pays one lock and one commit per batch
instead of one per message. Lists of ids travel as one JSON parameter (json_each), so no
batch runs into SQLite's limit on bound parameters.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Sequence

from digest.models import OutboxItem
from digest.store import sqlite_rows as rows
from digest.store.body_memo import BodyMemo
from digest.store.roles import NewDigest
from digest.store.sqlite_connection import Connection

INSERT_MESSAGE = """
    INSERT INTO outbox (subscriber_id, recipient, day, message_id, message, paper_ids,
                        created_at, updated_at)
    VALUES (?, ?, ?, ?, x'', ?, ?, ?)
    ON CONFLICT (subscriber_id, day) DO NOTHING
    RETURNING id
"""
INSERT_BODY = "INSERT INTO outbox_bodies (outbox_id, message) VALUES (?, ?)"
INSERT_CLOSED = """
    INSERT INTO outbox (subscriber_id, recipient, day, message_id, message, paper_ids, state,
                        created_at, updated_at)
    VALUES (?, ?, ?, '', x'', '[]', 'closed', ?, ?)
    ON CONFLICT (subscriber_id, day) DO NOTHING
    RETURNING id
"""
# When a ledger row was sent, as an SQL expression over the row `{ledger}`: a row is sent
# once its outbox row is, so marking a message sent rewrites that one row, not one per paper.
# A paper reserved again (a newer version) keeps in the ledger's own sent_at when it was sent
# before, for as long as the newer message waits (RESERVE_PAPERS copies it there).
SENT_AT = (
    "coalesce((SELECT o.sent_at FROM outbox o WHERE o.id = {ledger}.outbox_id "
    "AND o.state = 'sent'), {ledger}.sent_at)"
)
RESERVE_PAPERS = f"""
    INSERT INTO ledger (subscriber_id, paper_id, version, outbox_id, sent_at)
    VALUES (?, ?, ?, ?, NULL)
    ON CONFLICT (subscriber_id, paper_id) DO UPDATE SET
        version = excluded.version, outbox_id = excluded.outbox_id,
        sent_at = {SENT_AT.format(ledger="ledger")}
"""


def id_list(values: Iterable[object]) -> str:
    """A JSON array for `json_each(?)`: any number of ids in one bound parameter."""
    return json.dumps(list(dict.fromkeys(values)))


def write_digests(tx: sqlite3.Connection, digests: Sequence[NewDigest]) -> list[int | None]:
    """Inside a write transaction: each digest's outbox row, its body (once) and its ledger
    rows; the new row's id, or None where that subscriber's day had a row already."""
    ids: list[int | None] = []
    bodies: list[tuple[int, bytes]] = []
    reserved: list[tuple[int, str, int, int]] = []
    for digest in digests:
        on, now = digest.day.isoformat(), rows.stamp(digest.composed_at)
        if digest.closes_day:
            row = tx.execute(
                INSERT_CLOSED, (digest.subscriber_id, digest.recipient, on, now, now)
            ).fetchone()
        else:
            listed = json.dumps([paper_id for paper_id, _ in digest.papers])
            values = (digest.subscriber_id, digest.recipient, on, digest.message_id, listed)
            row = tx.execute(INSERT_MESSAGE, (*values, now, now)).fetchone()
        ids.append(row[0] if row is not None else None)
        if row is not None and not digest.closes_day:
            bodies.append((row[0], digest.message))
            reserved.extend(
                (digest.subscriber_id, paper_id, version, row[0])
                for paper_id, version in digest.papers
            )
    tx.executemany(INSERT_BODY, bodies)
    tx.executemany(RESERVE_PAPERS, reserved)
    return ids


class SqliteBatches:
    """Mixed into SqliteStore, which provides `_db` and `_bodies`."""

    _db: Connection
    _bodies: BodyMemo

    def ledger_versions_of(
        self, subscriber_ids: Iterable[int], paper_ids: Iterable[str]
    ) -> dict[int, dict[str, int]]:
        # `+paper_id`: walk each subscriber's ledger rows (their history, in key order) and
        # test each against the wanted set, rather than probing every (subscriber, paper).
        found = self._db.all(
            "SELECT subscriber_id, paper_id, version FROM ledger "
            "WHERE subscriber_id IN (SELECT value FROM json_each(?)) "
            "AND +paper_id IN (SELECT value FROM json_each(?))",
            (id_list(subscriber_ids), id_list(paper_ids)),
        )
        versions: dict[int, dict[str, int]] = {}
        for subscriber_id, paper_id, version in found:
            versions.setdefault(subscriber_id, {})[paper_id] = version
        return versions

    def digest_days_of(
        self, subscriber_ids: Iterable[int], days: Iterable[dt.date]
    ) -> set[tuple[int, dt.date]]:
        found = self._db.all(
            "SELECT subscriber_id, day FROM outbox "
            "WHERE subscriber_id IN (SELECT value FROM json_each(?)) "
            "AND day IN (SELECT value FROM json_each(?))",
            (id_list(subscriber_ids), id_list(sorted(d.isoformat() for d in set(days)))),
        )
        return {(sid, rows.day(day)) for sid, day in found}

    def last_digests_at(self, subscriber_ids: Iterable[int]) -> dict[int, dt.datetime]:
        found = self._db.all(
            "SELECT subscriber_id, max(created_at) FROM outbox "
            "WHERE subscriber_id IN (SELECT value FROM json_each(?)) GROUP BY subscriber_id",
            (id_list(subscriber_ids),),
        )
        return {sid: rows.moment(last) for sid, last in found if last}

    def enqueue_many(self, digests: Sequence[NewDigest]) -> tuple[bool, ...]:
        if not digests:
            return ()
        with self._db.transaction() as tx:
            ids = write_digests(tx, digests)
        # Committed: this process's next claims may take these bodies from memory.
        self._bodies.remember(
            (outbox_id, digest.message_id, digest.message)
            for digest, outbox_id in zip(digests, ids, strict=True)
            if outbox_id is not None and not digest.closes_day
        )
        return tuple(outbox_id is not None for outbox_id in ids)

    def unclaimed_pending_count(self) -> int:
        row = self._db.one(
            "SELECT count(*) FROM outbox WHERE state = 'pending' AND claimed_by IS NULL"
        )
        return int(row[0]) if row else 0

    def claim_batch(
        self, worker: str, lease_seconds: float, now: dt.datetime, limit: int, *, after_id: int = 0
    ) -> list[OutboxItem]:
        """Up to `limit` pending messages nobody holds, in one UPDATE under the write lock (so
        no two processes claim the same row); expired claims are taken over."""
        if limit <= 0:
            return []
        with self._db.transaction() as tx:
            return claim_in(tx, worker, lease_seconds, now, limit, after_id, self._bodies)

    def mark_sent_many(self, outbox_ids: Sequence[int]) -> None:
        if not outbox_ids:
            return
        with self._db.transaction() as tx:
            mark_sent_in(tx, outbox_ids)

    def mark_sent_and_claim(
        self, sent: Sequence[int], owner: str, lease: float, at: dt.datetime, limit: int, after: int
    ) -> list[OutboxItem]:
        """One lock and one commit for both: the outbox rows the two touch are neighbours,
        so their pages go to the log once instead of twice."""
        if not sent and limit <= 0:
            return []
        with self._db.transaction() as tx:
            if sent:
                mark_sent_in(tx, sent)
            if limit <= 0:
                return []
            return claim_in(tx, owner, lease, at, limit, after, self._bodies)


def claim_in(
    tx: sqlite3.Connection,
    worker: str,
    lease_seconds: float,
    now: dt.datetime,
    limit: int,
    after_id: int,
    bodies: BodyMemo,
) -> list[OutboxItem]:
    """Inside a write transaction: claim up to `limit` messages, in id order. Their bodies
    come from `bodies` where this process wrote them, else from the database."""
    stamp = rows.stamp(now)
    until = rows.stamp(now + dt.timedelta(seconds=lease_seconds))
    claimed = tx.execute(
        f"""
        UPDATE outbox SET claimed_by = ?, claimed_until = ?
        WHERE id IN (
            SELECT id FROM outbox
            WHERE state = 'pending' AND id > ?
              AND (claimed_until IS NULL OR claimed_until < ?)
            ORDER BY id LIMIT ?)
        RETURNING {rows.BODILESS_COLUMNS}
        """,
        (worker, until, after_id, stamp, limit),
    ).fetchall()
    if not claimed:
        return []
    claimed.sort(key=lambda row: int(row[0]))
    found: dict[int, bytes] = {}
    for outbox_id, *_, message_id in (row[:5] for row in claimed):
        if (body := bodies.take(outbox_id, message_id)) is not None:
            found[outbox_id] = body
    bodies.forget_through(claimed[-1][0])
    if missing := [row[0] for row in claimed if row[0] not in found]:
        found.update(
            tx.execute(
                f"SELECT id, {rows.MESSAGE} FROM outbox "
                "WHERE id IN (SELECT value FROM json_each(?))",
                (id_list(missing),),
            ).fetchall()
        )
    return [rows.outbox_item(rows.with_body(row, found[row[0]])) for row in claimed]


def mark_sent_in(tx: sqlite3.Connection, outbox_ids: Sequence[int]) -> None:
    """Inside a write transaction: these messages, and so their ledger rows, are sent."""
    now = rows.now_stamp()
    tx.execute(
        "UPDATE outbox SET state = 'sent', attempts = attempts + 1, last_error = '', "
        "claimed_by = NULL, claimed_until = NULL, sent_at = ?, updated_at = ? "
        "WHERE id IN (SELECT value FROM json_each(?))",
        (now, now, id_list(outbox_ids)),
    )
