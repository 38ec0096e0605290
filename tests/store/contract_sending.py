"""The store contract's part on sending: the provider's limits held in the database for every
worker together (SendWindow), and pruning old message bodies (Outbox.prune_sent). Mixed into
StoreContract, so it runs on every backend."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

from digest.models import DeliveryState, Profile, Subscriber, Term, Topic
from digest.store.roles import SendLimits, Store

NOON = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
DAY = dt.timedelta(days=1)

Reopen = Callable[..., AbstractContextManager[Store]]


PROFILE = Profile(topics=(Topic("main", (Term("x"),)),))


def seconds(n: float) -> dt.timedelta:
    return dt.timedelta(seconds=n)


class SendingContract:
    def test_unlimited_sends_at_once_and_writes_nothing(self, store: Store) -> None:
        grant = store.reserve_sends(3, SendLimits(), NOON)
        assert grant.slots == (NOON, NOON, NOON) and grant.full_until is None
        assert store.send_window_full_until(SendLimits(per_day=1), NOON) is None

    def test_slots_are_paced_across_connections_and_a_quiet_spell_earns_no_burst(
        self, store: Store, reopen: Reopen
    ) -> None:
        pace = SendLimits(per_second=10)
        assert store.reserve_sends(3, pace, NOON).slots == (
            NOON,
            NOON + seconds(0.1),
            NOON + seconds(0.2),
        )
        with reopen() as other:  # another worker, same database: the pace is shared
            assert other.reserve_sends(1, pace, NOON + seconds(0.05)).slots == (
                NOON + seconds(0.3),
            )
        later = NOON + seconds(5)
        assert store.reserve_sends(2, pace, later).slots == (later, later + seconds(0.1))
        # A pace set by a clock far ahead (a mistaken --now) is not waited for.
        store.reserve_sends(1, pace, NOON + DAY * 30)
        assert store.reserve_sends(1, pace, later + seconds(1)).slots == (later + seconds(1),)

    def test_the_daily_cap_is_a_sliding_window_held_for_everyone(
        self, store: Store, reopen: Reopen
    ) -> None:
        cap = SendLimits(per_day=5)
        assert len(store.reserve_sends(3, cap, NOON).slots) == 3
        with reopen() as other:
            grant = other.reserve_sends(4, cap, NOON + dt.timedelta(hours=1))
        assert len(grant.slots) == 2
        # Room again once noon's minute has left the window: 24 hours after it ended.
        opens = NOON + MINUTE + DAY
        assert grant.full_until == opens
        assert store.send_window_full_until(cap, NOON + dt.timedelta(hours=2)) == opens
        assert store.reserve_sends(1, cap, opens - seconds(1)).slots == ()
        # The hour-later sends still count: 3 of 5 free then, not 5.
        assert len(store.reserve_sends(5, cap, opens).slots) == 3
        hour_later_leaves = NOON + dt.timedelta(hours=1) + MINUTE + DAY
        assert store.send_window_full_until(cap, opens) == hour_later_leaves
        # Slots given back (nothing was left to send) are room again.
        store.give_back_sends([opens, opens])
        assert store.send_window_full_until(cap, opens) is None
        assert len(store.reserve_sends(5, cap, opens).slots) == 2

    def test_workers_reserving_at_once_never_exceed_the_cap(
        self, store: Store, reopen: Reopen
    ) -> None:
        cap = SendLimits(per_second=1000, per_day=50)
        got: dict[str, int] = {"a": 0, "b": 0, "c": 0}
        start = threading.Barrier(len(got))

        def worker(name: str) -> None:
            with reopen() as own:
                start.wait()
                while own.reserve_sends(1, cap, NOON).slots:
                    got[name] += 1

        threads = [threading.Thread(target=worker, args=(name,)) for name in got]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(got.values()) == 50
        assert store.reserve_sends(1, cap, NOON).full_until == NOON + MINUTE + DAY

    def test_one_claim_is_given_back_and_the_others_are_kept(self, store: Store) -> None:
        for name in ("a", "b"):
            sub = store.save_subscriber(Subscriber(f"{name}@example.org", PROFILE))
            assert sub.id is not None
            store.enqueue(
                subscriber_id=sub.id,
                recipient=sub.email,
                day=NOON.date(),
                message_id=f"<{name}@x>",
                message=b"Subject: s\r\n\r\nbody",
                papers=[],
                composed_at=NOON,
            )
        first = store.claim_pending("w", 60, NOON)
        second = store.claim_pending("w", 60, NOON, after_id=first.id if first else 0)
        assert first is not None and second is not None
        assert not store.release_claim(first.id, "someone else")
        assert store.release_claim(first.id, "w")
        assert [c.outbox_id for c in store.claims()] == [second.id]
        again = store.claim_pending("v", 60, NOON)
        assert again is not None and again.id == first.id

    def test_pruning_empties_old_sent_bodies_and_keeps_the_ledger(self, store: Store) -> None:
        body = b"Subject: s\r\n\r\n" + b"x" * 1000
        old = store.save_subscriber(Subscriber("old@example.org", PROFILE))
        waiting = store.save_subscriber(Subscriber("waiting@example.org", PROFILE))
        items = []
        for sub in (old, waiting):
            assert sub.id is not None
            items.append(
                store.enqueue(
                    subscriber_id=sub.id,
                    recipient=sub.email,
                    day=NOON.date(),
                    message_id=f"<{sub.id}@x>",
                    message=body,
                    papers=[("2401.00001", 1)],
                    composed_at=NOON,
                )
            )
        store.mark_sent(items[0].id)
        assert store.prune_sent(dt.datetime.now(dt.UTC) - DAY).messages == 0  # too recent
        pruned = store.prune_sent(dt.datetime.now(dt.UTC) + MINUTE)
        assert (pruned.messages, pruned.bytes) == (1, len(body))
        assert old.id is not None and waiting.id is not None
        kept = store.outbox_for(old.id, NOON.date())
        assert kept is not None and kept.message == b"" and kept.state is DeliveryState.SENT
        assert kept.message_id == items[0].message_id and kept.paper_ids == ("2401.00001",)
        assert set(store.ledger_sent(old.id, ["2401.00001"])) == {"2401.00001"}
        assert store.digest_days([NOON.date()]) == {
            (old.id, NOON.date()),
            (waiting.id, NOON.date()),
        }
        assert store.pending() == [items[1]]  # a pending message keeps its body
        assert store.prune_sent(dt.datetime.now(dt.UTC) + MINUTE).messages == 0
