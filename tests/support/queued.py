"""Digests waiting in the outbox, put there directly: for tests of sending alone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from support.stores import opened_store

from digest.models import Profile, Subscriber, Term, Topic


def queue_messages(url: str | Path, count: int, papers: tuple[str, ...] = ()) -> list[str]:
    """`count` digests waiting in the outbox. Their subscribers have left, so the workers
    compose nothing: sending is all they do, as fast as the limits let them."""
    profile = Profile(topics=(Topic("main", (Term("x"),)),))
    emails = [f"reader{n:04d}@example.org" for n in range(count)]
    now = dt.datetime.now(dt.UTC)
    with opened_store(url) as store:
        for email in emails:
            sub = store.save_subscriber(Subscriber(email, profile))
            assert sub.id is not None
            store.enqueue(
                subscriber_id=sub.id,
                recipient=email,
                day=now.date(),
                message_id=f"<{sub.id}@digest.test>",
                message=f"Subject: digest\r\nMessage-ID: <{sub.id}@digest.test>\r\n\r\nhi".encode(),
                papers=[(paper, 1) for paper in papers],
                composed_at=now,
            )
            store.deactivate_subscriber(email)
    return emails
