"""Deliver the outbox: claim pending messages, send them, record them as sent only once the
server accepted them.

Messages are claimed for the free connections (a lease in the outbox row, one statement for
all of them), so any number of workers may deliver from one database and each message goes
to exactly one of them. Within this worker, `connections` SMTP connections send in parallel
(digest.sendpool); a message is claimed only when a connection is free, so a worker never
holds more claims than it has connections. Only the thread that owns the Delivery reads or
writes the store.

What the connections finished is recorded as it is taken, the accepted ones as sent in one
transaction with their ledger rows, and always before anything more is claimed and before the
pass lets go of its claims (a stop request, an error). When a claim follows, the same
transaction records them first and then claims (Outbox.mark_sent_and_claim): one commit, not
two, per message sent. Recording them later, in bigger
batches, would let a crash leave more accepted messages unrecorded, to be sent twice: the
window the README describes stays one message per connection.

A Delivery can run alongside composing: the composing loop calls `pump()` after each digest
it composes, which records what the connections finished and feeds them, without waiting,
and `written()` after each batch it puts in the outbox; `finish()` then sends the rest. So
the first digests go out while the last are still being composed, and nothing about a
message's path changes: outbox row -> claim -> SMTP -> marked sent.

The mail provider's limits hold for every worker together: the Delivery claims a message,
then takes a sending slot for it, reserved in the store (SendWindow; a few at a time,
SLOT_BATCH), so no slot goes to a pump that found nothing to send. A slot a little ahead (the
per-second pace) is waited for by the connection, not here; a spare whose moment went by is
not used; when the daily window is full, the claims not sent in are given back, nothing more
is claimed and the rest stay pending for a later pass (`window_full_until` says until when).
Unused slots go back to the day's window at the end of the pass.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from email.utils import parseaddr
from types import TracebackType
from typing import Protocol, Self

from digest.deliver.sendpool import Job, Outcome, SenderPool
from digest.deliver.smtp import Sender
from digest.errors import DeliveryError
from digest.models import DeliveryOutcome, DeliveryState, OutboxItem
from digest.store.roles import Outbox, SendLimits, SendWindow
from digest.util.clock import Clock, utc_now
from digest.util.failpoints import failpoint
from digest.util.logs import event
from digest.util.progress import Progress, silent
from digest.util.stopping import Interrupted, busy, interrupted

SenderFactory = Callable[[], Sender]

log = logging.getLogger("digest.delivery")

MAX_DELIVERY_ATTEMPTS = 5  # runs a temporarily failing message is retried before it is failed
STOP_AFTER_TEMPORARY_FAILURES = 3  # in a row: the server is down, leave the rest pending
DEFAULT_LEASE_SECONDS = 900.0  # a worker's hold on one message; outlives any SMTP retry loop
WATCH_SECONDS = 0.1  # while waiting for a connection, how often a second stop request is looked for
UNLIMITED = SendLimits()
# Slots reserved per trip to the store: one lock and round trip for several messages. The
# spares are used while their moment is still ahead and given back at the end of the pass.
SLOT_BATCH = 4


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


class SendingStore(Outbox, SendWindow, Protocol):
    """What a delivery pass needs of the store: the outbox, and the shared sending window."""


class WindowClock:
    """The moments slots are reserved at: the job's clock at the start of the pass, running on
    from there (an injected clock that stands still still paces sending in real time)."""

    def __init__(self, clock: Clock) -> None:
        self._start, self._started = clock(), time.monotonic()

    def now(self) -> dt.datetime:
        return self._start + dt.timedelta(seconds=time.monotonic() - self._started)

    def deadline(self, slot: dt.datetime) -> float:
        """The slot as a time.monotonic() value."""
        return self._started + (slot - self._start).total_seconds()


def stopping(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()


class Delivery:
    """One worker's pass over the outbox (use inside `with`: on the way out the connections
    say QUIT, what they finished is recorded, and every claim still held is released).

    A second stop request (digest.util.stopping.interrupt) gives up the messages in flight:
    their claims are released at once, so a rerun sends them without waiting out the lease;
    one the server accepted while the process was leaving is sent again by that rerun (the
    window the README describes)."""

    def __init__(
        self,
        store: SendingStore,
        make_sender: SenderFactory,
        sender: str,
        *,
        stop: threading.Event | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        worker: str | None = None,
        clock: Clock = utc_now,
        progress: Progress | None = None,
        connections: int = 1,
        limits: SendLimits = UNLIMITED,
    ) -> None:
        self._store = store
        self._accepted: list[OutboxItem] = []  # the server has them; recorded before any claim
        # False once a claim found the outbox empty: pumps then leave the store alone until
        # `written()` says more is there (finish() always looks).
        self._may_have_more = True
        self._limits = limits
        # The window counts in the job's time (`--now` included), as claims do.
        self._window = WindowClock(clock)
        self.window_full_until: dt.datetime | None = None
        self._spare: list[dt.datetime] = []  # reserved, not used yet
        self._passed: list[dt.datetime] = []  # reserved, their moment went by unused
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
            cleanup.callback(self._give_back_slots)
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
            # Before the claims go: released first, an accepted message could be sent again.
            self._take_finished()
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
        messages for the free ones, if the outbox may hold any."""
        self._gather()
        if self._may_have_more:
            self._claim_while_room()
        self._record_accepted()

    def written(self) -> None:
        """More messages are in the outbox (the composing loop wrote a batch): pump."""
        self._may_have_more = True
        self.pump()

    def finish(self) -> tuple[DeliveryOutcome, ...]:
        """Send every pending message (until stopped or the server is down); the outcomes of
        the whole pass, pumped ones included."""
        exhausted = False
        while True:
            if not exhausted:
                exhausted = not self._claim_while_room()
            self._record_accepted()
            if self._pool.in_flight == 0:
                break
            self._gather(self._next_outcome())
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
        """Claim (one statement for all the free connections) and submit while a connection
        is free; False once nothing is pending. The accepted messages not yet recorded are
        recorded by the first claim's transaction, before it claims: one commit for both."""
        while self._pool.has_room and not stopping(self._stop) and not self.server_down:
            free = self._pool.connections - self._pool.in_flight
            accepted = [item.id for item in self._accepted]
            claimed = self._store.mark_sent_and_claim(
                accepted,
                self._worker,
                self._lease_seconds,
                self._clock(),
                free,
                self._last_id,
            )
            if accepted:  # kept until now: had the store failed, _give_back records them
                self._accepted = []
                failpoint("after-mark-sent")
            if len(claimed) < free:
                self._may_have_more = False
            if not claimed:
                return False
            for position, item in enumerate(claimed):
                # The slot after the claim: a slot is taken only for a message to send in it.
                slot = self._reserve_slot()
                if slot is None:
                    for unsent in claimed[position:]:
                        self._store.release_claim(unsent.id, self._worker)
                    return False  # the daily window is full: the rest wait for a later pass
                self._last_id = item.id
                self._in_flight[item.id] = item.recipient
                paced = self._window.deadline(slot) if self._limits.per_second > 0 else 0.0
                self._pool.submit(
                    Job(item, self._envelope_from, item.recipient, item.message, not_before=paced)
                )
        return True

    def _reserve_slot(self) -> dt.datetime | None:
        now = self._window.now()
        if self._limits.unlimited:
            return now  # nothing to share: no round trip to the store
        while self._spare:
            slot = self._spare.pop(0)
            if self._limits.per_second <= 0 or slot >= now:
                return slot
            # Sending in a slot gone by would crowd a later second: the pace forbids it.
            self._passed.append(slot)
        grant = self._store.reserve_sends(SLOT_BATCH, self._limits, now)
        if grant.slots:
            self._spare.extend(grant.slots[1:])
            return grant.slots[0]
        if self.window_full_until is None:
            self.window_full_until = grant.full_until
            event(
                log,
                "sending_window_full",
                f"the daily sending window is full until {grant.full_until:%Y-%m-%d %H:%M} "
                "UTC; the rest stay pending",
                level=logging.WARNING,
                until=grant.full_until.isoformat() if grant.full_until else None,
            )
        return None

    def _take_finished(self) -> None:
        """Take every outcome the connections have ready and record the accepted ones."""
        self._gather()
        self._record_accepted()

    def _gather(self, first: Outcome[OutboxItem] | None = None) -> None:
        """Take `first` and every other outcome the connections have ready. The accepted
        ones wait in `_accepted` for the next claim's transaction (or `_record_accepted`),
        which records them before it claims anything."""
        if first is not None:
            self._record(first)
        while (done := self._pool.poll_outcome()) is not None:
            self._record(done)

    def _record_accepted(self) -> None:
        """Record the accepted messages not recorded by a claim, with their ledger rows: one
        transaction."""
        if not self._accepted:
            return
        self._store.mark_sent_many([item.id for item in self._accepted])
        self._accepted = []
        failpoint("after-mark-sent")

    def _give_back_slots(self) -> None:
        """The day's window gets back what this pass reserved and did not send in."""
        unused, self._spare, self._passed = self._spare + self._passed, [], []
        if unused and self._limits.per_day > 0:
            self._store.give_back_sends(unused)

    def _record(self, done: Outcome[OutboxItem]) -> None:
        self._in_flight.pop(done.ticket.id, None)
        if done.error is None:
            # The server has the message. A crash before it is recorded means the next run
            # sends it again, same bytes and Message-ID: at-least-once, never lost.
            failpoint("after-send")
            self._accepted.append(done.ticket)
            _delivered(done.ticket, self._outcomes)
            self._temporary_in_a_row = 0
        else:
            _record_failure(self._store, done.ticket, done.error, self._outcomes)
            permanent = done.error.permanent
            self._temporary_in_a_row = 0 if permanent else self._temporary_in_a_row + 1
            if not permanent:
                self._last_temporary = done.error.reason
        self._progress.step(done.ticket.recipient)


def deliver_pending(
    store: SendingStore,
    make_sender: SenderFactory,
    sender: str,
    *,
    stop: threading.Event | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    worker: str | None = None,
    clock: Clock = utc_now,
    progress: Progress | None = None,
    connections: int = 1,
    limits: SendLimits = UNLIMITED,
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
        limits=limits,
    ) as delivery:
        return delivery.finish()


def _delivered(item: OutboxItem, outcomes: list[DeliveryOutcome]) -> None:
    outcomes.append(DeliveryOutcome(item.recipient, DeliveryState.SENT, len(item.paper_ids)))
    if not log.isEnabledFor(logging.INFO):
        return  # a line per message: not even formatted when nobody reads it
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
