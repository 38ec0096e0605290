"""deliver_pending with several connections: a real SQLite outbox and a real SMTP server.

Whatever the number of connections, each outbox row is claimed, sent and marked by exactly one
of them, the ledger says "sent" only after the server's 250, and faults on one connection
neither lose nor duplicate a message.
"""

from __future__ import annotations

import threading

import pytest
from deliver_handlers import FROM, AlwaysBusy, Faulty, ledger_unsent, queue_digest, smtp
from support.smtp_server import SmtpSink

from digest.deliver.delivery import STOP_AFTER_TEMPORARY_FAILURES, deliver_pending
from digest.deliver.smtp import Sender, SmtpSender
from digest.models import DeliveryState
from digest.store import Store


def fill_outbox(store: Store, count: int) -> list[str]:
    """One pending digest for each of `count` subscribers; returns their addresses."""
    return [queue_digest(store, n, body=".dot line\r\nbody") for n in range(count)]


@pytest.mark.parametrize("connections", [1, 3])
def test_each_row_is_sent_and_marked_exactly_once(
    store: Store, sink: SmtpSink, connections: int
) -> None:
    people = fill_outbox(store, 24)
    sink.handler.data_delay = 0.005  # replies take a moment: connections interleave
    outcomes = deliver_pending(
        store, lambda: SmtpSender(smtp(sink.port)), FROM, connections=connections
    )
    assert sorted(o.recipient for o in outcomes) == sorted(people)
    assert {o.state for o in outcomes} == {DeliveryState.SENT}
    assert sorted(r.rcpt_tos[0] for r in sink.handler.received) == sorted(people)
    assert all(r.mail_from == "digest@example.org" for r in sink.handler.received)
    assert store.pending() == [] and store.claims() == []
    assert ledger_unsent(store) == 0
    for received in sink.handler.received:
        assert received.data.split(b"\r\n")[2] == b".dot line"


def test_faults_on_some_connections_still_deliver_each_message_once(store: Store) -> None:
    people = fill_outbox(store, 16)
    handler = Faulty(
        drop=frozenset({"reader2@example.org", "reader9@example.org"}),
        busy=frozenset({"reader5@example.org"}),
    )
    handler.reject["reader11@example.org"] = "550 5.1.1 no such mailbox"
    server = SmtpSink(handler)
    try:
        outcomes = deliver_pending(
            store, lambda: SmtpSender(smtp(server.port)), FROM, connections=3
        )
    finally:
        server.close()
    assert handler.faults == 3
    delivered = sorted(r.rcpt_tos[0] for r in handler.received)
    assert delivered == sorted(p for p in people if p != "reader11@example.org")
    failed = [o for o in outcomes if o.state is DeliveryState.FAILED]
    assert [o.recipient for o in failed] == ["reader11@example.org"]
    assert "550 5.1.1" in failed[0].detail and "gave up" in failed[0].detail
    (refused,) = store.failed()
    assert refused.recipient == "reader11@example.org" and refused.attempts == 1
    assert store.pending() == [] and store.claims() == []
    assert ledger_unsent(store) == 1  # only the refused digest's paper stays unsent


def test_a_server_that_keeps_failing_stops_the_batch_with_the_rest_pending(
    store: Store,
) -> None:
    connections = 2
    people = fill_outbox(store, 10)
    server = SmtpSink(AlwaysBusy())
    try:
        outcomes = deliver_pending(
            store,
            lambda: SmtpSender(smtp(server.port, max_attempts=1)),
            FROM,
            connections=connections,
        )
    finally:
        server.close()
    assert server.handler.received == []
    tried = [o for o in outcomes if "Still busy" in o.detail]
    # It stops claiming after three temporary failures in a row; what was in flight ends.
    assert STOP_AFTER_TEMPORARY_FAILURES <= len(tried) < STOP_AFTER_TEMPORARY_FAILURES + connections
    # The untried ones get no outcome each (no "failed" line per message): they stay pending.
    assert outcomes == tuple(tried)
    pending = store.pending()
    assert len(pending) == len(people)  # nothing given up on, nothing marked sent
    assert sum(item.attempts for item in pending) == len(tried)
    assert store.claims() == []


class StopsAfterSending(Sender):
    """A real SmtpSender that asks the run to stop once it has sent one message."""

    def __init__(self, inner: SmtpSender, stop: threading.Event) -> None:
        self.inner = inner
        self.stop = stop

    def send(self, sender: str, recipient: str, message: bytes) -> None:
        self.inner.send(sender, recipient, message)
        self.stop.set()

    def __enter__(self) -> StopsAfterSending:
        self.inner.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.inner.close()


def test_stop_lets_the_messages_in_flight_finish_and_releases_every_claim(
    store: Store, sink: SmtpSink
) -> None:
    people = fill_outbox(store, 12)
    stop = threading.Event()
    outcomes = deliver_pending(
        store,
        lambda: StopsAfterSending(SmtpSender(smtp(sink.port)), stop),
        FROM,
        stop=stop,
        connections=3,
    )
    sent = sorted(o.recipient for o in outcomes if o.state is DeliveryState.SENT)
    assert 1 <= len(sent) <= 3  # at most one per connection was in flight
    assert sorted(r.rcpt_tos[0] for r in sink.handler.received) == sent
    assert len(store.pending()) == len(people) - len(sent)
    assert store.claims() == []


def test_an_unexpected_error_in_a_connection_propagates_and_releases_claims(
    store: Store,
) -> None:
    fill_outbox(store, 5)

    def broken() -> Sender:
        raise OSError("factory broke")

    with pytest.raises(OSError, match="factory broke"):
        deliver_pending(store, broken, FROM, connections=2)
    assert len(store.pending()) == 5
    assert store.claims() == []
