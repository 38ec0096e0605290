"""SenderPool against a real aiosmtpd server: N connections, each message sent exactly once."""

from __future__ import annotations

import sys

import pytest
from deliver_handlers import Faulty, Overlapping
from support.smtp_server import SmtpSink

from digest.config.settings import SmtpSettings
from digest.deliver.sendpool import SENDING_SWITCH_INTERVAL, Job, Outcome, SenderPool
from digest.deliver.smtp import SmtpSender
from digest.errors import DeliveryError

FROM = "digest@example.org"


def message(n: int) -> bytes:
    # Lines starting with a dot must survive SMTP's dot-stuffing on every connection.
    return (
        f"Subject: digest {n}\r\nMessage-ID: <{n}@example.org>\r\n\r\n"
        f".hidden {n}\r\n..two dots\r\n.\r\nlast line\r\n"
    ).encode("ascii")


class Senders:
    """A sender factory that keeps what it made, to count connections."""

    def __init__(self, port: int, **settings: object) -> None:
        self.settings = SmtpSettings(
            host="127.0.0.1",
            port=port,
            security="plain",
            timeout=5,
            backoff_seconds=0,
            **settings,  # type: ignore[arg-type]
        )
        self.made: list[SmtpSender] = []

    def __call__(self) -> SmtpSender:
        sender = SmtpSender(self.settings)
        self.made.append(sender)
        return sender

    @property
    def connections_opened(self) -> int:
        return sum(s.connections_opened for s in self.made)


def send_all(pool: SenderPool[int], count: int) -> list[Outcome[int]]:
    """Feed `count` messages through the pool as a caller should: submit while there is room."""
    outcomes: list[Outcome[int]] = []
    pending = list(range(count))
    while pending or pool.in_flight:
        while pending and pool.has_room:
            n = pending.pop(0)
            pool.submit(Job(n, FROM, f"reader{n}@example.org", message(n)))
        outcomes.append(pool.next_outcome())
    return outcomes


@pytest.mark.parametrize("connections", [1, 2, 4])
def test_every_message_arrives_exactly_once_whatever_the_connections(
    sink: SmtpSink, connections: int
) -> None:
    senders = Senders(sink.port)
    with SenderPool(senders, connections) as pool:
        outcomes = send_all(pool, 25)
    assert sorted(o.ticket for o in outcomes) == list(range(25))
    assert all(o.accepted for o in outcomes)
    received = sorted(r.rcpt_tos[0] for r in sink.handler.received)
    assert received == sorted(f"reader{n}@example.org" for n in range(25))
    for got in sink.handler.received:
        n = int(got.rcpt_tos[0].removeprefix("reader").removesuffix("@example.org"))
        assert got.data == message(n)  # dot-stuffing undone by the server: the same bytes
        assert got.mail_from == FROM
    # a connection opens when its thread first takes a message: under load one thread may
    # drain the queue alone, so fewer may open, never more, and each is reused
    assert 1 <= len(senders.made) <= connections
    assert senders.connections_opened == len(senders.made)


def test_connections_really_send_side_by_side() -> None:
    handler = Overlapping(want=3)
    server = SmtpSink(handler)
    try:
        with SenderPool(Senders(server.port), 3) as pool:
            outcomes = send_all(pool, 6)
    finally:
        server.close()
    assert all(o.accepted for o in outcomes)
    assert handler.most == 3


def test_a_small_batch_opens_only_the_connections_it_needs(sink: SmtpSink) -> None:
    senders = Senders(sink.port)
    with SenderPool(senders, 4) as pool:
        outcomes = send_all(pool, 1)
    assert [o.ticket for o in outcomes] == [0]
    assert senders.connections_opened == 1


def test_faults_on_one_connection_neither_lose_nor_duplicate() -> None:
    # A dropped connection and a 451 on two of the connections: their own sender retries
    # (reconnecting after the drop) while the other connections go on.
    handler = Faulty(
        drop=frozenset({"reader3@example.org"}), busy=frozenset({"reader8@example.org"})
    )
    server = SmtpSink(handler)
    senders = Senders(server.port)
    try:
        with SenderPool(senders, 3) as pool:
            outcomes = send_all(pool, 20)
    finally:
        server.close()
    assert handler.faults == 2
    assert all(o.accepted for o in outcomes)
    assert sorted(o.ticket for o in outcomes) == list(range(20))
    received = sorted(r.rcpt_tos[0] for r in handler.received)
    assert received == sorted(f"reader{n}@example.org" for n in range(20))
    assert senders.connections_opened == 4  # three, plus one reopened after the drop


def test_a_permanent_refusal_is_that_message_s_outcome_only(sink: SmtpSink) -> None:
    sink.handler.reject["reader2@example.org"] = "550 5.1.1 mailbox unavailable"
    with SenderPool(Senders(sink.port), 2) as pool:
        outcomes = send_all(pool, 6)
    refused = [o for o in outcomes if not o.accepted]
    assert [o.ticket for o in refused] == [2]
    error = refused[0].error
    assert isinstance(error, DeliveryError) and error.permanent
    assert error.recipient == "reader2@example.org" and "550 5.1.1" in error.reason
    assert len(sink.handler.received) == 5


def test_a_bug_in_a_sender_thread_is_raised_in_the_caller(sink: SmtpSink) -> None:
    def broken() -> SmtpSender:
        raise RuntimeError("no sender today")

    with SenderPool(broken, 2) as pool:
        pool.submit(Job(1, FROM, "reader1@example.org", message(1)))
        with pytest.raises(RuntimeError, match="no sender today"):
            pool.next_outcome()
    assert sink.handler.received == []


def test_the_pool_refuses_more_than_one_message_per_connection(sink: SmtpSink) -> None:
    with SenderPool(Senders(sink.port), 1) as pool:
        pool.submit(Job(1, FROM, "reader1@example.org", message(1)))
        assert not pool.has_room
        with pytest.raises(RuntimeError, match="busy"):
            pool.submit(Job(2, FROM, "reader2@example.org", message(2)))
        assert pool.next_outcome().ticket == 1
    with pytest.raises(ValueError, match="connections"):
        SenderPool(Senders(sink.port), 0)


def test_an_open_pool_shortens_the_gil_switch_interval_and_restores_it(sink: SmtpSink) -> None:
    # Replies must not wait 5 ms for the GIL while this process composes or records.
    before = sys.getswitchinterval()
    with SenderPool(Senders(sink.port), 2) as pool:
        assert sys.getswitchinterval() == min(before, SENDING_SWITCH_INTERVAL) < 0.005
        send_all(pool, 3)
    assert sys.getswitchinterval() == before
    with pytest.raises(RuntimeError, match="no sender today"), SenderPool(_broken, 1) as pool:
        pool.submit(Job(1, FROM, "reader1@example.org", message(1)))
        pool.next_outcome()
    assert sys.getswitchinterval() == before


def _broken() -> SmtpSender:
    raise RuntimeError("no sender today")
