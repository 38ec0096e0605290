"""The PostgreSQL backend's sending window (SendWindow, its migration 3) and outbox pruning,
as digest.store.sqlite_sending does them for SQLite.

A reservation locks the one `send_pace` row (`FOR UPDATE`): workers on every machine
reserve one after another, each reading the counts only once it holds the lock (a fresh
snapshot per statement under READ COMMITTED, so it sees the previous holder's writes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from digest.store import postgres_rows as rows
from digest.store import window
from digest.store.postgres_connection import Pool
from digest.store.roles import PruneCount, SendGrant, SendLimits

PACE = "smtp"


class PostgresSending:
    _db: Pool

    def reserve_sends(self, count: int, limits: SendLimits, now: dt.datetime) -> SendGrant:
        if count <= 0 or limits.unlimited:
            return SendGrant((now,) * max(0, count))
        now = rows.utc(now)
        oldest, newest = window.oldest_kept(now), window.newest_kept(now, limits)
        with self._db.transaction() as tx:
            found = tx.execute(
                "SELECT next_at FROM send_pace WHERE name = %s FOR UPDATE", (PACE,)
            ).fetchone()
            next_at = rows.utc(found[0]) if found and found[0] else None
            in_window = 0
            if limits.per_day > 0:
                total = tx.execute(
                    "SELECT coalesce(sum(sent), 0) FROM send_counts "
                    "WHERE start > %s AND start <= %s",
                    (oldest, newest),
                ).fetchone()
                in_window = int(total[0]) if total else 0
            plan = window.plan_sends(count, limits, now, next_at, in_window)
            if plan.next_at != next_at:
                tx.execute(
                    "UPDATE send_pace SET next_at = %s WHERE name = %s", (plan.next_at, PACE)
                )
            if plan.counts:
                # The counts of this minute, and the minutes that left the window, at once.
                tx.execute(
                    """
                    WITH gone AS (
                        DELETE FROM send_counts
                        WHERE start <= %(oldest)s
                           OR (start > %(newest)s AND start <> ALL(%(starts)s::timestamptz[])))
                    INSERT INTO send_counts (start, sent)
                    SELECT * FROM unnest(%(starts)s::timestamptz[], %(sent)s::integer[])
                    ON CONFLICT (start) DO UPDATE SET sent = send_counts.sent + excluded.sent
                    """,
                    {
                        "oldest": oldest,
                        "newest": newest,
                        "starts": list(plan.counts),
                        "sent": list(plan.counts.values()),
                    },
                )
            full_until = None
            if len(plan.slots) < count:
                minutes = tx.execute(
                    "SELECT start, sent FROM send_counts WHERE start > %s AND start <= %s "
                    "ORDER BY start",
                    (oldest, newest),
                ).fetchall()
                full_until = window.room_again_at(
                    limits,
                    ((rows.utc(start), sent) for start, sent in minutes),
                    in_window + len(plan.slots),
                )
        return SendGrant(plan.slots, full_until)

    def give_back_sends(self, slots: Sequence[dt.datetime]) -> None:
        if not slots:
            return
        minutes = [window.bucket_of(rows.utc(slot)) for slot in slots]
        with self._db.transaction() as tx:
            tx.execute(
                """
                UPDATE send_counts c SET sent = greatest(c.sent - back.n, 0)
                FROM (SELECT m, count(*) AS n FROM unnest(%s::timestamptz[]) AS m GROUP BY m)
                    AS back
                WHERE c.start = back.m
                """,
                (minutes,),
            )

    def send_window_full_until(self, limits: SendLimits, now: dt.datetime) -> dt.datetime | None:
        if limits.per_day <= 0:
            return None
        now = rows.utc(now)
        found = self._db.all(
            "SELECT start, sent FROM send_counts WHERE start > %s AND start <= %s ORDER BY start",
            (window.oldest_kept(now), window.newest_kept(now, limits)),
        )
        minutes = [(rows.utc(start), int(sent)) for start, sent in found]
        return window.room_again_at(limits, minutes, sum(sent for _, sent in minutes))

    def release_claim(self, outbox_id: int, worker: str) -> bool:
        with self._db.transaction() as tx:
            cursor = tx.execute(
                "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL "
                "WHERE id = %s AND claimed_by = %s AND state = 'pending'",
                (outbox_id, worker),
            )
            return cursor.rowcount > 0

    def prune_sent(self, sent_before: dt.datetime) -> PruneCount:
        with self._db.transaction() as tx:
            found = tx.execute(
                """
                WITH pruned AS (
                    UPDATE outbox o SET message = ''::bytea
                    FROM (SELECT id, octet_length(message) AS size FROM outbox
                          WHERE state = 'sent' AND octet_length(message) > 0
                            AND sent_at < %s
                          FOR UPDATE) AS old
                    WHERE o.id = old.id
                    RETURNING old.size)
                SELECT count(*), coalesce(sum(size), 0) FROM pruned
                """,
                (rows.utc(sent_before),),
            ).fetchone()
        return PruneCount(int(found[0]), int(found[1])) if found else PruneCount()
