"""The SQLite store on a real file: migrations, subscribers, papers, the outbox and the ledger."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from digest.errors import StoreError
from digest.models import (
    AnnounceType,
    DeliveryOutcome,
    DeliveryState,
    HFSignals,
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
from digest.store.sqlite import MIGRATIONS, AlreadyQueued, SqliteStore

DAY = dt.date(2026, 11, 20)
NOON = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def profile(*words: str) -> Profile:
    return Profile(topics=(Topic("main", tuple(Term(w) for w in words)),))


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    opened = SqliteStore.open(tmp_path / "state" / "digest.sqlite3")
    yield opened
    opened.close()


def test_migrations_set_the_schema_version(store: SqliteStore, tmp_path: Path) -> None:
    store.close()
    db = sqlite3.connect(tmp_path / "state" / "digest.sqlite3")
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    db.close()
    # Opening again migrates nothing and keeps data.
    again = SqliteStore.open(tmp_path / "state" / "digest.sqlite3")
    assert again.subscribers() == []
    again.close()


def test_the_queries_run_per_message_use_an_index(store: SqliteStore, tmp_path: Path) -> None:
    # A full scan per message is quadratic over a day of thousands of digests.
    db = sqlite3.connect(tmp_path / "state" / "digest.sqlite3")
    per_message = {
        "mark sent (ledger)": "UPDATE ledger SET sent_at = '' WHERE outbox_id = 1",
        "mark sent (outbox)": "UPDATE outbox SET state = 'sent' WHERE id = 1",
        "already composed": "SELECT id FROM outbox WHERE subscriber_id = 1 AND day = ''",
        "sent before": "SELECT version FROM ledger WHERE subscriber_id = 1 AND paper_id = ''",
    }
    for name, query in per_message.items():
        plan = " ".join(row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + query))
        assert "SCAN" not in plan, f"{name}: {plan}"
    db.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer than this digest understands"):
        SqliteStore.open(path)


def test_subscribe_update_unsubscribe_resubscribe(store: SqliteStore) -> None:
    first = store.save_subscriber(
        Subscriber("ada@example.org", profile("diffusion"), dt.time(7, 30), "Europe/Berlin")
    )
    assert first.id is not None and first.deliver_at == dt.time(7, 30)
    changed = store.save_subscriber(Subscriber("ada@example.org", profile("score matching")))
    assert changed.id == first.id
    assert changed.profile.all_terms[0].text == "score matching"
    assert store.deactivate_subscriber("ada@example.org")
    assert store.subscribers() == []
    assert not store.deactivate_subscriber("ada@example.org")
    back = store.save_subscriber(Subscriber("ada@example.org", profile("diffusion")))
    assert back.id == first.id and back.active


def test_papers_keep_first_seen_and_round_trip(store: SqliteStore) -> None:
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
    assert store.recent_papers(NOON + dt.timedelta(days=3)) == []
    assert store.papers_by_id(["2410.18572", "missing"]) == {"2410.18572": paper}


def test_outbox_reserves_papers_and_marks_them_sent_only_on_acceptance(store: SqliteStore) -> None:
    sub = store.save_subscriber(Subscriber("ada@example.org", profile("diffusion")))
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
    # Reserved: a second digest would not take these papers again.
    assert store.ledger_versions(sub.id, ["2401.00001", "2401.00002", "x"]) == {
        "2401.00001": 1,
        "2401.00002": 3,
    }
    assert store.pending() == [item]
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
    store.mark_sent(item.id)
    assert store.pending() == []
    sent = store.outbox_for(sub.id, DAY)
    assert sent is not None and sent.state is DeliveryState.SENT and sent.attempts == 2
    assert store.last_digest_at(sub.id) == NOON


def test_failed_and_requeued(store: SqliteStore) -> None:
    sub = store.save_subscriber(Subscriber("bob@example.org", profile("x")))
    assert sub.id is not None
    item = store.enqueue(
        subscriber_id=sub.id,
        recipient=sub.email,
        day=DAY,
        message_id="<c@x>",
        message=b"m",
        papers=[],
        composed_at=NOON,
    )
    store.mark_failed_attempt(item.id, "550 no such user", give_up=True)
    assert store.pending() == [] and [f.id for f in store.failed()] == [item.id]
    assert store.requeue_failed() == 1
    assert [p.id for p in store.pending()] == [item.id]


def test_source_state_keeps_validators_and_last_good_day(store: SqliteStore) -> None:
    ok = SourceOutcome("arxiv", SourceState.OK, 10)
    store.save_source_outcome(ok, url="https://a", validators=Validators('"e1"', "Tue"), day=DAY)
    failed = SourceOutcome("arxiv", SourceState.FAILED, 0, "HTTP 503")
    later = DAY + dt.timedelta(days=1)
    store.save_source_outcome(failed, url="https://a", validators=None, day=later)
    record = store.source_record("arxiv")
    assert record is not None
    assert record.validators == Validators('"e1"', "Tue")
    assert record.last_ok_day == DAY
    assert record.last_state is SourceState.FAILED and record.last_detail == "HTTP 503"


def test_readonly_open_refuses_writes(store: SqliteStore, tmp_path: Path) -> None:
    store.save_subscriber(Subscriber("ada@example.org", profile("x")))
    readonly = SqliteStore.open_readonly(tmp_path / "state" / "digest.sqlite3")
    assert [s.email for s in readonly.subscribers()] == ["ada@example.org"]
    with pytest.raises(StoreError, match="open read-only here, nothing was written"):
        readonly.set_meta("k", "v")
    assert readonly.meta("k") is None
    readonly.close()
    with pytest.raises(StoreError, match="no database here yet"):
        SqliteStore.open_readonly(tmp_path / "absent.sqlite3")


def test_embeddings_are_cached_by_paper_and_model_and_pruned(store: SqliteStore) -> None:
    old = Paper(id="2401.00001", title="old")
    fresh = Paper(id="2411.00002", title="fresh")
    store.save_papers([old], NOON - dt.timedelta(days=40))
    store.save_papers([fresh], NOON)
    store.save_embeddings(
        {old.id: b"\x00\x01", fresh.id: b"\x02\x03", "profile:abc": b"\x04"}, "minilm"
    )
    store.save_embeddings({fresh.id: b"\x09"}, "other-model")
    assert store.embeddings([old.id, fresh.id, "missing"], "minilm") == {
        old.id: b"\x00\x01",
        fresh.id: b"\x02\x03",
    }
    store.save_embeddings({fresh.id: b"\x05"}, "minilm")  # replaced, not duplicated
    assert store.embeddings([fresh.id], "minilm") == {fresh.id: b"\x05"}
    assert store.prune_embeddings(NOON - dt.timedelta(days=30)) == 1  # only the old paper
    assert store.embeddings([old.id, "profile:abc"], "minilm") == {"profile:abc": b"\x04"}
    assert store.embeddings([fresh.id], "other-model") == {fresh.id: b"\x09"}


def test_a_second_digest_for_the_day_writes_nothing(store: SqliteStore) -> None:
    sub = store.save_subscriber(Subscriber("ada@example.org", profile("diffusion")))
    assert sub.id is not None
    first = store.enqueue(
        subscriber_id=sub.id,
        recipient=sub.email,
        day=DAY,
        message_id="<a@x>",
        message=b"first",
        papers=[("2401.00001", 1)],
        composed_at=NOON,
    )
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


def test_runs_and_the_ledger_come_back_as_aware_utc_datetimes(store: SqliteStore) -> None:
    berlin = dt.timezone(dt.timedelta(hours=1))
    started = dt.datetime(2026, 11, 20, 7, 0, 0, 250000, tzinfo=berlin)
    report = RunReport(
        started=started,
        finished=started + dt.timedelta(seconds=90),
        day=DAY,
        sources=(SourceOutcome("arxiv", SourceState.OK, 10),),
        deliveries=(DeliveryOutcome("ada@example.org", DeliveryState.SENT, 3),),
        notes=("semantic matching is off",),
    )
    store.record_run(report, kind="fetch", alert="sent")
    (record,) = store.recent_runs()
    assert record.report == report and record.kind == "fetch" and record.alert == "sent"
    assert record.report.started.tzinfo is dt.UTC
    last = store.last_run_started(["fetch"])
    assert last == started and last is not None and last.tzinfo is dt.UTC
    sub = store.save_subscriber(Subscriber("ada@example.org", profile("x")))
    assert sub.id is not None
    item = store.enqueue(
        subscriber_id=sub.id,
        recipient=sub.email,
        day=DAY,
        message_id="<a@x>",
        message=b"m",
        papers=[("2401.00001", 1)],
        composed_at=started,
    )
    assert store.ledger_sent(sub.id, ["2401.00001"]) == {}  # reserved, not yet sent
    before = dt.datetime.now(dt.UTC)
    store.mark_sent(item.id)
    sent = store.ledger_sent(sub.id, ["2401.00001", "2401.00002"])
    assert list(sent) == ["2401.00001"]
    assert sent["2401.00001"].tzinfo is dt.UTC and sent["2401.00001"] >= before
    digest_at = store.last_digest_at(sub.id)
    assert digest_at == started and digest_at is not None and digest_at.tzinfo is dt.UTC
