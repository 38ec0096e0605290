"""The SQLite backend's sending window (SendWindow, migration 6) and outbox pruning.

A mixin of SqliteStore. Reserving slots runs in one IMMEDIATE transaction (the database's
write lock), so two processes never take the same slot; the decision is digest.store.window's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from digest.store import sqlite_rows as rows
from digest.store import window
from digest.store.roles import PruneCount, SendGrant, SendLimits
from digest.store.sqlite_connection import Connection

PACE = "smtp"  # the one pace row: every worker sends through the same provider


class SqliteSending:
    _db: Connection

    def reserve_sends(self, count: int, limits: SendLimits, now: dt.datetime) -> SendGrant:
        if count <= 0 or limits.unlimited:
            return SendGrant((now,) * max(0, count))
        with self._db.transaction() as tx:
            tx.execute(
                "DELETE FROM send_counts WHERE start <= ? OR start > ?",
                (rows.stamp(window.oldest_kept(now)), rows.stamp(window.newest_kept(now, limits))),
            )
            found = tx.execute("SELECT next_at FROM send_pace WHERE name = ?", (PACE,)).fetchone()
            next_at = rows.moment(found[0]) if found and found[0] else None
            in_window = 0
            if limits.per_day > 0:
                total = tx.execute("SELECT coalesce(sum(sent), 0) FROM send_counts").fetchone()
                in_window = int(total[0]) if total else 0
            plan = window.plan_sends(count, limits, now, next_at, in_window)
            if plan.slots and plan.next_at != next_at and plan.next_at is not None:
                tx.execute(
                    "INSERT INTO send_pace (name, next_at) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET next_at = excluded.next_at",
                    (PACE, rows.stamp(plan.next_at)),
                )
            tx.executemany(
                "INSERT INTO send_counts (start, sent) VALUES (?, ?) "
                "ON CONFLICT (start) DO UPDATE SET sent = send_counts.sent + excluded.sent",
                [(rows.stamp(start), sent) for start, sent in plan.counts.items()],
            )
            full_until = None
            if len(plan.slots) < count:
                minutes = tx.execute("SELECT start, sent FROM send_counts ORDER BY start")
                full_until = window.room_again_at(
                    limits,
                    ((rows.moment(start), sent) for start, sent in minutes.fetchall()),
                    in_window + len(plan.slots),
                )
        return SendGrant(plan.slots, full_until)

    def give_back_sends(self, slots: Sequence[dt.datetime]) -> None:
        if not slots:
            return
        with self._db.transaction() as tx:
            tx.executemany(
                "UPDATE send_counts SET sent = max(sent - 1, 0) WHERE start = ?",
                [(rows.stamp(window.bucket_of(slot)),) for slot in slots],
            )

    def send_window_full_until(self, limits: SendLimits, now: dt.datetime) -> dt.datetime | None:
        if limits.per_day <= 0:
            return None
        found = self._db.all(
            "SELECT start, sent FROM send_counts WHERE start > ? AND start <= ? ORDER BY start",
            (rows.stamp(window.oldest_kept(now)), rows.stamp(window.newest_kept(now, limits))),
        )
        minutes = [(rows.moment(start), int(sent)) for start, sent in found]
        return window.room_again_at(limits, minutes, sum(sent for _, sent in minutes))

    def release_claim(self, outbox_id: int, worker: str) -> bool:
        with self._db.transaction() as tx:
            cursor = tx.execute(
                "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL "
                "WHERE id = ? AND claimed_by = ? AND state = 'pending'",
                (outbox_id, worker),
            )
            return cursor.rowcount > 0

    def prune_sent(self, sent_before: dt.datetime) -> PruneCount:
        # Walks the bodies still kept (keep_days of them), not the whole history of sent rows.
        old = (
            "SELECT b.outbox_id FROM outbox_bodies b JOIN outbox o ON o.id = b.outbox_id "
            "WHERE o.state = 'sent' AND o.sent_at < ?"
        )
        cut = (rows.stamp(sent_before),)
        with self._db.transaction() as tx:
            found = tx.execute(
                "SELECT count(*), coalesce(sum(length(message)), 0) FROM outbox_bodies "
                f"WHERE outbox_id IN ({old})",
                cut,
            ).fetchone()
            tx.execute(f"DELETE FROM outbox_bodies WHERE outbox_id IN ({old})", cut)
        return PruneCount(int(found[0]), int(found[1])) if found else PruneCount()
