"""SMTP server handlers with faults for the delivery tests (on top of support's sink), and
the outbox helpers they share."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any

from support.smtp_server import RecordingHandler

from digest.config.settings import SmtpSettings
from digest.models import Profile, Subscriber, Term, Topic
from digest.store import Store

DAY = dt.date(2026, 5, 8)
NOON = dt.datetime(2026, 5, 8, 12, 0, tzinfo=dt.UTC)
FROM = "Paper Digest <digest@example.org>"


def smtp(port: int, **overrides: float) -> SmtpSettings:
    values: dict[str, float] = {"timeout": 5, "backoff_seconds": 0, "max_attempts": 3}
    values.update(overrides)
    return SmtpSettings(host="127.0.0.1", port=port, security="plain", **values)  # type: ignore[arg-type]


def ledger_unsent(store: Store) -> int:
    """Papers of the day's digests that the ledger reserves but does not say were sent."""
    unsent = 0
    for subscriber in store.subscribers(active_only=False):
        assert subscriber.id is not None
        item = store.outbox_for(subscriber.id, DAY)
        if item is not None:
            reserved = store.ledger_versions(subscriber.id, item.paper_ids)
            unsent += len(reserved) - len(store.ledger_sent(subscriber.id, item.paper_ids))
    return unsent


class Overlapping(RecordingHandler):
    """Holds each message in DATA until `want` messages are in DATA at once (or a few seconds
    pass), and records the most it saw: proof that connections really send side by side."""

    def __init__(self, want: int) -> None:
        super().__init__()
        self.want = want
        self.active = 0
        self.most = 0
        self.together = asyncio.Event()  # set once `want` messages were in DATA at once

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.active += 1
        self.most = max(self.most, self.active)
        if self.most >= self.want:
            self.together.set()
        with contextlib.suppress(TimeoutError):  # never that many: the test's check says so
            await asyncio.wait_for(self.together.wait(), 3)
        self.active -= 1
        return await super().handle_DATA(server, session, envelope)


class Faulty(RecordingHandler):
    """For the recipients named, the first DATA drops the connection (before any reply) or
    answers with a temporary reply; later attempts are accepted."""

    def __init__(self, *, drop: frozenset[str] = frozenset(), busy: frozenset[str] = frozenset()):
        super().__init__()
        self.drop = set(drop)
        self.busy = set(busy)
        self.faults = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        (recipient,) = envelope.rcpt_tos
        if recipient in self.drop:
            self.drop.discard(recipient)
            self.faults += 1
            server.transport.abort()
            return "451 unreachable"
        if recipient in self.busy:
            self.busy.discard(recipient)
            self.faults += 1
            return "451 4.3.0 Try again later"
        return await super().handle_DATA(server, session, envelope)


class AlwaysBusy(RecordingHandler):
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "451 4.3.0 Still busy"


def queue_digest(store: Store, n: int, body: str = "body") -> str:
    """A subscriber and one pending digest for them in the outbox; returns the address."""
    profile = Profile(topics=(Topic("main", (Term("diffusion"),)),))
    subscriber = store.save_subscriber(Subscriber(f"reader{n}@example.org", profile))
    assert subscriber.id is not None
    store.enqueue(
        subscriber_id=subscriber.id,
        recipient=subscriber.email,
        day=DAY,
        message_id=f"<{n}@example.org>",
        message=f"Subject: {n}\r\n\r\n{body} {n}\r\n".encode("ascii"),
        papers=[(f"2605.{n:05d}", 1)],
        composed_at=NOON,
    )
    return subscriber.email
