"""The bodies a store just wrote, kept for its own claims: a run composes and sends in one
process, so the message it claims next is usually one it wrote a moment ago, and reading its
~100 kB back from the database cost as much as the rest of the claim and marking it sent.

Only a cache: an entry is taken only for the same outbox id *and* Message-ID (an id the
database reused for another message never gets this one's bytes), and only after the
transaction that wrote it committed (the caller's duty), so a claim gets the very bytes the
database holds. Bounded by bytes; when full, new bodies are not kept (the oldest are the
next claimed, in id order), and entries below what was claimed are dropped, as no claim of
this pass comes back for them (another worker took them).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

DEFAULT_MAX_BYTES = 32 * 1024 * 1024  # about 330 digests of 100 kB


class BodyMemo:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self.taken = self.missed = 0  # claims served from memory or not (for benchmarks)
        # outbox id -> (Message-ID, body), in the order written: ids grow as rows are added
        self._bodies: OrderedDict[int, tuple[str, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._bodies)

    def remember(self, written: Iterable[tuple[int, str, bytes]]) -> None:
        """(outbox id, Message-ID, body) of messages whose transaction committed."""
        for outbox_id, message_id, body in written:
            if self._bytes + len(body) > self._max_bytes:
                return
            self._bodies[outbox_id] = (message_id, body)
            self._bytes += len(body)

    def take(self, outbox_id: int, message_id: str) -> bytes | None:
        """The body of that message if it is kept (and no longer kept), else None."""
        kept = self._bodies.pop(outbox_id, None)
        if kept is not None:
            self._bytes -= len(kept[1])
            if kept[0] == message_id:
                self.taken += 1
                return kept[1]
        self.missed += 1
        return None

    def forget_through(self, outbox_id: int) -> None:
        """Drop the bodies of ids up to `outbox_id`: a pass claims ids upwards."""
        while self._bodies and next(iter(self._bodies)) <= outbox_id:
            _, (_, body) = self._bodies.popitem(last=False)
            self._bytes -= len(body)
