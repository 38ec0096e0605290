"""Deliver the outbox: claim a pending message, send it, record it as sent only once the
server accepted it.

Messages are claimed one at a time (a lease in the outbox row), so any number of workers may
deliver from one database and each message goes to exactly one of them. Within this worker,
`connections` SMTP connections send in parallel (digest.sendpool); a message is claimed only
when a connection is free, so a worker never holds more claims than it has connections, and
only the thread that owns the Delivery reads or writes the store.

A Delivery can run alongside composing: the composing loop calls `pump()` after each digest
it puts in the outbox, which hands new messages to free connections and records what the
connections finished, without waiting; `finish()` then sends the rest. So the first digests
go out while the last are still being composed, and nothing about a message's path changes:
outbox row -> claim -> SMTP -> marked sent.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from contextlib import ExitStack
from email.utils import parseaddr
from types import TracebackType
from typing import Self

from digest.deliver.sendpool import Job, Outcome, SenderPool
from digest.deliver.smtp import Sender
from digest.errors import DeliveryError
from digest.models import DeliveryOutcome, DeliveryState, OutboxItem
from digest.store.roles import Outbox
from digest.util.failpoints import failpoint
from digest.util.logs import event
from digest.util.progress import Progress, silent
from digest.util.stopping import Interrupted, busy, interrupted

Clock = Callable[[], dt.datetime]
SenderFactory = Callable[[], Sender]

log = logging.getLogger("digest.delivery")

MAX_DELIVERY_ATTEMPTS = 5  # runs a temporarily failing message is retried before it is failed
STOP_AFTER_TEMPORARY_FAILURES = 3  # in a row: the server is down, leave the rest pending
DEFAULT_LEASE_SECONDS = 900.0  # a worker's hold on one message; outlives any SMTP retry loop
WATCH_SECONDS = 0.1  # while waiting for a connection, how often a second stop request is looked for


# Names this machine in claims ($DIGEST_HOST_ID, else the host name): a worker that finds a
# claim of its own host whose process is gone releases it at once.
HOST_ID_ENV = "DIGEST_HOST_ID"


def host_id() -> str:
    return os.environ.get(HOST_ID_ENV) or socket.gethostname()


def worker_id() -> str:
    """Names one delivery pass in claims and logs: which machine, which process."""
    return f"{host_id()}:{os.getpid()}:{secrets.token_hex(3)}"


def claim_process(owner: str) -> tuple[str, int] | None:
    """(host id, pid) of a claim's owner as worker_id() wrote it; None for another form."""
    host, _, rest = owner.rpartition(":")
    host, _, pid = host.rpartition(":")
    return (host, int(pid)) if host and pid.isdigit() and rest else None


