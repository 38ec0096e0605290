"""Stop a job cleanly on SIGTERM or Ctrl-C: the message in flight finishes, the rest stay
pending; a second signal interrupts at once."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from digest.util.logs import event

log = logging.getLogger("digest.service")


@contextmanager
def stop_on_signals(
    stop: threading.Event,
    *,
    message: str = "finishing the message in flight; the rest stay pending "
    "(signal again to interrupt now)",
    on_stop: Callable[[], None] | None = None,
) -> Iterator[threading.Event]:
    """While inside, SIGTERM and SIGINT set `stop` (and call `on_stop`); a second one raises
    KeyboardInterrupt.

    Only the main thread may install handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_signal(number: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        event(
            log,
            "stop_requested",
            f"{signal.Signals(number).name}: {message}",
            level=logging.WARNING,
        )
        if on_stop is not None:
            on_stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
