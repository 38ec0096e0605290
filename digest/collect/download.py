"""One fetch's download, run in its own thread so that the caller can stop waiting for it.

A read blocked on a silent server cannot be interrupted in the thread that makes it; a stop
request (SIGTERM) must still end the fetch within moments. So the Fetcher downloads in a
thread and the caller waits for it, looking at the stop event and the deadline as it waits.
When it stops waiting it abandons the download: the thread gives up at its next chance, and
a read already under way is cut short by shutting the socket down.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import TypeVar

from digest.errors import FetchError
from digest.util.stopping import busy

__all__ = ["Download", "FetchStopped", "stopped_message", "watch_download"]

WATCH_SECONDS = 0.1  # how often the caller looks at the stop event while a download runs

Result = TypeVar("Result")


class FetchStopped(FetchError):
    """A stop was requested (SIGTERM, Ctrl-C) before the download was complete."""


@dataclass(slots=True)
class Download:
    """One fetch as its download thread goes, read by the caller that waits for it."""

    since: float | None = None  # clock() when the current request was sent
    headers: bool = False  # the current response's headers have arrived
    received: int = 0  # bytes of its body so far
    abandoned: bool = False  # the caller stopped waiting: give up at the next chance
    stream: object = None  # the response's network stream, to cut an abandoned read short

    def abandon(self) -> None:
        self.abandoned = True
        get_extra_info = getattr(self.stream, "get_extra_info", None)
        sock = get_extra_info("socket") if get_extra_info is not None else None
        if isinstance(sock, socket.socket):
            # shutdown, not close: it wakes a read blocked in the download thread.
            with suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


def watch_download(
    work: Callable[[], Result],
    download: Download,
    *,
    stop: threading.Event,
    url: str,
    overdue: Callable[[], bool],
    too_slow: Callable[[], str],
) -> Result:
    """Run `work` in a thread and wait for it; on a stop request raise FetchStopped, and once
    `overdue()` raise FetchError(too_slow()), both at once, abandoning the download."""
    outcome: list[Result | BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # handed to the caller, raised there
            outcome.append(exc)
        finally:
            done.set()

    # said to be busy before the thread starts: a signal right after the request went out
    # must name this download, not "nothing was in flight"
    with busy(stop, lambda: stopping_note(url, download)):
        threading.Thread(target=run, name="fetch", daemon=True).start()
        while not done.wait(WATCH_SECONDS):
            if stop.is_set():
                download.abandon()
                raise FetchStopped(stopped_message(download), url=url)
            if overdue():
                download.abandon()
                raise FetchError(too_slow(), url=url)
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def stopped_message(download: Download) -> str:
    if download.since is None:
        return "stopped on request before the download began"
    return f"stopped on request while the response was arriving ({download.received} bytes)"


def stopping_note(url: str, download: Download) -> str:
    """What a stop request cuts short, for the signal handler's log line."""
    if download.since is None:
        return f"the fetch of {url} is stopped"
    return f"the download of {url} is stopped ({download.received} bytes so far)"
