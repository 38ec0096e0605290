"""A Delivery pumped while digests are still being composed: a message goes out as soon as
it is in the outbox, each is sent and marked once, and a connection never holds two."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from deliver_handlers import FROM, ledger_unsent, queue_digest, smtp
from support.smtp_server import SmtpSink

from digest.deliver.delivery import Delivery
from digest.deliver.smtp import SmtpSender
from digest.models import DeliveryState
from digest.store import Store


def compose_one(store: Store, n: int, sending: Delivery) -> str:
    """Stands in for the composing loop: one more pending digest in the outbox, and the
    Delivery told so."""
    recipient = queue_digest(store, n)
    sending.written()
    return recipient


def pump_until(sending: Delivery, condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Pump until `condition` holds: the connection's thread hands its outcome over a
    moment after its send returned; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        sending.pump()


def test_a_digest_is_sent_while_the_next_ones_are_still_being_composed(
    store: Store, sink: SmtpSink
) -> None:
    with Delivery(store, lambda: SmtpSender(smtp(sink.port)), FROM) as sending:
        # Claimed and handed to the free connection, without waiting.
        first = compose_one(store, 0, sending)
        (arrived,) = sink.handler.wait_for(1)
        assert arrived.rcpt_tos == [first]

        second = compose_one(store, 1, sending)
        # The server has the first; once its 250 is back, a pump records the first as sent
        # and hands the second to the connection it freed.
        pump_until(sending, lambda: first not in {i.recipient for i in store.pending()})
        assert [i.recipient for i in store.pending()] == [second]  # in flight, claimed
        assert len(store.claims()) == 1
        assert [r.rcpt_tos for r in sink.handler.wait_for(2)] == [[first], [second]]
        outcomes = sending.finish()
    assert [(o.recipient, o.state) for o in outcomes] == [
        (first, DeliveryState.SENT),
        (second, DeliveryState.SENT),
    ]
    assert store.pending() == [] and store.claims() == [] and ledger_unsent(store) == 0


def test_pumping_never_claims_more_than_there_are_connections(store: Store, sink: SmtpSink) -> None:
    sink.handler.hold = threading.Event()  # the server keeps both connections busy
    people = []
    with Delivery(store, lambda: SmtpSender(smtp(sink.port)), FROM, connections=2) as sending:
        for n in range(6):
            people.append(compose_one(store, n, sending))
            sending.pump()
            assert len(store.claims()) <= 2
        assert len(store.claims()) == 2
        unclaimed = len(store.pending()) - len(store.claims())
        assert unclaimed == 4  # the rest wait in the outbox for a free connection
        sink.handler.hold.set()
        outcomes = sending.finish()
    assert sorted(o.recipient for o in outcomes) == sorted(people)
    assert sorted(r.rcpt_tos[0] for r in sink.handler.received) == sorted(people)
    assert store.claims() == [] and ledger_unsent(store) == 0


def test_a_pump_with_nothing_pending_opens_no_connection(store: Store, sink: SmtpSink) -> None:
    made: list[SmtpSender] = []

    def sender() -> SmtpSender:
        made.append(SmtpSender(smtp(sink.port)))
        return made[-1]

    with Delivery(store, sender, FROM) as sending:
        sending.pump()
        assert sending.finish() == ()
    assert made == [] and sink.handler.received == []
