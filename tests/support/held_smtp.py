"""An SMTP handler that holds its reply to one message until the test lets it go, so a test
can act (kill the client, fill the disk) at the exact moment a message is in flight."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

from support.smtp_server import RecordingHandler

HOLD_LIMIT = 60.0  # seconds a held reply waits at most, so a failed test never hangs


@dataclass
class HoldingHandler(RecordingHandler):
    """The first message's DATA waits for `release`; `arrived` is set when it came. Once
    released, the held message is answered `held_reply` and, unless that is a 250, not kept
    (its client may well be dead by then). Every later message is accepted as usual."""

    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    held_reply: str = "421 4.3.0 closing: the message was not taken"
    held_recipients: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self.arrived.is_set():
            self.held_recipients = list(envelope.rcpt_tos)
            self.arrived.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, HOLD_LIMIT)
            if not self.held_reply.startswith("250"):
                return self.held_reply
        return await super().handle_DATA(server, session, envelope)


@dataclass
class RefusingHandler(RecordingHandler):
    """Answers every message with a temporary failure once `accepted` messages were taken:
    a server that has gone away for the rest of the run (until `down` is cleared)."""

    accepted: int = 0
    down: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if len(self.received) >= self.accepted:
                self.down.set()
        if self.down.is_set():
            return "421 4.3.2 service shutting down"
        return await super().handle_DATA(server, session, envelope)
