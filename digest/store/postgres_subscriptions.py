"""The PostgreSQL backend's subscription states, votes and paper stamps (its migration 2):
the roles the subscriber's web pages use (Subscriptions, Feedback, PaperStamps), as
digest.store.sqlite_subscriptions does them for SQLite.

A mixin of PostgresStore; it uses the store's pool, so every error surfaces as a StoreError
naming the database (without its password).
"""

from __future__ import annotations

import datetime as dt
import json

from digest.config.profiles import profile_to_dict
from digest.errors import StoreError
from digest.models import Subscriber
from digest.store import postgres_rows as rows
from digest.store.postgres_connection import Pool, Row
from digest.store.roles import SubscriberRecord, SubscriberState, Vote, VoteRecord

RECORD_COLUMNS = f"{rows.SUBSCRIBER_COLUMNS}, state, updated_at, confirmed_at, pending_until"
# The states a subscription may be moved to, and from which.
_MOVES = {
    SubscriberState.PAUSED: ("active",),
    SubscriberState.ACTIVE: ("paused",),
    SubscriberState.UNSUBSCRIBED: ("active", "paused", "pending"),
}


def _record(row: Row) -> SubscriberRecord:
    subscriber = rows.subscriber(row[:7])
    state, updated, confirmed, until = row[7:11]
    assert subscriber.created is not None
    return SubscriberRecord(
        subscriber=subscriber,
        state=SubscriberState(state),
        created_at=subscriber.created,
        updated_at=updated.astimezone(dt.UTC),
        confirmed_at=confirmed.astimezone(dt.UTC) if confirmed else None,
        pending_until=until.astimezone(dt.UTC) if until else None,
    )


