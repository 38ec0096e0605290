"""The store contract's part on the batched outbox: digests written, claimed and marked sent
many at a time, and composing's reads for many subscribers at once. Each batch method must
mean exactly what its single-message counterpart means. Mixed into StoreContract, so it runs
on every backend."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

from digest.models import DeliveryState, Profile, Subscriber, Term, Topic
from digest.store.roles import NewDigest, Store

NOON = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
DAY = NOON.date()
MANY = 1201  # more ids than any one statement's parameter limit a backend may chunk at

Reopen = Callable[..., AbstractContextManager[Store]]

PROFILE = Profile(topics=(Topic("main", (Term("x"),)),))


def people(store: Store, count: int) -> list[Subscriber]:
    return [store.save_subscriber(Subscriber(f"p{n}@example.org", PROFILE)) for n in range(count)]


def digest(
    subscriber: Subscriber,
    papers: tuple[tuple[str, int], ...] = (),
    *,
    day: dt.date = DAY,
    closes: bool = False,
) -> NewDigest:
    assert subscriber.id is not None
    if closes:
        return NewDigest(subscriber.id, subscriber.email, day, NOON)
    return NewDigest(
        subscriber.id,
        subscriber.email,
        day,
        NOON,
        message_id=f"<{subscriber.id}.{day}@x>",
        message=b"Subject: s\r\n\r\n" + bytes(range(256)) * 40,  # every byte value, 10 kB
        papers=papers,
    )


class OutboxBatchContract:
    def test_a_batch_writes_messages_and_closed_days_and_reserves_their_papers(
        self, store: Store
    ) -> None:
        a, b, c = people(store, 3)
        assert a.id is not None and b.id is not None and c.id is not None
        written = store.enqueue_many(
            [
                digest(a, (("2401.00001", 2), ("2401.00002", 1))),
                digest(b, closes=True),
                digest(c, (("2401.00001", 1),)),
            ]
        )
        assert written == (True, True, True)
        pending = store.pending()
        assert [item.recipient for item in pending] == [a.email, c.email]
        first = pending[0]
        assert first.message == digest(a).message and first.message_id == f"<{a.id}.{DAY}@x>"
        assert first.paper_ids == ("2401.00001", "2401.00002")
        assert first.state is DeliveryState.PENDING and first.attempts == 0
        assert store.outbox_for(b.id, DAY) is not None  # the closed day is there, unsent
        assert store.ledger_versions(a.id, ["2401.00001", "2401.00002"]) == {
            "2401.00001": 2,
            "2401.00002": 1,
        }
        assert store.ledger_versions(b.id, ["2401.00001"]) == {}
        assert store.ledger_sent(a.id, ["2401.00001"]) == {}  # reserved, not sent
        assert store.digest_days([DAY]) == {(a.id, DAY), (b.id, DAY), (c.id, DAY)}
        assert store.last_digest_at(b.id) == NOON
        assert store.enqueue_many([]) == ()

    def test_a_day_already_in_the_outbox_is_skipped_and_nothing_of_it_is_written(
        self, store: Store
    ) -> None:
        a, b = people(store, 2)
        assert a.id is not None and b.id is not None
        assert store.enqueue_many([digest(a, (("2401.00001", 1),))]) == (True,)
        again = store.enqueue_many(
            [digest(a, (("2401.00001", 5), ("2401.00009", 1))), digest(b, closes=True)]
        )
        assert again == (False, True)
        (only,) = store.pending()
        assert only.recipient == a.email
        # The refused digest reserved nothing: its papers and versions stay as they were.
        assert store.ledger_versions(a.id, ["2401.00001", "2401.00009"]) == {"2401.00001": 1}
        # A subscriber twice in one batch (two days): both written, the later day's papers.
        tomorrow = DAY + dt.timedelta(days=1)
        twice = store.enqueue_many(
            [
                digest(b, (("2401.00003", 1),), day=tomorrow),
                digest(b, (("2401.00003", 2),), day=tomorrow + dt.timedelta(days=1)),
            ]
        )
        assert twice == (True, True)
        assert store.ledger_versions(b.id, ["2401.00003"]) == {"2401.00003": 2}

    def test_bulk_reads_answer_what_the_single_reads_answer(self, store: Store) -> None:
        subscribers = people(store, 3)
        ids = [s.id for s in subscribers if s.id is not None]
        papers = [f"2401.{n:05d}" for n in range(MANY)]
        store.enqueue_many(
            [
                digest(subscribers[0], tuple((p, 1) for p in papers[:700])),
                digest(subscribers[1], ((papers[-1], 3),)),
            ]
        )
        later = NOON + dt.timedelta(days=1)
        store.enqueue_many(
            [NewDigest(ids[1], subscribers[1].email, later.date(), later)]  # a closed day
        )
        versions = store.ledger_versions_of(ids, papers)
        assert versions == {
            sid: store.ledger_versions(sid, papers)
            for sid in ids
            if store.ledger_versions(sid, papers)
        }
        assert len(versions[ids[0]]) == 700 and versions[ids[1]] == {papers[-1]: 3}
        assert store.ledger_versions_of(ids, papers[700:-1]) == {}
        assert store.ledger_versions_of([], papers) == {}
        assert store.last_digests_at(ids) == {ids[0]: NOON, ids[1]: later}
        assert store.digest_days_of(ids[1:], [DAY, later.date()]) == {
            (ids[1], DAY),
            (ids[1], later.date()),
        }
        assert store.digest_days_of(ids, [later.date()]) == {(ids[1], later.date())}
        assert store.digest_days_of([], [DAY]) == set() == store.digest_days_of(ids, [])
        assert store.last_digests_at([]) == {}

    def test_a_batch_claim_takes_the_next_free_messages_in_order_for_one_worker(
        self, store: Store
    ) -> None:
        subscribers = people(store, 5)
        store.enqueue_many([digest(s) for s in subscribers])
        ids = [item.id for item in store.pending()]
        first = store.claim_batch("w1", 60, NOON, 2)
        assert [item.id for item in first] == ids[:2]
        assert first[0].message == digest(subscribers[0]).message
        assert store.unclaimed_pending_count() == 3
        rest = store.claim_batch("w2", 60, NOON, 10)
        assert [item.id for item in rest] == ids[2:]
        assert store.claim_batch("w3", 60, NOON, 10) == []
        assert store.unclaimed_pending_count() == 0
        assert sorted((c.outbox_id, c.owner) for c in store.claims()) == [
            (ids[0], "w1"),
            (ids[1], "w1"),
            (ids[2], "w2"),
            (ids[3], "w2"),
            (ids[4], "w2"),
        ]
        # Walking upwards, and an expired claim is taken over.
        expired = NOON + dt.timedelta(seconds=61)
        assert [i.id for i in store.claim_batch("w3", 60, expired, 2, after_id=ids[2])] == ids[3:]
        assert store.claim_batch("w3", 60, NOON, 0) == []

    def test_two_connections_claiming_batches_at_once_never_share_a_message(
        self, store: Store, reopen: Reopen
    ) -> None:
        store.enqueue_many([digest(s) for s in people(store, 60)])
        taken: dict[str, list[int]] = {"a": [], "b": []}
        start = threading.Barrier(2)

        def worker(name: str) -> None:
            with reopen() as own:
                start.wait()
                last = 0
                while claimed := own.claim_batch(name, 60, NOON, 4, after_id=last):
                    taken[name].extend(item.id for item in claimed)
                    last = claimed[-1].id

        threads = [threading.Thread(target=worker, args=(name,)) for name in taken]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert set(taken["a"]).isdisjoint(taken["b"])
        assert sorted(taken["a"] + taken["b"]) == [item.id for item in store.pending()]

    def test_a_batch_marked_sent_leaves_no_claim_and_stamps_the_ledger(self, store: Store) -> None:
        a, b, c = people(store, 3)
        assert a.id is not None and b.id is not None and c.id is not None
        store.enqueue_many(
            [digest(a, (("2401.00001", 1),)), digest(b, (("2401.00002", 1),)), digest(c)]
        )
        claimed = store.claim_batch("w", 60, NOON, 3)
        store.mark_sent_many([claimed[0].id, claimed[1].id])
        store.mark_sent_many([])
        assert [item.recipient for item in store.pending()] == [c.email]
        assert [claim.outbox_id for claim in store.claims()] == [claimed[2].id]
        sent_a = store.ledger_sent(a.id, ["2401.00001"])
        assert list(sent_a) == ["2401.00001"] and sent_a["2401.00001"].utcoffset() == dt.timedelta(
            0
        )
        assert list(store.ledger_sent(b.id, ["2401.00002"])) == ["2401.00002"]
        for item in (store.outbox_for(a.id, DAY), store.outbox_for(b.id, DAY)):
            assert item is not None and item.state is DeliveryState.SENT and item.attempts == 1
        assert store.unclaimed_pending_count() == 0
        assert store.release_claims("w") == 1
        assert store.unclaimed_pending_count() == 1

    def test_marking_sent_and_claiming_at_once_records_first_then_claims_the_next(
        self, store: Store
    ) -> None:
        a, b, c, d = people(store, 4)
        assert a.id is not None and b.id is not None
        store.enqueue_many([digest(a, (("2401.00001", 1),)), digest(b), digest(c), digest(d)])
        ids = [item.id for item in store.pending()]
        # Nothing sent yet: a plain claim.
        first = store.mark_sent_and_claim([], "w", 60, NOON, 2, 0)
        assert [item.id for item in first] == ids[:2]
        assert first[0].message == digest(a).message
        # The first accepted: recorded with its ledger row, and the next one claimed.
        after = ids[1]
        more = store.mark_sent_and_claim([ids[0]], "w", 60, NOON, 1, after)
        assert [item.id for item in more] == [ids[2]]
        item = store.outbox_for(a.id, DAY)
        assert item is not None and item.state is DeliveryState.SENT and item.attempts == 1
        assert list(store.ledger_sent(a.id, ["2401.00001"])) == ["2401.00001"]
        assert sorted(claim.outbox_id for claim in store.claims()) == ids[1:3]
        # Another worker never gets what this one holds; marking without a claim claims nothing.
        assert [i.id for i in store.mark_sent_and_claim([], "v", 60, NOON, 5, 0)] == [ids[3]]
        assert store.mark_sent_and_claim([ids[1], ids[2]], "w", 60, NOON, 0, 0) == []
        assert [i.recipient for i in store.pending()] == [d.email]
        assert [claim.owner for claim in store.claims()] == ["v"]
        # An expired claim is taken over, as claim_batch does.
        expired = NOON + dt.timedelta(seconds=61)
        assert [i.id for i in store.mark_sent_and_claim([], "w", 60, expired, 3, 0)] == [ids[3]]
