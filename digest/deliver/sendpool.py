"""Deliver over several SMTP connections at once: one thread per connection.

One SMTP connection is request-response: after each command the client waits for the
server's reply, and while it waits it does nothing. With N connections, one connection's
wait overlaps the others' work (and the caller's, e.g. recording what was sent).

The caller hands in messages with `submit` and takes outcomes back with `next_outcome`, all
from its own thread; the pool never touches the store. Each message goes to exactly one
connection, and a connection's Sender (`make_sender()`, e.g. an SmtpSender with its own
retries, backoff and reconnects) is opened on its first message and reused for the rest of
its share, so a batch of one opens one connection. At most `connections` messages are in
flight, one per connection: a caller that claims a message only when a connection is free
never holds more claims than it has connections.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, Self, TypeVar

from digest.config.settings import MAX_CONNECTIONS
from digest.deliver.smtp import Sender
from digest.errors import DeliveryError
from digest.util.failpoints import failpoint

Ticket = TypeVar("Ticket")
_CLOSING_GRACE_SECONDS = 1.0  # after an error, how long to wait for a connection to say QUIT
# A connection thread that has its server's reply must get the GIL back before it can send
# the next command. Python makes a busy thread hand the GIL over only every switch interval
# (5 ms by default), which would add up to 5 ms to each round trip of a message (two with
# PIPELINING, four without) while this process also composes or records; while a pool is
# open it is cut to this. The cost is a few more GIL hand-overs, and only when threads want it.
SENDING_SWITCH_INTERVAL = 0.0005


@dataclass(frozen=True, slots=True)
class Job(Generic[Ticket]):
    ticket: Ticket  # what the caller needs to record the outcome (e.g. the outbox row)
    envelope_from: str
    recipient: str
    message: bytes
    # time.monotonic() before which the message must not go (the provider's pace): the
    # connection waits for it, so the caller never blocks on the pace.
    not_before: float = 0.0


@dataclass(frozen=True, slots=True)
class Outcome(Generic[Ticket]):
    """A submitted message after its connection is done with it: accepted by the server when
    `error` is None, else refused or undeliverable for now (see DeliveryError.permanent)."""

    ticket: Ticket
    error: DeliveryError | None = None

    @property
    def accepted(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class _Crash:
    """Something other than a DeliveryError escaped a sender (a bug, a broken factory): the
    caller's thread raises it again, as it would have with one connection in its own thread."""

    error: BaseException


class SenderPool(Generic[Ticket]):
    """`connections` senders, each in its own thread, fed from one queue (use inside `with`)."""

    def __init__(self, make_sender: Callable[[], Sender], connections: int = 1) -> None:
        if not 1 <= connections <= MAX_CONNECTIONS:
            raise ValueError(f"connections must be 1..{MAX_CONNECTIONS}, not {connections}")
        self.connections = connections
        self._make_sender = make_sender
        self._jobs: queue.SimpleQueue[Job[Ticket] | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[Outcome[Ticket] | _Crash] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._in_flight = 0
        self._outer_switch_interval: float | None = None

    @property
    def in_flight(self) -> int:
        """Messages submitted whose outcome the caller has not taken yet."""
        return self._in_flight

    @property
    def has_room(self) -> bool:
        """True when a connection is free for one more message."""
        return self._in_flight < self.connections

    def submit(self, job: Job[Ticket]) -> None:
        """Queue one message for the next free connection; never blocks."""
        if not self.has_room:
            raise RuntimeError("every connection is busy: take an outcome first")
        if len(self._threads) < self.connections and self._in_flight == len(self._threads):
            self._start_thread()  # connections open only as the work needs them
        self._in_flight += 1
        self._jobs.put(job)

    def next_outcome(self) -> Outcome[Ticket]:
        """Wait for the next message any connection is done with (in completion order)."""
        if self._in_flight == 0:
            raise RuntimeError("nothing in flight")
        return self._taken(self._done.get())

    def wait_outcome(self, timeout: float) -> Outcome[Ticket] | None:
        """As next_outcome, but None if no message is done within `timeout` seconds."""
        if self._in_flight == 0:
            raise RuntimeError("nothing in flight")
        try:
            return self._taken(self._done.get(timeout=timeout))
        except queue.Empty:
            return None

    def poll_outcome(self) -> Outcome[Ticket] | None:
        """The next finished message if one is ready, else None at once."""
        if self._in_flight == 0:
            return None
        try:
            return self._taken(self._done.get_nowait())
        except queue.Empty:
            return None

    def _taken(self, done: Outcome[Ticket] | _Crash) -> Outcome[Ticket]:
        self._in_flight -= 1
        if isinstance(done, _Crash):
            raise done.error
        return done

    def _start_thread(self) -> None:
        thread = threading.Thread(
            target=self._serve,
            name=f"smtp-connection-{len(self._threads) + 1}",
            daemon=True,  # a second Ctrl-C must not wait for a server's timeout
        )
        self._threads.append(thread)
        thread.start()

    def _serve(self) -> None:
        """One connection's thread: send what the queue gives until told to stop."""
        with ExitStack() as stack:
            sender: Sender | None = None
            while (job := self._jobs.get()) is not None:
                try:
                    if sender is None:
                        sender = stack.enter_context(self._make_sender())
                    if (wait := job.not_before - time.monotonic()) > 0:
                        time.sleep(wait)
                    failpoint("before-send")
                    sender.send(job.envelope_from, job.recipient, job.message)
                except DeliveryError as err:
                    self._done.put(Outcome(job.ticket, err))
                except BaseException as err:  # handed to the caller's thread, raised there
                    self._done.put(_Crash(err))
                else:
                    self._done.put(Outcome(job.ticket))

    def close(self, *, wait: bool = True) -> None:
        """Stop every thread after its current message; each says QUIT on its connection."""
        for _ in self._threads:
            self._jobs.put(None)
        # Not waiting: one grace for all of them, not one per connection.
        until = time.monotonic() + _CLOSING_GRACE_SECONDS
        for thread in self._threads:
            thread.join(None if wait else max(0.0, until - time.monotonic()))
        self._threads.clear()

    def __enter__(self) -> Self:
        self._outer_switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._outer_switch_interval, SENDING_SWITCH_INTERVAL))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # On an error a connection may be stuck waiting for a server: don't wait it out.
        try:
            self.close(wait=exc is None)
        finally:
            if self._outer_switch_interval is not None:
                sys.setswitchinterval(self._outer_switch_interval)
                self._outer_switch_interval = None