def stopping(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Delivery:
    """One worker's pass over the outbox (use inside `with`: on the way out the connections
    say QUIT, what they finished is recorded, and every claim still held is released).

    A second stop request (digest.util.stopping.interrupt) gives up the messages in flight:
    their claims are released at once, so a rerun sends them without waiting out the lease;
    one the server accepted while the process was leaving is sent again by that rerun (the
    window the README describes)."""

    def __init__(
        self,
        store: Outbox,
        make_sender: SenderFactory,
        sender: str,
        *,
        stop: threading.Event | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        worker: str | None = None,
        clock: Clock = utc_now,
        progress: Progress | None = None,
        connections: int = 1,
    ) -> None:
        self._store = store
        self._stop = stop
        self._lease_seconds = lease_seconds
        self._worker = worker or worker_id()
        self._clock = clock
        self._progress = progress or silent()
        self._envelope_from = parseaddr(sender)[1] or sender
        self._outcomes: list[DeliveryOutcome] = []
        self._temporary_in_a_row = 0
        self._last_temporary = ""
        self._last_id = 0
        self._in_flight: dict[int, str] = {}  # outbox id -> recipient, submitted, not recorded
        self._cleanup = ExitStack()
        self._pool: SenderPool[OutboxItem] = SenderPool(make_sender, connections)

    def __enter__(self) -> Self:
        with ExitStack() as cleanup:
            cleanup.callback(self._give_back)
            cleanup.enter_context(busy(self._stop, self._describe))
            cleanup.enter_context(self._pool)
            self._cleanup = cleanup.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._cleanup.__exit__(exc_type, exc, tb)

    def _give_back(self) -> None:
        """After the connections closed: record what they finished (a 250 is not resent),
        then release every claim still held."""
        try:
            while (done := self._pool.poll_outcome()) is not None:
                self._record(done)
        except Exception as err:  # already leaving on an error: the claims must still go
            event(log, "record_failed", f"could not record a finished message: {err}")
        finally:
            released = self._store.release_claims(self._worker)
            if released:
                event(
                    log,
                    "claims_released",
                    f"gave back {released} message{'s' if released != 1 else ''} not sent; "
                    "they stay pending for the next run",
                    level=logging.WARNING,
                    released=released,
                )

    def _describe(self) -> str:
        """What a stop request lets finish, for the signal handler's log line."""
        to = sorted(self._in_flight.values())
        if not to:
            return ""
        if len(to) == 1:
            return f"finishing the message in flight to {to[0]}"
        return f"finishing the {len(to)} messages in flight (to {', '.join(to)})"

    def _next_outcome(self) -> Outcome[OutboxItem]:
        while (done := self._pool.wait_outcome(WATCH_SECONDS)) is None:
            if interrupted(self._stop):
                raise Interrupted(
                    f"interrupted by a second stop request with {len(self._in_flight)} in flight"
                )
        return done

    @property
    def server_down(self) -> bool:
        return self._temporary_in_a_row >= STOP_AFTER_TEMPORARY_FAILURES

    @property
    def unreachable(self) -> str:
        """Why the pass stopped sending because the server kept failing; "" if it did not."""
        return self._last_temporary if self.server_down else ""

    def pump(self) -> None:
        """Without waiting: record what the connections have finished, then claim pending
        messages for the free ones."""
        while (done := self._pool.poll_outcome()) is not None:
            self._record(done)
        self._claim_while_room()

    def finish(self) -> tuple[DeliveryOutcome, ...]:
        """Send every pending message (until stopped or the server is down); the outcomes of
        the whole pass, pumped ones included."""
        exhausted = False
        while True:
            if not exhausted:
                exhausted = not self._claim_while_room()
            if self._pool.in_flight == 0:
                break
            self._record(self._next_outcome())
        if self.server_down and not stopping(self._stop):
            # One line, not one per message: they stay pending (not failed) for the next run.
            left = self._store.pending_count()
            event(
                log,
                "server_unreachable",
                f"server unreachable ({self._last_temporary}): {left} left pending",
                level=logging.WARNING,
                pending=left,
            )
        if stopping(self._stop):
            event(log, "delivery_stopped", "stop requested: the remaining messages stay pending")
        self._progress.finish()
        return tuple(self._outcomes)

    def _claim_while_room(self) -> bool:
        """Claim and submit while a connection is free; False once nothing is pending."""
        while self._pool.has_room and not stopping(self._stop) and not self.server_down:
            item = self._store.claim_pending(
                self._worker, self._lease_seconds, self._clock(), after_id=self._last_id
            )
            if item is None:
                return False
            self._last_id = item.id
            self._in_flight[item.id] = item.recipient
            self._pool.submit(Job(item, self._envelope_from, item.recipient, item.message))
        return True

    def _record(self, done: Outcome[OutboxItem]) -> None:
        self._in_flight.pop(done.ticket.id, None)
        if done.error is None:
            _record_sent(self._store, done.ticket, self._outcomes)
            self._temporary_in_a_row = 0
        else:
            _record_failure(self._store, done.ticket, done.error, self._outcomes)
            permanent = done.error.permanent
            self._temporary_in_a_row = 0 if permanent else self._temporary_in_a_row + 1
            if not permanent:
                self._last_temporary = done.error.reason
        self._progress.step(done.ticket.recipient)


def deliver_pending(
    store: Outbox,
    make_sender: SenderFactory,
    sender: str,
    *,
    stop: threading.Event | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    worker: str | None = None,
    clock: Clock = utc_now,
    progress: Progress | None = None,
    connections: int = 1,
) -> tuple[DeliveryOutcome, ...]:
    """Send every pending message; record each as sent only once the server accepted it.
    `stop` is checked between messages: the ones in flight finish, the rest stay pending."""
    with Delivery(
        store,
        make_sender,
        sender,
        stop=stop,
        lease_seconds=lease_seconds,
        worker=worker,
        clock=clock,
        progress=progress,
        connections=connections,
    ) as delivery:
        return delivery.finish()


def _record_sent(store: Outbox, item: OutboxItem, outcomes: list[DeliveryOutcome]) -> None:
    # The server has the message. A crash before mark_sent means the next run sends it
    # again, same bytes and Message-ID: at-least-once, never lost.
    failpoint("after-send")
    store.mark_sent(item.id)
    failpoint("after-mark-sent")
    outcomes.append(DeliveryOutcome(item.recipient, DeliveryState.SENT, len(item.paper_ids)))
    event(
        log,
        "delivered",
        f"delivered {item.day} digest to {item.recipient} ({len(item.paper_ids)} papers)",
        recipient=item.recipient,
        outbox_id=item.id,
        message_id=item.message_id,
        papers=len(item.paper_ids),
    )


def _record_failure(
    store: Outbox, item: OutboxItem, err: DeliveryError, outcomes: list[DeliveryOutcome]
) -> None:
    give_up = err.permanent or item.attempts + 1 >= MAX_DELIVERY_ATTEMPTS
    store.mark_failed_attempt(item.id, err.reason, give_up=give_up)
    outcomes.append(
        DeliveryOutcome(
            item.recipient,
            DeliveryState.FAILED,
            len(item.paper_ids),
            f"{err.reason}; {_what_next(err, give_up)}",
        )
    )
    event(
        log,
        "delivery_failed",
        f"delivery to {item.recipient} failed: {err.reason}; {_what_next(err, give_up)}",
        level=logging.WARNING,
        recipient=item.recipient,
        outbox_id=item.id,
        error=err.reason,
        permanent=err.permanent,
        gave_up=give_up,
    )


def _what_next(err: DeliveryError, give_up: bool) -> str:
    """Said once, after the reason: whether the next run tries this message again."""
    if not give_up:
        return "the next run tries again"
    if err.permanent:
        return "gave up: the server refused it for good (`digest retry` sends it again)"
    return f"gave up after failing in {MAX_DELIVERY_ATTEMPTS} runs (`digest retry` sends it again)"
