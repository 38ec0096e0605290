"""The store's side of the pages (migration 5): states, lapsing sign-ups, one subscriber per
address whatever its case, votes; on a real SQLite file."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

from digest.config.profiles import profile_from_options, profile_to_dict
from digest.models import Subscriber
from digest.store.roles import SubscriberState, Vote
from digest.store.sqlite import MIGRATIONS, SqliteStore

NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
PROFILE = profile_from_options(["diffusion model"])


def test_an_old_database_gets_states_and_one_key_per_address(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    for migration in MIGRATIONS[:4]:
        for statement in migration.split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute("PRAGMA user_version = 4")
    profile = json.dumps(profile_to_dict(PROFILE))
    for email, active in (("Bob@example.org", 0), ("bob@example.org", 1), ("c@example.org", 0)):
        db.execute(
            "INSERT INTO subscribers (email, profile, deliver_at, timezone, active, created_at, "
            "updated_at) VALUES (?, ?, '07:00', 'UTC', ?, ?, ?)",
            (email, profile, active, NOW.isoformat(), NOW.isoformat()),
        )
    db.close()
    store = SqliteStore.open(path)
    states = {r.subscriber.email: r.state for r in store.subscriber_records()}
    assert states == {
        "Bob@example.org": SubscriberState.UNSUBSCRIBED,
        "bob@example.org": SubscriberState.ACTIVE,  # the active one keeps the address
        "c@example.org": SubscriberState.UNSUBSCRIBED,
    }
    found = store.subscriber("BOB@EXAMPLE.ORG")
    assert found is not None and found.email == "bob@example.org" and found.active
    store.close()


def test_sign_ups_lapse_and_only_pending_ones_can_be_confirmed(tmp_path: Path) -> None:
    store = SqliteStore.open(tmp_path / "s.sqlite3")
    late = store.request_subscription(
        Subscriber("late@example.org", PROFILE), nonce="a", until=NOW, now=NOW
    )
    assert late.state is SubscriberState.PENDING and not late.subscriber.active
    assert store.subscribers() == []  # pending gets no digest
    assert store.confirm_subscription("late@example.org", "a", NOW + dt.timedelta(hours=1)) is None
    assert store.expire_pending(NOW + dt.timedelta(hours=1)) == 1
    assert store.subscriber_record("late@example.org") is None

    active = store.save_subscriber(Subscriber("Ann@example.org", PROFILE))
    kept = store.request_subscription(
        Subscriber("ann@example.org", profile_from_options(["other"])),
        nonce="b",
        until=NOW + dt.timedelta(hours=48),
        now=NOW,
    )
    assert kept.state is SubscriberState.ACTIVE  # a stranger cannot change a subscriber
    assert kept.subscriber.profile == PROFILE and kept.subscriber.email == "Ann@example.org"
    assert store.confirm_subscription("ann@example.org", "b", NOW) is None
    assert active.id is not None
    store.record_vote(active.id, "2401.00001", Vote.UP, NOW)
    store.record_vote(active.id, "2401.00001", Vote.DOWN, NOW)
    assert [v.vote for v in store.votes(active.id)] == [Vote.DOWN]
    assert store.set_subscriber_state("ANN@example.org", SubscriberState.PAUSED, NOW)
    assert not store.set_subscriber_state("ann@example.org", SubscriberState.PAUSED, NOW)
    assert store.deactivate_subscriber("ann@EXAMPLE.org")
    store.close()
