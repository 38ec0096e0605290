"""The PostgreSQL backend's batched outbox: many digests written, claimed or marked sent in
one statement (one round trip), and the reads composing needs for a batch of subscribers.

A mixin of PostgresStore. Batches travel as arrays unnested on the server, so the statement
is the same whatever the batch's size (and stays prepared); a single statement is atomic by
itself, so none of these needs BEGIN and COMMIT round trips of its own.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence

from digest.models import OutboxItem
from digest.store import postgres_rows as rows
from digest.store.postgres_connection import Pool
from digest.store.roles import NewDigest

# When a ledger row was sent, as SQL over the row `{ledger}`: once its outbox row is sent, at
# that row's sent_at. A paper reserved again (a newer version) keeps in the ledger's own
# sent_at when it was sent before, while the newer message waits (the reservations copy it).
SENT_AT = (
    "coalesce((SELECT o.sent_at FROM outbox o WHERE o.id = {ledger}.outbox_id "
    "AND o.state = 'sent'), {ledger}.sent_at)"
)

# Writes the outbox rows and, from the ids they get, the ledger rows of their papers. The
# messages travel in binary (%b): as text, each 100 kB body would be hex-escaped into the
# array's literal in Python, which cost more than everything else a message needs here.
ENQUEUE = f"""
WITH digest AS (
    SELECT * FROM unnest(%s::bigint[], %s::text[], %s::date[], %s::text[], %b::bytea[],
                         %s::text[], %s::text[], %s::timestamptz[])
        AS d(subscriber_id, recipient, day, message_id, message, papers, state, at)
), written AS (
    INSERT INTO outbox (subscriber_id, recipient, day, message_id, message, paper_ids, state,
                        created_at, updated_at)
    SELECT subscriber_id, recipient, day, message_id, message,
           ARRAY(SELECT jsonb_array_elements_text(papers::jsonb)), state, at, at
    FROM digest
    ON CONFLICT (subscriber_id, day) DO NOTHING
    RETURNING id, subscriber_id, day
), reserved AS (
    INSERT INTO ledger (subscriber_id, paper_id, version, outbox_id, sent_at)
    SELECT p.subscriber_id, p.paper_id, p.version, written.id, NULL
    FROM unnest(%s::bigint[], %s::date[], %s::text[], %s::integer[])
        AS p(subscriber_id, day, paper_id, version)
    JOIN written USING (subscriber_id, day)
    ON CONFLICT (subscriber_id, paper_id) DO UPDATE SET
        version = excluded.version, outbox_id = excluded.outbox_id,
        sent_at = {SENT_AT.format(ledger="ledger")}
)
SELECT subscriber_id, day FROM written
"""

CLAIM = f"""
UPDATE outbox SET claimed_by = %s, claimed_until = %s
WHERE id IN (
    SELECT id FROM outbox
    WHERE state = 'pending' AND id > %s AND (claimed_until IS NULL OR claimed_until < %s)
    ORDER BY id LIMIT %s
    FOR UPDATE SKIP LOCKED)
RETURNING {rows.OUTBOX_COLUMNS}
"""

# Their ledger rows are sent with them (SENT_AT): one row per message is rewritten.
MARK_SENT = """
UPDATE outbox SET state = 'sent', attempts = attempts + 1, last_error = '',
    claimed_by = NULL, claimed_until = NULL, sent_at = %(now)s, updated_at = %(now)s
