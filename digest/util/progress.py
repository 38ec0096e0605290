"""A one-line progress counter on an interactive terminal; silent everywhere else.

Cron, systemd and log files get no carriage-return noise: the counter only draws when the
stream is a TTY.
"""

from __future__ import annotations

import sys
from typing import TextIO

WIDTH = 79


class Progress:
    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
    ) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self.enabled = self._stream.isatty() if enabled is None else enabled

    def step(self, note: str = "") -> None:
        self.done += 1
        if not self.enabled:
            return
        count = f"{self.done}/{self.total}" if self.total else str(self.done)
        line = f"{self.label} {count} {note}".rstrip()
        self._stream.write("\r" + line[:WIDTH].ljust(WIDTH))
        self._stream.flush()

    def finish(self) -> None:
        if self.enabled and self.done:
            self._stream.write("\r" + " " * WIDTH + "\r")
            self._stream.flush()


def silent() -> Progress:
    return Progress("", enabled=False)


def for_terminal(label: str, total: int | None = None) -> Progress:
    """A counter on stderr if stderr is a terminal, else one that draws nothing."""
    return Progress(label, total)
