"""Stop a job cleanly on SIGTERM or Ctrl-C: a fetch under way is stopped at once, a message
being sent finishes, the rest stay pending; a second signal interrupts at once, and the
messages still in flight are given back (their claims released) on the way out."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from digest.util.logs import event
from digest.util.stopping import doing, interrupt

log = logging.getLogger("digest.service")

NOTHING_IN_FLIGHT = "nothing was in flight"


def stop_message(stop: threading.Event, rest: str) -> str:
    """What a stop request finishes or cuts short, said when it arrives."""
    busy = doing(stop)
    return f"{'; '.join(busy) if busy else NOTHING_IN_FLIGHT}; {rest}"


@contextmanager
def stop_on_signals(
    stop: threading.Event,
    *,
    message: str = "the rest stay pending (signal again to interrupt now)",
    on_stop: Callable[[], None] | None = None,
) -> Iterator[threading.Event]:
    """While inside, SIGTERM and SIGINT set `stop` (and call `on_stop`), logging what is being
    finished (the Fetcher and the Delivery say, see digest.util.stopping) followed by
    `message`; a second one marks `stop` interrupted and raises KeyboardInterrupt.

    Only the main thread may install handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_signal(number: int, frame: FrameType | None) -> None:
        name = signal.Signals(number).name
        if stop.is_set():
            interrupt(stop)
            event(
                log,
                "interrupted",
                f"{name} again: interrupting; messages in flight are given back",
                level=logging.WARNING,
            )
            raise KeyboardInterrupt
        text = stop_message(stop, message)
        stop.set()
        event(log, "stop_requested", f"{name}: stopping: {text}", level=logging.WARNING)
        if on_stop is not None:
            on_stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
