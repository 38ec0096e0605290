"""A Delivery pumped while digests are still being composed: a message goes out as soon as
it is in the outbox, each is sent and marked once, and a connection never holds two."""

from __future__ import annotations

import time

from deliver_handlers import FROM, ledger_unsent, queue_digest, smtp
from support.smtp_server import SmtpSink

from digest.deliver.delivery import Delivery
from digest.deliver.smtp import SmtpSender
from digest.models import DeliveryState
from digest.store import Store


def compose_one(store: Store, n: int) -> str:
    """Stands in for the composing loop: one more pending digest in the outbox."""
    return queue_digest(store, n)


def wait_for(condition: object, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.005)
    assert condition(), "timed out"  # type: ignore[operator]


def test_a_digest_is_sent_while_the_next_ones_are_still_being_composed(
    store: Store, sink: SmtpSink
) -> None:
    with Delivery(store, lambda: SmtpSender(smtp(sink.port)), FROM) as sending:
        first = compose_one(store, 0)
        sending.pump()  # claims it and hands it to the free connection, without waiting
        wait_for(lambda: len(sink.handler.received) == 1)
        assert sink.handler.received[0].rcpt_tos == [first]

        second = compose_one(store, 1)
        # A pump records the first as sent (once its connection has the 250, a moment after
        # the sink has the message) and sends the second.
        wait_for(lambda: sending.pump() or [i.recipient for i in store.pending()] == [second])
        assert [i.recipient for i in store.pending()] == [second]  # in flight, claimed
        assert len(store.claims()) == 1
        wait_for(lambda: len(sink.handler.received) == 2)
        outcomes = sending.finish()
    assert [(o.recipient, o.state) for o in outcomes] == [
        (first, DeliveryState.SENT),
        (second, DeliveryState.SENT),
    ]
    assert store.pending() == [] and store.claims() == [] and ledger_unsent(store) == 0


def test_pumping_never_claims_more_than_there_are_connections(store: Store, sink: SmtpSink) -> None:
    sink.handler.data_delay = 0.2  # the server is slow: connections stay busy
    people = []
    with Delivery(store, lambda: SmtpSender(smtp(sink.port)), FROM, connections=2) as sending:
        for n in range(6):
            people.append(compose_one(store, n))
            sending.pump()
            assert len(store.claims()) <= 2
        unclaimed = len(store.pending()) - len(store.claims())
        assert unclaimed >= 4  # the rest wait in the outbox for a free connection
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
