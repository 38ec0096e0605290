"""What every store backend promises, as one test class (after vdirsyncer's storage tests).

A backend's test module subclasses `StoreContract` and gives the `store_url` fixture: a
fresh, empty database of that backend for one test. Every test here opens it with
`open_store` and speaks only the role protocols of digest.store.roles, so nothing may assume
SQLite: no SQL, no file, no pragma (those go in the backend's own tests).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from functools import partial
from typing import Any

import pytest
from contract_batches import OutboxBatchContract
from contract_corpus import CorpusCountsContract
from contract_sending import SendingContract
from support.stores import opened_store

from digest.errors import StoreError
from digest.models import (
    AnnounceType,
    DeliveryOutcome,
    DeliveryState,
    HFSignals,
    OutboxItem,
    Paper,
    Profile,
    RunReport,
    SourceOutcome,
    SourceState,
    Subscriber,
    Term,
    Topic,
    Validators,
)
from digest.store.roles import (
    AlreadyQueued,
    Lease,
    NewDigest,
    RunRecord,
    RunState,
    SendLimits,
    Store,
    SubscriberState,
    TermCounts,
    Vote,
)

DAY = dt.date(2026, 11, 20)
NOON = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
# An aware moment off UTC: a backend must give back the same instant, in UTC.
BERLIN = dt.timezone(dt.timedelta(hours=1))
MANY = 1201  # more ids than any one statement's parameter limit a backend may chunk at

Reopen = Callable[..., AbstractContextManager[Store]]


def profile(*words: str) -> Profile:
    return Profile(topics=(Topic("main", tuple(Term(w) for w in words)),))


def subscribe(store: Store, email: str, *words: str) -> Subscriber:
    saved = store.save_subscriber(Subscriber(email, profile(*(words or ("x",)))))
    assert saved.id is not None
    return saved


def queue(
    store: Store,
    subscriber: Subscriber,
    papers: list[tuple[str, int]] | None = None,
    *,
    day: dt.date = DAY,
    composed_at: dt.datetime = NOON,
) -> OutboxItem:
    assert subscriber.id is not None
    return store.enqueue(
        subscriber_id=subscriber.id,
        recipient=subscriber.email,
        day=day,
        message_id=f"<{subscriber.id}.{day}@x>",
        message=b"Subject: s\r\n\r\nbody",
        papers=papers if papers is not None else [],
        composed_at=composed_at,
    )


def utc(moment: dt.datetime | None) -> bool:
    return moment is not None and moment.utcoffset() == dt.timedelta(0)


class StoreContract(CorpusCountsContract, SendingContract, OutboxBatchContract):
    @pytest.fixture
    def store_url(self) -> str:
        raise NotImplementedError("a backend's test class gives a fresh database's URL")

    @pytest.fixture
    def store(self, store_url: str) -> Iterator[Store]:
        with opened_store(store_url) as opened:
            yield opened

    @pytest.fixture
    def reopen(self, store_url: str) -> Reopen:
        """Another connection to the same database (another process, another machine)."""
        return partial(opened_store, store_url)

    # -- subscribers -----------------------------------------------------------------------

    def test_subscribe_update_unsubscribe_resubscribe(self, store: Store) -> None:
        first = store.save_subscriber(
            Subscriber("ada@example.org", profile("diffusion"), dt.time(7, 30), "Europe/Berlin")
        )
        assert first.id is not None and first.deliver_at == dt.time(7, 30)
        assert first.timezone == "Europe/Berlin" and first.active
        changed = store.save_subscriber(Subscriber("ada@example.org", profile("score matching")))
        assert changed.id == first.id
        assert changed.profile.all_terms[0].text == "score matching"
        assert (changed.deliver_at, changed.timezone) == (dt.time(7, 0), "UTC")
        assert store.deactivate_subscriber("ada@example.org")
        assert store.subscribers() == []
        (inactive,) = store.subscribers(active_only=False)
        assert inactive.email == "ada@example.org" and not inactive.active
        assert store.subscriber("ada@example.org") == inactive
        assert not store.deactivate_subscriber("ada@example.org")
        back = store.save_subscriber(Subscriber("ada@example.org", profile("diffusion")))
        assert back.id == first.id and back.active

    def test_subscribers_keep_their_profile_and_come_in_the_order_they_came(
        self, store: Store
    ) -> None:
        rich = Profile(
            topics=(Topic("main", (Term("diffusion models", weight=2.0), Term("score"))),),
            exclude=("medical",),
            authors=("Yang Song",),
            categories=("cs.LG", "stat.ML"),
        )
        before = dt.datetime.now(dt.UTC)
        bob = store.save_subscriber(Subscriber("bob@example.org", profile("x")))
        ada = store.save_subscriber(Subscriber("ada@example.org", rich, dt.time(23, 59)))
        # When they subscribed is kept (a first digest waits for their first delivery time).
        assert bob.created is not None and before <= bob.created <= dt.datetime.now(dt.UTC)
        again = store.save_subscriber(Subscriber("bob@example.org", profile("y")))
        assert again.created == bob.created
        bob = again
        assert [s.email for s in store.subscribers()] == ["bob@example.org", "ada@example.org"]
        assert store.subscribers() == [bob, ada]
        assert ada.profile == rich and ada.deliver_at == dt.time(23, 59)
        assert store.subscriber("nobody@example.org") is None
        assert not store.deactivate_subscriber("nobody@example.org")

    # -- papers ----------------------------------------------------------------------------

    def test_papers_keep_first_seen_and_round_trip(self, store: Store) -> None:
        paper = Paper(
            id="2410.18572",
            title="Taipan: Efficient and Expressive State Space Language Models",
            authors=("Chien Van Nguyen", "André Martins"),
            version=2,
            categories=("cs.CL", "cs.LG"),
            announce_type=AnnounceType.CROSS,
            published=DAY,
            hf=HFSignals(upvotes=12, ai_keywords=("state space", "attention")),
            sources=("huggingface",),
        )
        store.save_papers([paper], NOON)
        store.save_papers([paper], NOON + dt.timedelta(days=2))
        (seen,) = store.recent_papers(NOON)
        assert seen.paper == paper
        assert seen.first_seen == NOON and seen.last_seen == NOON + dt.timedelta(days=2)
        assert utc(seen.first_seen) and utc(seen.last_seen)
        assert store.recent_papers(NOON + dt.timedelta(days=3)) == []
        assert store.papers_by_id(["2410.18572", "missing"]) == {"2410.18572": paper}

    def test_a_paper_seen_again_takes_the_new_data_and_last_seen_never_moves_back(
        self, store: Store
    ) -> None:
        first = Paper(id="2401.00001", title="Old title", version=1)
        second = Paper(id="2401.00001", title="New title", version=2)
        later = NOON + dt.timedelta(days=2)
        store.save_papers([first], later.astimezone(BERLIN))
        store.save_papers([second], NOON)  # an older listing read late
        (seen,) = store.recent_papers(NOON)
        assert seen.paper == second
        assert seen.first_seen == later and seen.last_seen == later
        assert store.papers_by_id([first.id]) == {first.id: second}
        store.save_papers([Paper(id="2401.00002", title="Newer")], later + dt.timedelta(days=1))
        # Oldest first, whatever the order of saving.
        assert [s.paper.id for s in store.recent_papers(NOON)] == ["2401.00001", "2401.00002"]

    def test_lookups_by_many_ids_find_them_all(self, store: Store) -> None:
        ids = [f"2401.{n:05d}" for n in range(MANY)]
        store.save_papers([Paper(id=pid, title=pid) for pid in ids], NOON)
        wanted = [*ids, *ids[:5], "missing"]  # repeats and an unknown id change nothing
        assert set(store.papers_by_id(wanted)) == set(ids)
        sub = subscribe(store, "ada@example.org")
        assert sub.id is not None
        item = queue(store, sub, [(pid, 2) for pid in ids])
        assert store.ledger_versions(sub.id, wanted) == dict.fromkeys(ids, 2)
        store.mark_sent(item.id)
        assert set(store.ledger_sent(sub.id, wanted)) == set(ids)
        store.save_embeddings({pid: pid.encode() for pid in ids}, "m")
        found = store.embeddings(wanted, "m")
        assert len(found) == MANY and found[ids[-1]] == ids[-1].encode()

    # -- source log ------------------------------------------------------------------------

    def test_source_state_keeps_validators_and_last_good_day(self, store: Store) -> None:
        assert store.source_record("arxiv") is None
        before = dt.datetime.now(dt.UTC)
        ok = SourceOutcome("arxiv", SourceState.OK, 10)
        validators = Validators('"e1"', "Tue")
        store.save_source_outcome(ok, url="https://a", validators=validators, day=DAY)
        failed = SourceOutcome("arxiv", SourceState.FAILED, 0, "HTTP 503")
        later = DAY + dt.timedelta(days=1)
        store.save_source_outcome(failed, url="https://b", validators=None, day=later)
        record = store.source_record("arxiv")
        assert record is not None
        assert record.name == "arxiv" and record.url == "https://b"
        assert record.validators == Validators('"e1"', "Tue")
        assert record.last_ok_day == DAY
        assert record.last_state is SourceState.FAILED and record.last_detail == "HTTP 503"
        assert utc(record.updated_at) and before <= record.updated_at <= dt.datetime.now(dt.UTC)
        empty = SourceOutcome("arxiv", SourceState.NO_ANNOUNCEMENT, 0, "a holiday")
        store.save_source_outcome(empty, url="https://b", validators=Validators('"e2"'), day=later)
        again = store.source_record("arxiv")
        assert again is not None and again.last_ok_day == later  # "nothing new" is not failing
        assert again.validators == Validators('"e2"', "Tue")

    # -- outbox and ledger -----------------------------------------------------------------

    def test_outbox_reserves_papers_and_marks_them_sent_only_on_acceptance(
        self, store: Store
    ) -> None:
        sub = subscribe(store, "ada@example.org", "diffusion")
        assert sub.id is not None
        item = store.enqueue(
            subscriber_id=sub.id,
            recipient=sub.email,
            day=DAY,
            message_id="<a@x>",
            message=b"Subject: hi\r\n\r\nbody",
            papers=[("2401.00001", 1), ("2401.00002", 3)],
            composed_at=NOON,
        )
        assert item.state is DeliveryState.PENDING
        assert (item.subscriber_id, item.recipient, item.day) == (sub.id, sub.email, DAY)
        assert item.message_id == "<a@x>" and item.message == b"Subject: hi\r\n\r\nbody"
        assert item.paper_ids == ("2401.00001", "2401.00002") and item.attempts == 0
        # Reserved: a second digest would not take these papers again.
        assert store.ledger_versions(sub.id, ["2401.00001", "2401.00002", "x"]) == {
            "2401.00001": 1,
            "2401.00002": 3,
        }
        assert store.ledger_sent(sub.id, ["2401.00001", "2401.00002"]) == {}  # not yet sent
        assert store.pending() == [item] and store.pending_count() == 1
        with pytest.raises(AlreadyQueued):  # one digest per subscriber and day
            store.enqueue(
                subscriber_id=sub.id,
                recipient=sub.email,
                day=DAY,
                message_id="<b@x>",
                message=b"",
                papers=[],
                composed_at=NOON,
            )
        store.mark_failed_attempt(item.id, "451 try later", give_up=False)
        (retry,) = store.pending()
        assert retry.attempts == 1 and retry.last_error == "451 try later"
        assert store.ledger_sent(sub.id, ["2401.00001"]) == {}
        before = dt.datetime.now(dt.UTC)
        store.mark_sent(item.id)
        assert store.pending() == [] and store.pending_count() == 0
        sent = store.outbox_for(sub.id, DAY)
        assert sent is not None and sent.state is DeliveryState.SENT and sent.attempts == 2
        assert sent.last_error == ""
        assert store.last_digest_at(sub.id) == NOON
        stamped = store.ledger_sent(sub.id, ["2401.00001", "2401.00002", "x"])
        assert set(stamped) == {"2401.00001", "2401.00002"}
        assert all(utc(at) and before <= at <= dt.datetime.now(dt.UTC) for at in stamped.values())
        assert store.outbox_for(sub.id, DAY + dt.timedelta(days=1)) is None

    def test_a_second_digest_for_the_day_writes_nothing(self, store: Store) -> None:
        sub = subscribe(store, "ada@example.org", "diffusion")
        assert sub.id is not None
        first = queue(store, sub, [("2401.00001", 1)])
        with pytest.raises(AlreadyQueued, match="a digest for 2026-11-20 is already queued"):
            store.enqueue(
                subscriber_id=sub.id,
                recipient=sub.email,
                day=DAY,
                message_id="<b@x>",
                message=b"second",
                papers=[("2401.00001", 4), ("2401.00009", 1)],
                composed_at=NOON + dt.timedelta(hours=1),
            )
        # The ledger rows of the refused digest were never written: no new paper reserved, the
        # first digest's version kept.
        assert store.ledger_versions(sub.id, ["2401.00001", "2401.00009"]) == {"2401.00001": 1}
        assert store.pending() == [first]
        assert store.last_digest_at(sub.id) == NOON

    def test_a_closed_day_is_done_without_mail_or_ledger(self, store: Store) -> None:
        sub = subscribe(store, "ada@example.org", "diffusion")
        assert sub.id is not None
        assert store.close_day(subscriber_id=sub.id, recipient=sub.email, day=DAY, closed_at=NOON)
        closed = store.outbox_for(sub.id, DAY)
        assert closed is not None and closed.state is DeliveryState.CLOSED
        assert closed.message == b"" and closed.paper_ids == ()
        assert store.digest_days([DAY]) == {(sub.id, DAY)}
        assert store.last_digest_at(sub.id) == NOON  # the next digest covers what came after
        assert store.pending() == [] and store.failed() == [] and store.pending_count() == 0
        assert store.claim_pending("w", 60, NOON) is None
        # A day already closed (or composed) stays as it is.
        later = NOON + dt.timedelta(hours=1)
        assert not store.close_day(
            subscriber_id=sub.id, recipient=sub.email, day=DAY, closed_at=later
        )
        with pytest.raises(AlreadyQueued):
            queue(store, sub, [("2401.00001", 1)])
        assert store.last_digest_at(sub.id) == NOON

    def test_a_digest_for_an_unknown_subscriber_is_refused_whole(self, store: Store) -> None:
        ghost = Subscriber("ghost@example.org", profile("x"), id=999)
        with pytest.raises(StoreError):
            queue(store, ghost, [("2401.00001", 1)])
        assert store.pending() == [] and store.ledger_versions(999, ["2401.00001"]) == {}

    def test_a_new_version_of_a_sent_paper_moves_to_the_newer_digest(self, store: Store) -> None:
        sub = subscribe(store, "ada@example.org")
        assert sub.id is not None
        old = queue(store, sub, [("2401.00001", 1)])
        store.mark_sent(old.id)
        first_sent = store.ledger_sent(sub.id, ["2401.00001"])["2401.00001"]
        newer = queue(store, sub, [("2401.00001", 2)], day=DAY + dt.timedelta(days=1))
        assert store.ledger_versions(sub.id, ["2401.00001"]) == {"2401.00001": 2}
        # While the update waits, the paper still counts as sent, when it first was.
        assert store.ledger_sent(sub.id, ["2401.00001"]) == {"2401.00001": first_sent}
        store.mark_sent(newer.id)
        assert store.ledger_sent(sub.id, ["2401.00001"])["2401.00001"] >= first_sent

    def test_a_sent_paper_stays_sent_when_its_newer_digest_fails(self, store: Store) -> None:
        sub = subscribe(store, "ada@example.org")
        assert sub.id is not None
        old = queue(store, sub, [("2401.00001", 1), ("2401.00002", 1)])
        store.mark_sent_many([old.id])
        first_sent = store.ledger_sent(sub.id, ["2401.00001"])["2401.00001"]
        later = DAY + dt.timedelta(days=1)
        newer = queue(store, sub, [("2401.00001", 2), ("2401.00003", 1)], day=later)
        store.mark_failed_attempt(newer.id, "550 no", give_up=True)
        # Sent once, when it was; the paper only the failed digest listed was never sent.
        assert store.ledger_sent(sub.id, ["2401.00001", "2401.00002", "2401.00003"]) == {
            "2401.00001": first_sent,
            "2401.00002": first_sent,
        }
        assert store.ledger_versions(sub.id, ["2401.00001", "2401.00003"]) == {
            "2401.00001": 2,
            "2401.00003": 1,
        }

    def test_failed_and_requeued(self, store: Store) -> None:
        sub = subscribe(store, "bob@example.org")
        item = queue(store, sub, [("2401.00001", 1)])
        store.mark_failed_attempt(item.id, "550 no such user", give_up=True)
        assert store.pending() == [] and [f.id for f in store.failed()] == [item.id]
        (failed,) = store.failed()
        assert failed.state is DeliveryState.FAILED and failed.attempts == 1
        assert failed.last_error == "550 no such user" and store.pending_count() == 0
        assert store.requeue_failed() == 1
        assert [p.id for p in store.pending()] == [item.id]
        assert store.failed() == [] and store.requeue_failed() == 0

    def test_digest_days_names_every_digest_of_those_days_whatever_its_state(
        self, store: Store
    ) -> None:
        ada, bob = subscribe(store, "ada@example.org"), subscribe(store, "bob@example.org")
        assert ada.id is not None and bob.id is not None
        after = DAY + dt.timedelta(days=1)
        store.mark_sent(queue(store, ada).id)
        store.mark_failed_attempt(queue(store, bob).id, "550", give_up=True)
        queue(store, ada, day=after)
        assert store.digest_days([DAY]) == {(ada.id, DAY), (bob.id, DAY)}
        assert store.digest_days([after, after]) == {(ada.id, after)}
        assert store.digest_days([DAY - dt.timedelta(days=1)]) == set()
        assert store.digest_days([]) == set()
        assert store.pending_count() == 1

    def test_last_digest_at_is_when_the_latest_digest_was_composed(self, store: Store) -> None:
        sub = subscribe(store, "ada@example.org")
        assert sub.id is not None
        assert store.last_digest_at(sub.id) is None
        queue(store, sub, day=DAY, composed_at=NOON)
        latest = (NOON + dt.timedelta(days=1, minutes=5)).astimezone(BERLIN)
        queue(store, sub, day=DAY + dt.timedelta(days=1), composed_at=latest)
        last = store.last_digest_at(sub.id)
        assert last == latest and utc(last)

    # -- claims ----------------------------------------------------------------------------

    def test_two_connections_claiming_at_once_never_get_the_same_message(
        self, store: Store, reopen: Reopen
    ) -> None:
        for number in range(40):
            queue(store, subscribe(store, f"r{number}@example.org"), [(f"2401.{number:05d}", 1)])
        taken: dict[str, list[int]] = {"a": [], "b": []}
        start = threading.Barrier(2)

        def worker(name: str) -> None:
            with reopen() as own:
                start.wait()
                last = 0
                while (item := own.claim_pending(name, 60, NOON, after_id=last)) is not None:
                    taken[name].append(item.id)
                    last = item.id

        threads = [threading.Thread(target=worker, args=(name,)) for name in taken]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert set(taken["a"]).isdisjoint(taken["b"])
        assert sorted(taken["a"] + taken["b"]) == [item.id for item in store.pending()]
        assert len(store.claims()) == 40

    def test_an_expired_claim_is_taken_over_and_a_released_one_at_once(self, store: Store) -> None:
        queue(store, subscribe(store, "r0@example.org"), [("2401.00000", 1)])
        first = store.claim_pending("crashed", 60, NOON)
        assert first is not None and first.recipient == "r0@example.org"
        assert store.claim_pending("other", 60, NOON + dt.timedelta(seconds=59)) is None
        again = store.claim_pending("other", 60, NOON + dt.timedelta(seconds=61))
        assert again is not None and again.id == first.id
        (claim,) = store.claims()
        assert claim.owner == "other"
        assert (claim.outbox_id, claim.recipient) == (first.id, "r0@example.org")
        assert claim.until == NOON + dt.timedelta(seconds=121) and utc(claim.until)
        assert store.release_claims("other") == 1
        assert store.claims() == []
        assert store.release_claims("other") == 0
        assert store.claim_pending("third", 60, NOON) is not None
        store.mark_sent(first.id)
        assert store.claims() == [] and store.pending() == []
        assert store.claim_pending("fourth", 60, NOON + dt.timedelta(hours=1)) is None

    def test_claims_walk_upwards_and_a_failed_attempt_gives_the_message_back(
        self, store: Store
    ) -> None:
        one = queue(store, subscribe(store, "a@example.org"))
        two = queue(store, subscribe(store, "b@example.org"))
        claimed = store.claim_pending("w", 60, NOON)
        assert claimed is not None and claimed.id == one.id
        store.mark_failed_attempt(one.id, "451 later", give_up=False)
        assert store.claims() == []
        # Walking on from the failed one: the next message, not the same one again.
        following = store.claim_pending("w", 60, NOON, after_id=one.id)
        assert following is not None and following.id == two.id
        assert store.claim_pending("w", 60, NOON, after_id=two.id) is None
        retried = store.claim_pending("w", 60, NOON)  # a new pass starts from the bottom
        assert retried is not None and retried.id == one.id and retried.attempts == 1

    # -- leases ----------------------------------------------------------------------------

    def test_a_job_lease_keeps_a_second_owner_out_until_it_expires(self, store: Store) -> None:
        now = NOON
        assert store.acquire_lease("fetch", "a", 60, now)
        assert store.acquire_lease("fetch", "a", 60, now)  # the owner may renew
        assert not store.acquire_lease("fetch", "b", 60, now + dt.timedelta(seconds=30))
        assert store.acquire_lease("tick", "b", 60, now)  # another job, another lease
        assert store.acquire_lease("fetch", "b", 60, now + dt.timedelta(seconds=61))
        store.release_lease("fetch", "a")  # not the owner any more: no effect
        assert not store.acquire_lease("fetch", "a", 60, now + dt.timedelta(seconds=62))
        store.release_lease("fetch", "b")
        assert store.acquire_lease("fetch", "a", 60, now + dt.timedelta(seconds=62))
        # Who holds what, until when: a worker finds a dead neighbour's leases by this.
        assert store.leases() == [
            Lease("fetch", "a", now + dt.timedelta(seconds=122)),
            Lease("tick", "b", now + dt.timedelta(seconds=60)),
        ]

    # -- runs and meta ---------------------------------------------------------------------

    def test_runs_come_back_newest_first_with_typed_values(self, store: Store) -> None:
        assert store.recent_runs() == [] and store.last_run_started(["run"]) is None
        started = dt.datetime(2026, 11, 20, 7, 0, 0, 250000, tzinfo=BERLIN)
        report = RunReport(
            started=started,
            finished=started + dt.timedelta(seconds=90),
            day=DAY,
            sources=(SourceOutcome("arxiv", SourceState.FAILED, 0, "HTTP 503"),),
            deliveries=(DeliveryOutcome("ada@example.org", DeliveryState.SENT, 3, "250 ok"),),
            errors=("bob@example.org: profile: bad term",),
            notes=("semantic matching is off",),
        )
        store.record_run(report, kind="fetch", alert="sent to ops@example.org")
        tick = RunReport(started=NOON, finished=NOON + dt.timedelta(seconds=1), day=DAY)
        store.record_run(tick, kind="tick")
        newest, oldest = store.recent_runs()
        assert (newest.report, newest.kind, newest.alert) == (tick, "tick", "")
        assert oldest.report == report and not oldest.report.ok
        assert (oldest.kind, oldest.alert) == ("fetch", "sent to ops@example.org")
        assert utc(oldest.report.started) and utc(oldest.report.finished)
        assert oldest.report.day == DAY
        assert store.recent_runs(1) == [newest]
        assert store.last_run_started(["fetch", "run"]) == started
        assert utc(store.last_run_started(["fetch", "run"]))
        assert store.last_run_started(["tick", "fetch"]) == NOON
        assert store.last_run_started(["run"]) is None

    def test_a_run_is_written_running_when_it_starts_and_ended_once(
        self, store: Store, reopen: Reopen
    ) -> None:
        started = dt.datetime(2026, 11, 20, 7, 0, 0, 250000, tzinfo=BERLIN)
        run_id = store.start_run(kind="run", started=started, day=DAY, host="box-a", pid=4321)
        other = store.start_run(kind="tick", started=NOON, day=DAY, host="box-b", pid=7)
        (running, _) = store.unfinished_runs()
        assert running == RunRecord(
            RunReport(started=started, finished=started, day=DAY),
            kind="run",
            id=run_id,
            state=RunState.RUNNING,
            host="box-a",
            pid=4321,
        )
        assert utc(running.report.started)
        # A run still going, or one that was killed, is not "a fetch that ran".
        assert store.last_run_started(["run", "tick"]) is None
        report = RunReport(
            started=started,
            finished=started + dt.timedelta(seconds=90),
            day=DAY,
            deliveries=(DeliveryOutcome("ada@example.org", DeliveryState.SENT, 3),),
        )
        assert store.end_run(run_id, report, state=RunState.FINISHED, alert="sent")
        # Ended once: a neighbour that finds it a moment later writes nothing over it.
        with reopen() as neighbour:
            failed = RunReport(started=started, finished=NOON, day=DAY, errors=("gone",))
            assert not neighbour.end_run(run_id, failed, state=RunState.INTERRUPTED)
            assert not neighbour.end_run(999_999, failed, state=RunState.FAILED)
        assert [r.id for r in store.unfinished_runs()] == [other]
        newest, ended = store.recent_runs()
        assert (ended.report, ended.state, ended.alert, ended.pid) == (
            report,
            RunState.FINISHED,
            "sent",
            4321,
        )
        assert newest.state is RunState.RUNNING and newest.host == "box-b"
        assert store.last_run_started(["run"]) == started
        store.discard_run(other)
        assert store.unfinished_runs() == [] and [r.id for r in store.recent_runs()] == [run_id]
        store.discard_run(run_id)  # only a RUNNING run is ever discarded
        assert [r.id for r in store.recent_runs()] == [run_id]
        interrupted = store.start_run(kind="run", started=NOON, day=DAY, host="box-a", pid=9)
        gone = RunReport(started=NOON, finished=NOON, day=DAY, errors=("process 9 is gone",))
        assert store.end_run(interrupted, gone, state=RunState.INTERRUPTED)
        assert store.recent_runs(1)[0].state is RunState.INTERRUPTED
        assert store.recent_runs(1)[0].report.errors == ("process 9 is gone",)
        assert store.last_run_started(["run"]) == started  # an interrupted run did not happen

    def test_meta_keeps_one_value_per_key(self, store: Store) -> None:
        assert store.meta("secret") is None
        store.set_meta("secret", "one")
        store.set_meta("other", "x")
        store.set_meta("secret", "two")
        assert store.meta("secret") == "two" and store.meta("other") == "x"

    # -- embeddings ------------------------------------------------------------------------

    def test_embeddings_are_cached_by_paper_and_model_and_pruned(self, store: Store) -> None:
        old = Paper(id="2401.00001", title="old")
        fresh = Paper(id="2411.00002", title="fresh")
        store.save_papers([old], NOON - dt.timedelta(days=40))
        store.save_papers([fresh], NOON)
        store.save_embeddings(
            {old.id: b"\x00\x01", fresh.id: b"\x02\x03", "profile:abc": b"\x04"}, "minilm"
        )
        store.save_embeddings({fresh.id: b"\x09"}, "other-model")
        store.save_embeddings({}, "minilm")  # nothing to save is no error
        assert store.embeddings([old.id, fresh.id, "missing"], "minilm") == {
            old.id: b"\x00\x01",
            fresh.id: b"\x02\x03",
        }
        store.save_embeddings({fresh.id: b"\x05"}, "minilm")  # replaced, not duplicated
        assert store.embeddings([fresh.id], "minilm") == {fresh.id: b"\x05"}
        assert store.prune_embeddings(NOON - dt.timedelta(days=30)) == 1  # only the old paper
        assert store.embeddings([old.id, "profile:abc"], "minilm") == {"profile:abc": b"\x04"}
        assert store.embeddings([fresh.id], "other-model") == {fresh.id: b"\x09"}
        assert store.embeddings([], "minilm") == {}

    # -- the database as a whole -----------------------------------------------------------

    def test_what_was_written_is_there_for_the_next_connection(
        self, store: Store, reopen: Reopen
    ) -> None:
        sub = subscribe(store, "ada@example.org", "diffusion")
        item = queue(store, sub, [("2401.00001", 1)])
        store.set_meta("secret", "s")
        store.close()
        with reopen() as again:
            assert again.subscribers() == [sub]
            assert again.pending() == [item]
            assert again.meta("secret") == "s"

    def test_a_readonly_store_reads_and_refuses_every_write(
        self, store: Store, store_url: str
    ) -> None:
        sub = subscribe(store, "ada@example.org")
        with opened_store(store_url, readonly=True) as readonly:
            assert readonly.subscribers() == [sub]
            with pytest.raises(StoreError):
                readonly.set_meta("k", "v")
            with pytest.raises(StoreError):
                queue(readonly, sub, [("2401.00001", 1)])
            with pytest.raises(StoreError):
                readonly.save_subscriber(Subscriber("bob@example.org", profile("x")))
            assert readonly.meta("k") is None and readonly.pending() == []
        assert [s.email for s in store.subscribers()] == ["ada@example.org"]

    def test_every_role_method_of_a_closed_store_raises_store_error(self, store: Store) -> None:
        sub = subscribe(store, "ada@example.org")
        store.close()
        report = RunReport(started=NOON, finished=NOON, day=DAY)
        outcome = SourceOutcome("arxiv", SourceState.OK, 1)
        calls: dict[str, Callable[[], Any]] = {
            "save_subscriber": lambda: store.save_subscriber(sub),
            "deactivate_subscriber": lambda: store.deactivate_subscriber(sub.email),
            "subscriber": lambda: store.subscriber(sub.email),
            "subscribers": lambda: store.subscribers(),
            "save_papers": lambda: store.save_papers([Paper(id="1", title="t")], NOON),
            "papers_by_id": lambda: store.papers_by_id(["1"]),
            "recent_papers": lambda: store.recent_papers(NOON),
            "source_record": lambda: store.source_record("arxiv"),
            "save_source_outcome": lambda: store.save_source_outcome(
                outcome, url="u", validators=None, day=DAY
            ),
            "ledger_versions": lambda: store.ledger_versions(1, ["1"]),
            "ledger_sent": lambda: store.ledger_sent(1, ["1"]),
            "outbox_for": lambda: store.outbox_for(1, DAY),
            "last_digest_at": lambda: store.last_digest_at(1),
            "enqueue": lambda: queue(store, sub),
            "digest_days": lambda: store.digest_days([DAY]),
            "close_day": lambda: store.close_day(
                subscriber_id=1, recipient="a@example.org", day=DAY, closed_at=NOON
            ),
            "pending": lambda: store.pending(),
            "pending_count": lambda: store.pending_count(),
            "failed": lambda: store.failed(),
            "claim_pending": lambda: store.claim_pending("w", 60, NOON),
            "release_claims": lambda: store.release_claims("w"),
            "release_claim": lambda: store.release_claim(1, "w"),
            "claims": lambda: store.claims(),
            "mark_sent": lambda: store.mark_sent(1),
            "mark_failed_attempt": lambda: store.mark_failed_attempt(1, "e", give_up=True),
            "requeue_failed": lambda: store.requeue_failed(),
            "prune_sent": lambda: store.prune_sent(NOON),
            "reserve_sends": lambda: store.reserve_sends(1, SendLimits(per_day=1), NOON),
            "give_back_sends": lambda: store.give_back_sends([NOON]),
            "send_window_full_until": lambda: store.send_window_full_until(
                SendLimits(per_day=1), NOON
            ),
            "acquire_lease": lambda: store.acquire_lease("fetch", "a", 60, NOON),
            "release_lease": lambda: store.release_lease("fetch", "a"),
            "leases": lambda: store.leases(),
            "record_run": lambda: store.record_run(report),
            "recent_runs": lambda: store.recent_runs(),
            "last_run_started": lambda: store.last_run_started(["run"]),
            "start_run": lambda: store.start_run(
                kind="run", started=NOON, day=DAY, host="h", pid=1
            ),
            "end_run": lambda: store.end_run(1, report, state=RunState.FINISHED),
            "discard_run": lambda: store.discard_run(1),
            "unfinished_runs": lambda: store.unfinished_runs(),
            "meta": lambda: store.meta("k"),
            "set_meta": lambda: store.set_meta("k", "v"),
            "embeddings": lambda: store.embeddings(["1"], "m"),
            "save_embeddings": lambda: store.save_embeddings({"1": b"v"}, "m"),
            "prune_embeddings": lambda: store.prune_embeddings(NOON),
            "subscriber_record": lambda: store.subscriber_record("a@example.org"),
            "subscriber_records": lambda: store.subscriber_records(),
            "request_subscription": lambda: store.request_subscription(
                Subscriber("a@example.org", profile("x")), nonce="n", until=NOON, now=NOON
            ),
            "confirm_subscription": lambda: store.confirm_subscription("a@example.org", "n", NOON),
            "set_subscriber_state": lambda: store.set_subscriber_state(
                "a@example.org", SubscriberState.PAUSED, NOON
            ),
            "update_subscriber": lambda: store.update_subscriber(
                Subscriber("a@example.org", profile("x")), NOON
            ),
            "expire_pending": lambda: store.expire_pending(NOON),
            "record_vote": lambda: store.record_vote(1, "2401.00001", Vote.UP, NOON),
            "undo_vote": lambda: store.undo_vote(1, "2401.00001"),
            "votes": lambda: store.votes(1),
            "papers_stamp": lambda: store.papers_stamp(),
            "ledger_versions_of": lambda: store.ledger_versions_of([1], ["2401.00001"]),
            "last_digests_at": lambda: store.last_digests_at([1]),
            "digest_days_of": lambda: store.digest_days_of([1], [DAY]),
            "enqueue_many": lambda: store.enqueue_many(
                [NewDigest(1, "a@example.org", DAY, NOON, "<m@x>", b"m", (("2401.00001", 1),))]
            ),
            "unclaimed_pending_count": lambda: store.unclaimed_pending_count(),
            "claim_batch": lambda: store.claim_batch("w", 60, NOON, 2),
            "mark_sent_many": lambda: store.mark_sent_many([1]),
            "mark_sent_and_claim": lambda: store.mark_sent_and_claim([1], "w", 60, NOON, 2, 0),
            "counted_days": lambda: store.counted_days(["1"]),
            "count_papers": lambda: store.count_papers(DAY, ["1"], TermCounts(1, {"x": 1})),
            "corpus_counts": lambda: store.corpus_counts(DAY),
            "uncounted_papers": lambda: store.uncounted_papers(NOON),
        }
        # Every method of every role is in the table, so a new one cannot be left out.
        roles = {name for name in dir(Store) if not name.startswith("_")} - {"close"}
        assert set(calls) == roles
        quiet = []
        for name, call in calls.items():
            try:
                call()
            except StoreError:
                continue
            quiet.append(name)
        assert quiet == []
