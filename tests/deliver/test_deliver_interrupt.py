"""A delivery pass interrupted (a second stop request) while the server holds a message:
what the server accepted is recorded as sent, the held message's claim is given back, so
nothing waits out a lease and nothing accepted is sent twice. Real SQLite, real SMTP."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from deliver_handlers import FROM, queue_digest, smtp
from support.smtp_server import RecordingHandler, SmtpSink

from digest.deliver.delivery import Delivery
from digest.deliver.smtp import SmtpSender
from digest.store import Store
from digest.util.stopping import Interrupted, interrupt

WAIT = 10.0  # hang guard


class HoldOne(RecordingHandler):
    """Accepts every message at once, except one recipient's, held until the client leaves."""

    def __init__(self, held: str) -> None:
        super().__init__()
        self.held = held
        self.holding = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.held in envelope.rcpt_tos:
            self.holding.set()
            while True:  # cancelled when the client goes away
                await asyncio.sleep(0.02)
        return await super().handle_DATA(server, session, envelope)


def wait_until(condition: Any) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize("how", ["second signal in this thread", "second request elsewhere"])
def test_an_interrupted_pass_records_what_was_accepted_and_gives_the_rest_back(
    store: Store, how: str
) -> None:
    accepted, held = queue_digest(store, 0), queue_digest(store, 1)
    handler = HoldOne(held)
    server = SmtpSink(handler)
    stop = threading.Event()
    try:
        delivery = Delivery(
            store, lambda: SmtpSender(smtp(server.port)), FROM, stop=stop, connections=2
        )
        with pytest.raises((KeyboardInterrupt, Interrupted)), delivery as sending:
            sending.pump()  # both claimed, one per connection
            assert handler.holding.wait(WAIT)
            wait_until(lambda: handler.to(accepted))
            if how == "second signal in this thread":
                raise KeyboardInterrupt  # what the signal handler raises in the main thread
            interrupt(stop)  # a job in another thread: the pass sees it while waiting
            sending.finish()
    finally:
        server.close()

    assert [item.recipient for item in store.pending()] == [held]
    assert store.claims() == []  # given back: a rerun sends it at once
    sent = store.outbox_for(store.subscribers()[0].id or 0, store.pending()[0].day)
    assert sent is not None and sent.recipient == accepted and sent.state.value == "sent"
    assert [r.rcpt_tos for r in handler.received] == [[accepted]]
