"""The bodies a store keeps for its own claims: bounded, never given for another message, and
a claim's bytes are the database's whether they came from memory or not."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from support.stores import opened_store

from digest.models import Profile, Subscriber
from digest.store.body_memo import BodyMemo
from digest.store.roles import NewDigest

NOW = dt.datetime(2024, 11, 28, 12, 0, tzinfo=dt.UTC)


def test_a_body_is_taken_once_and_only_for_its_own_message_id() -> None:
    memo = BodyMemo()
    memo.remember([(1, "<a@x>", b"one"), (2, "<b@x>", b"two")])
    assert memo.take(1, "<a@x>") == b"one"
    assert memo.take(1, "<a@x>") is None  # taken: a second claim reads the database
    assert memo.take(2, "<other@x>") is None  # the id now names another message
    assert memo.take(2, "<b@x>") is None and len(memo) == 0
    assert (memo.taken, memo.missed) == (1, 3)


def test_the_memo_keeps_the_oldest_within_its_bytes_and_forgets_what_claims_passed() -> None:
    memo = BodyMemo(max_bytes=10)
    memo.remember([(1, "<1>", b"aaaa"), (2, "<2>", b"bbbb"), (3, "<3>", b"cccc")])
    assert len(memo) == 2  # the third did not fit: the first two are claimed first
    memo.forget_through(1)
    assert memo.take(1, "<1>") is None
    memo.remember([(4, "<4>", b"dddd")])  # room again
    assert memo.take(4, "<4>") == b"dddd" and memo.take(2, "<2>") == b"bbbb"


def digests(store_ids: list[int], body: bytes) -> list[NewDigest]:
    return [
        NewDigest(sid, f"r{sid}@example.org", NOW.date(), NOW, f"<{sid}@x>", body, (("p", 1),))
        for sid in store_ids
    ]


def test_claims_get_the_databases_bytes_from_memory_or_not(tmp_path: Path) -> None:
    path = tmp_path / "digest.db"
    with opened_store(str(path)) as store:
        ids = []
        for n in range(4):
            saved = store.save_subscriber(Subscriber(f"r{n}@example.org", Profile(topics=())))
            assert saved.id is not None
            ids.append(saved.id)
        store.enqueue_many(digests(ids[:2], b"Subject: kept\r\n\r\nin memory\r\n"))
        # Another process rewrites a body behind this store's back (no product code does):
        # the claim must still return what the database holds, so the memo is bypassed only
        # when its Message-ID no longer matches.
        other = sqlite3.connect(path)
        other.execute(
            "UPDATE outbox SET message_id = '<moved@x>' WHERE subscriber_id = ?", (ids[1],)
        )
        other.execute(
            "UPDATE outbox_bodies SET message = x'4d4f564544' WHERE outbox_id = "
            "(SELECT id FROM outbox WHERE subscriber_id = ?)",
            (ids[1],),
        )
        other.commit()
        other.close()
        first, second = store.claim_batch("w", 60, NOW, 2)
        assert first.message == b"Subject: kept\r\n\r\nin memory\r\n"
        assert (second.message_id, second.message) == ("<moved@x>", b"MOVED")
        assert store._bodies.taken == 1 and store._bodies.missed == 1
        store.enqueue_many(digests(ids[2:], b"later"))
        store._bodies.forget_through(10**9)  # as if memory had none of them
        third, fourth = store.mark_sent_and_claim([first.id, second.id], "w", 60, NOW, 2, 0)
        assert (third.message, fourth.message) == (b"later", b"later")
        assert store.pending_count() == 2
