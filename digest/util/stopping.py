"""What a job is busy with when it is asked to stop, and the second request that cuts it short.

A job watches one `threading.Event` (set on SIGTERM or Ctrl-C). The stages doing slow work
(the Fetcher, the Delivery) note here, against that event, what they are in the middle of,
so the signal handler can say at once what is being finished and what is cut short, without
knowing the stages. A second request (`interrupt`) tells them to give up what is in flight
now: a delivery pass then releases its claims before the process exits.

The signal handler reads this from the main thread at any moment, so nothing it touches takes
a lock: registering and reading are single dictionary operations.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from digest.errors import DigestError

__all__ = ["Interrupted", "busy", "doing", "interrupt", "interrupted"]

Describe = Callable[[], str]  # "" when there is nothing to say right now


class Interrupted(DigestError):
    """A second stop request: what is in flight is given up, not finished."""


@dataclass
class _Watch:
    notes: dict[int, Describe] = field(default_factory=dict)
    interrupted: bool = False


_watches: weakref.WeakKeyDictionary[threading.Event, _Watch] = weakref.WeakKeyDictionary()
_register_lock = threading.Lock()  # between threads registering; never taken by a reader
_keys = itertools.count()


def _watch(stop: threading.Event) -> _Watch:
    found = _watches.get(stop)
    if found is None:
        with _register_lock:
            found = _watches.setdefault(stop, _Watch())
    return found


@contextmanager
def busy(stop: threading.Event | None, describe: Describe) -> Iterator[None]:
    """While inside, `describe()` says what a stop request would finish or cut short."""
    if stop is None:
        yield
        return
    notes = _watch(stop).notes
    key = next(_keys)
    notes[key] = describe
    try:
        yield
    finally:
        notes.pop(key, None)


def doing(stop: threading.Event) -> list[str]:
    """What the stages watching `stop` are in the middle of, in the order they began."""
    found = _watches.get(stop)
    if found is None:
        return []
    return [text for describe in list(found.notes.values()) if (text := describe())]


def interrupt(stop: threading.Event) -> None:
    """The second request: stop, and give up what is in flight."""
    found = _watches.get(stop)
    if found is None:  # from a signal handler: never the lock a registering thread may hold
        found = _watches.setdefault(stop, _Watch())
    found.interrupted = True
    stop.set()


def interrupted(stop: threading.Event | None) -> bool:
    found = _watches.get(stop) if stop is not None else None
    return found is not None and found.interrupted
