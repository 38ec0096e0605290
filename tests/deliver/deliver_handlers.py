"""SMTP server handlers with faults for the delivery tests (on top of support's sink)."""

from __future__ import annotations

import asyncio
from typing import Any

from support.smtp_server import RecordingHandler


class Overlapping(RecordingHandler):
    """Holds each message in DATA until `want` messages are in DATA at once (or a few seconds
    pass), and records the most it saw: proof that connections really send side by side."""

    def __init__(self, want: int) -> None:
        super().__init__()
        self.want = want
        self.active = 0
        self.most = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.active += 1
        self.most = max(self.most, self.active)
        for _ in range(300):
            if self.most >= self.want:
                break
            await asyncio.sleep(0.01)
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