WHERE id = ANY(%(ids)s)
"""

CLAIM_TRIES = 20  # a claim that lost every row to other workers looks again this often


def rounds(digests: Sequence[NewDigest]) -> list[list[int]]:
    """Positions of `digests` in groups where each subscriber appears once: one statement
    may not reserve the same ledger row twice. Almost always one group."""
    groups: list[list[int]] = []
    seen: list[set[int]] = []
    for position, digest in enumerate(digests):
        for group, members in zip(groups, seen, strict=True):
            if digest.subscriber_id not in members:
                group.append(position)
                members.add(digest.subscriber_id)
                break
        else:
            groups.append([position])
            seen.append({digest.subscriber_id})
    return groups


def enqueue_params(digests: Sequence[NewDigest]) -> tuple[list[object], ...]:
    papers = [(d.subscriber_id, d.day, pid, version) for d in digests for pid, version in d.papers]
    return (
        [d.subscriber_id for d in digests],
        [d.recipient for d in digests],
        [d.day for d in digests],
        [d.message_id for d in digests],
        [d.message for d in digests],
        [json.dumps([paper_id for paper_id, _ in d.papers]) for d in digests],
        ["closed" if d.closes_day else "pending" for d in digests],
        [rows.utc(d.composed_at) for d in digests],
        [sid for sid, _, _, _ in papers],
        [day for _, day, _, _ in papers],
        [pid for _, _, pid, _ in papers],
        [version for _, _, _, version in papers],
    )


class PostgresBatches:
    """Mixed into PostgresStore, which provides `_db`."""

    _db: Pool

    def ledger_versions_of(
        self, subscriber_ids: Iterable[int], paper_ids: Iterable[str]
    ) -> dict[int, dict[str, int]]:
        found = self._db.all(
            "SELECT subscriber_id, paper_id, version FROM ledger "
            "WHERE subscriber_id = ANY(%s) AND paper_id = ANY(%s)",
            (list(set(subscriber_ids)), list(set(paper_ids))),
        )
        versions: dict[int, dict[str, int]] = {}
        for subscriber_id, paper_id, version in found:
            versions.setdefault(subscriber_id, {})[paper_id] = version
        return versions

    def digest_days_of(
        self, subscriber_ids: Iterable[int], days: Iterable[dt.date]
    ) -> set[tuple[int, dt.date]]:
        found = self._db.all(
            "SELECT subscriber_id, day FROM outbox WHERE subscriber_id = ANY(%s) AND day = ANY(%s)",
            (list(set(subscriber_ids)), sorted(set(days))),
        )
        return {(sid, day) for sid, day in found}

    def last_digests_at(self, subscriber_ids: Iterable[int]) -> dict[int, dt.datetime]:
        found = self._db.all(
            "SELECT subscriber_id, max(created_at) FROM outbox "
            "WHERE subscriber_id = ANY(%s) GROUP BY subscriber_id",
            (list(set(subscriber_ids)),),
        )
        return {sid: rows.utc(last) for sid, last in found if last}

    def enqueue_many(self, digests: Sequence[NewDigest]) -> tuple[bool, ...]:
        if not digests:
            return ()
        written = [False] * len(digests)
        groups = rounds(digests)
        # One group is one statement, atomic by itself; more need a transaction around them.
        opened = self._db.transaction() if len(groups) > 1 else self._db.connection()
        with opened as conn:
            for group in groups:
                batch = [digests[position] for position in group]
                found = conn.execute(ENQUEUE.encode(), enqueue_params(batch)).fetchall()
                made = {(sid, day) for sid, day in found}
                for position, digest in zip(group, batch, strict=True):
                    written[position] = (digest.subscriber_id, digest.day) in made
        return tuple(written)

    def unclaimed_pending_count(self) -> int:
        row = self._db.one(
            "SELECT count(*) FROM outbox WHERE state = 'pending' AND claimed_by IS NULL"
        )
        return int(row[0]) if row else 0

    def claim_batch(
        self, worker: str, lease_seconds: float, now: dt.datetime, limit: int, *, after_id: int = 0
    ) -> list[OutboxItem]:
        """Up to `limit` pending messages nobody holds. SKIP LOCKED passes over rows another
        worker is claiming right now; a row this one locks is re-checked, so an expired claim
        is taken over once. One statement, so no BEGIN/COMMIT round trips."""
        if limit <= 0:
            return []
        moment = rows.utc(now)
        until = moment + dt.timedelta(seconds=lease_seconds)
        for _ in range(CLAIM_TRIES):
            with self._db.connection() as conn:
                # Rows in binary: each message's bytes as they are, not hex text to decode.
                claimed = conn.execute(
                    CLAIM.encode(), (worker, until, after_id, moment, limit), binary=True
                ).fetchall()
            if claimed:
                items = (rows.outbox_item(row) for row in claimed)
                return sorted(items, key=lambda item: item.id)
            # No row can also mean the ones this statement picked were claimed and committed
            # by another worker in between: look again while something claimable is left.
            left = self._db.one(
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE state = 'pending' AND id > %s "
                "AND (claimed_until IS NULL OR claimed_until < %s))",
                (after_id, moment),
            )
            if not left or not left[0]:
                return []
        return []

    def mark_sent_many(self, outbox_ids: Sequence[int]) -> None:
        if not outbox_ids:
            return
        with self._db.connection() as conn:
            conn.execute(
                MARK_SENT.encode(), {"now": dt.datetime.now(dt.UTC), "ids": list(outbox_ids)}
            )

    def mark_sent_and_claim(
        self, sent: Sequence[int], owner: str, lease: float, at: dt.datetime, limit: int, after: int
    ) -> list[OutboxItem]:
        """The two statements in turn, each atomic by itself: the server's commits are cheap
        next to SQLite's, and the claim keeps its own retries over SKIP LOCKED."""
        self.mark_sent_many(sent)
        return self.claim_batch(owner, lease, at, limit, after_id=after)