class PostgresSubscriptions:
    _db: Pool

    def subscriber(self, email: str) -> Subscriber | None:
        raise NotImplementedError  # SqliteStore's

    def subscriber_record(self, email: str) -> SubscriberRecord | None:
        row = self._db.one(
            f"SELECT {RECORD_COLUMNS} FROM subscribers WHERE email_key = lower(%s)", (email,)
        )
        return _record(row) if row else None

    def subscriber_records(self) -> list[SubscriberRecord]:
        return [
            _record(row)
            for row in self._db.all(f"SELECT {RECORD_COLUMNS} FROM subscribers ORDER BY id")
        ]

    def request_subscription(
        self, subscriber: Subscriber, *, nonce: str, until: dt.datetime, now: dt.datetime
    ) -> SubscriberRecord:
        profile = json.dumps(profile_to_dict(subscriber.profile), ensure_ascii=False)
        clock = subscriber.deliver_at.replace(second=0, microsecond=0, tzinfo=None)
        stamp, lapse = now, until
        with self._db.transaction() as tx:
            row = tx.execute(
                "SELECT state FROM subscribers WHERE email_key = lower(%s)", (subscriber.email,)
            ).fetchone()
            if row is None:
                tx.execute(
                    "INSERT INTO subscribers (email, email_key, profile, deliver_at, timezone, "
                    "active, state, confirm_nonce, pending_until, created_at, updated_at) "
                    "VALUES (%s, lower(%s), %s, %s, %s, false, 'pending', %s, %s, %s, %s)",
                    (
                        *(subscriber.email, subscriber.email, profile, clock, subscriber.timezone),
                        *(nonce, lapse, stamp, stamp),
                    ),
                )
            elif row[0] in (SubscriberState.PENDING, SubscriberState.UNSUBSCRIBED):
                tx.execute(
                    "UPDATE subscribers SET profile = %s, deliver_at = %s, timezone = %s, "
                    "active = false, state = 'pending', confirm_nonce = %s, pending_until = %s, "
                    "updated_at = %s WHERE email_key = lower(%s)",
                    (profile, clock, subscriber.timezone, nonce, lapse, stamp, subscriber.email),
                )
        record = self.subscriber_record(subscriber.email)
        assert record is not None
        return record

    def confirm_subscription(
        self, email: str, nonce: str, now: dt.datetime
    ) -> SubscriberRecord | None:
        stamp = now
        with self._db.transaction() as tx:
            changed = tx.execute(
                "UPDATE subscribers SET state = 'active', active = true, confirm_nonce = NULL, "
                "pending_until = NULL, confirmed_at = %s, updated_at = %s "
                "WHERE email_key = lower(%s) AND state = 'pending' AND confirm_nonce = %s "
                "AND pending_until >= %s",
                (stamp, stamp, email, nonce, stamp),
            ).rowcount
        return self.subscriber_record(email) if changed else None

    def set_subscriber_state(self, email: str, state: SubscriberState, now: dt.datetime) -> bool:
        if state not in _MOVES:
            raise StoreError(f"{self._db.name}: a subscription cannot be set to {state.value}")
        sources = ", ".join(f"'{name}'" for name in _MOVES[state])
        with self._db.transaction() as tx:
            cursor = tx.execute(
                "UPDATE subscribers SET state = %s, active = %s, confirm_nonce = NULL, "
                f"updated_at = %s WHERE email_key = lower(%s) AND state IN ({sources})",
                (state.value, state is SubscriberState.ACTIVE, now, email),
            )
            return cursor.rowcount > 0

    def update_subscriber(self, subscriber: Subscriber, now: dt.datetime) -> Subscriber | None:
        profile = json.dumps(profile_to_dict(subscriber.profile), ensure_ascii=False)
        clock = subscriber.deliver_at.replace(second=0, microsecond=0, tzinfo=None)
        with self._db.transaction() as tx:
            tx.execute(
                "UPDATE subscribers SET profile = %s, deliver_at = %s, timezone = %s, "
                "updated_at = %s WHERE email_key = lower(%s)",
                (profile, clock, subscriber.timezone, now, subscriber.email),
            )
        return self.subscriber(subscriber.email)

    def expire_pending(self, now: dt.datetime) -> int:
        """Lapsed sign-ups: forgotten, or back to unsubscribed if they had digests before."""
        stamp = now
        lapsed = "state = 'pending' AND pending_until < %s"
        with self._db.transaction() as tx:
            gone = tx.execute(
                f"DELETE FROM subscribers WHERE {lapsed} "
                "AND id NOT IN (SELECT subscriber_id FROM outbox) "
                "AND id NOT IN (SELECT subscriber_id FROM votes)",
                (stamp,),
            ).rowcount
            back = tx.execute(
                "UPDATE subscribers SET state = 'unsubscribed', confirm_nonce = NULL, "
                f"pending_until = NULL, updated_at = %s WHERE {lapsed}",
                (stamp, stamp),
            ).rowcount
            return int(gone + back)

    def record_vote(self, subscriber_id: int, paper_id: str, vote: Vote, at: dt.datetime) -> None:
        with self._db.transaction() as tx:
            tx.execute(
                "INSERT INTO votes (subscriber_id, paper_id, vote, at) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (subscriber_id, paper_id) DO UPDATE SET "
                "vote = excluded.vote, at = excluded.at",
                (subscriber_id, paper_id, Vote(vote).value, at),
            )

    def undo_vote(self, subscriber_id: int, paper_id: str) -> bool:
        with self._db.transaction() as tx:
            cursor = tx.execute(
                "DELETE FROM votes WHERE subscriber_id = %s AND paper_id = %s",
                (subscriber_id, paper_id),
            )
            return cursor.rowcount > 0

    def votes(self, subscriber_id: int) -> list[VoteRecord]:
        found = self._db.all(
            "SELECT paper_id, vote, at FROM votes WHERE subscriber_id = %s "
            "ORDER BY at DESC, paper_id",
            (subscriber_id,),
        )
        return [
            VoteRecord(subscriber_id, paper, Vote(vote), at.astimezone(dt.UTC))
            for paper, vote, at in found
        ]

    def papers_stamp(self) -> tuple[int, dt.datetime | None]:
        row = self._db.one("SELECT count(*), max(last_seen) FROM papers")
        count, latest = row if row else (0, None)
        return int(count), latest.astimezone(dt.UTC) if latest else None
