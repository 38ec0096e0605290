"""The jobs the CLI and the scheduler run, each with its own store, fetcher and sender.

    run    fetch, then compose and send everyone's digest now (`digest run`, a cron line)
    fetch  listings into the store, nothing sent (the scheduler, at [schedule] fetch_at)
    tick   compose the digests that are due by each subscriber's clock, send what is pending

A `threading.Event` asks a job to stop: the message in flight finishes, the rest stay pending.
`stop_on_signals` turns SIGTERM and Ctrl-C into that event; a second signal interrupts at once.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from types import FrameType

from digest.collect.fetch import Fetcher, FetchResult
from digest.collect.listings import ListingRequest
from digest.config.settings import Settings
from digest.deliver.delivery import utc_now, worker_id
from digest.deliver.smtp import OutboxDirSender, Sender, SmtpSender
from digest.jobs.pipeline import deliver_due, fetch_once, run_once
from digest.jobs.schedule import last_fetch_slot
from digest.models import RunReport
from digest.store.sqlite import SqliteStore
from digest.util.logs import event

log = logging.getLogger("digest.service")

FETCH_LEASE = "fetch"
FETCH_LEASE_SECONDS = 3600.0  # longer than any fetch with catch-up and arXiv's 3 s spacing


def fetcher_reader(fetcher: Fetcher) -> Callable[[ListingRequest], FetchResult]:
    return lambda request: fetcher.fetch(request.url, request.validators)


def sender_factory(settings: Settings) -> Callable[[], Sender]:
    if settings.smtp is not None:
        smtp = settings.smtp
        return lambda: SmtpSender(smtp)
    outbox = settings.outbox_dir
    return lambda: OutboxDirSender(outbox)


def run_job(
    settings: Settings, *, stop: threading.Event | None = None, interactive: bool = False
) -> RunReport:
    with closing(SqliteStore.open(settings.database)) as store, Fetcher(settings.fetch) as fetcher:
        return run_once(
            settings,
            store,
            fetcher_reader(fetcher),
            sender_factory(settings),
            now=utc_now(),
            stop=stop,
            interactive=interactive,
        )


def fetch_job(
    settings: Settings, *, only_if_stale: bool = False, interactive: bool = False
) -> RunReport | None:
    """Fetch unless another process is fetching (a job lease), or, with `only_if_stale`, unless
    a fetch already ran since the latest scheduled fetch time. None when skipped."""
    now = utc_now()
    owner = worker_id()
    with closing(SqliteStore.open(settings.database)) as store:
        if only_if_stale:
            last = store.last_run_started(("fetch", "run"))
            slot = last_fetch_slot(settings.schedule.fetch_at, settings.schedule.fetch_zone, now)
            if last is not None and last >= slot:
                return None
        if not store.acquire_lease(FETCH_LEASE, owner, FETCH_LEASE_SECONDS, now):
            event(log, "fetch_skipped", "another process is fetching; skipped this fetch")
            return None
        try:
            with Fetcher(settings.fetch) as fetcher:
                return fetch_once(
                    settings,
                    store,
                    fetcher_reader(fetcher),
                    sender_factory(settings),
                    now=now,
                    interactive=interactive,
                )
        finally:
            store.release_lease(FETCH_LEASE, owner)


def tick_job(
    settings: Settings, *, stop: threading.Event | None = None, interactive: bool = False
) -> RunReport:
    with closing(SqliteStore.open(settings.database)) as store:
        return deliver_due(
            settings,
            store,
            sender_factory(settings),
            now=utc_now(),
            stop=stop,
            interactive=interactive,
        )


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
