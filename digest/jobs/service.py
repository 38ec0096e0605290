"""The jobs the CLI and the scheduler run, each opening its own store, fetcher and sender.

    run_job      fetch, then compose and send everyone's digest now (`digest run`, cron)
    fetch_job    listings into the store, nothing sent (the scheduler, at [schedule] fetch_at)
    tick_job     compose the digests due by each subscriber's clock, send what is pending
    retry_job    re-queue deliveries that were given up on, send what is pending
    save_job     today's listings into a snapshot folder, for previews and tests

A `threading.Event` asks a job to stop: the message in flight finishes, the rest stay pending.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from digest.collect.fetch import Fetcher
from digest.collect.listings import Collected, collect, listing_requests
from digest.collect.snapshot import save_snapshot
from digest.config.settings import Settings
from digest.deliver.delivery import host_id, worker_id
from digest.jobs.context import Clock, ProgressSink, RunContext, no_progress, utc_now
from digest.jobs.dead import release_dead_local
from digest.jobs.history import run_notes
from digest.jobs.ingest import followed_categories, listing_day
from digest.jobs.run import deliver_due, fetch_once, retry_failed, run_once
from digest.jobs.schedule import last_fetch_slot
from digest.jobs.sending import prune_if_due, prune_outbox
from digest.jobs.wiring import fetcher_reader, sender_factory
from digest.models import RunReport
from digest.store import open_store
from digest.store.roles import PruneCount
from digest.util.logs import event

log = logging.getLogger("digest.service")

FETCH_LEASE = "fetch"
FETCH_LEASE_SECONDS = 3600.0  # longer than any fetch with catch-up and arXiv's 3 s spacing
FETCH_POLL_SECONDS = 0.5  # how often a tick looks whether another process's fetch is done


@contextmanager
def job_context(
    settings: Settings,
    *,
    stop: threading.Event | None,
    progress: ProgressSink,
    clock: Clock = utc_now,
) -> Iterator[RunContext]:
    with closing(open_store(settings.store_url)) as store:
        # What a process killed on this host left held (claims, leases, its run) is given
        # back before anything else: a rerun after a crash sends the rest at once.
        release_dead_local(store, host_id(), clock(), run_notes(settings))
        yield RunContext(
            settings,
            store,
            sender_factory(settings),
            clock=clock,
            stop=stop or threading.Event(),
            progress=progress,
        )


def run_job(
    settings: Settings,
    *,
    stop: threading.Event | None = None,
    progress: ProgressSink = no_progress,
    clock: Clock = utc_now,
) -> RunReport:
    with (
        job_context(settings, stop=stop, progress=progress, clock=clock) as ctx,
        Fetcher(settings.fetch, stop=ctx.stop) as fetcher,
    ):
        report = run_once(ctx, fetcher_reader(fetcher))
        prune_if_due(ctx.store, settings, ctx.clock())
        return report


def fetch_job(
    settings: Settings,
    *,
    only_if_stale: bool = False,
    stop: threading.Event | None = None,
    progress: ProgressSink = no_progress,
    clock: Clock = utc_now,
) -> RunReport | None:
    """Fetch unless another process is fetching (a job lease), or, with `only_if_stale`, unless
    a fetch already ran since the latest scheduled fetch time. None when skipped."""
    owner = worker_id()
    with job_context(settings, stop=stop, progress=progress, clock=clock) as ctx:
        store, now = ctx.store, ctx.clock()
        if only_if_stale:
            last = store.last_run_started(("fetch", "run"))
            slot = last_fetch_slot(settings.schedule.fetch_at, settings.schedule.fetch_zone, now)
            if last is not None and last >= slot:
                return None
        if not store.acquire_lease(FETCH_LEASE, owner, FETCH_LEASE_SECONDS, now):
            event(log, "fetch_skipped", "another process is fetching; skipped this fetch")
            return None
        try:
            with Fetcher(settings.fetch, stop=ctx.stop) as fetcher:
                return fetch_once(ctx, fetcher_reader(fetcher))
        finally:
            store.release_lease(FETCH_LEASE, owner)


def tick_job(
    settings: Settings,
    *,
    stop: threading.Event | None = None,
    progress: ProgressSink = no_progress,
    clock: Clock = utc_now,
) -> RunReport:
    with job_context(settings, stop=stop, progress=progress, clock=clock) as ctx:
        _wait_while_fetching(ctx)
        report = deliver_due(ctx)
        prune_if_due(ctx.store, settings, ctx.clock())
        return report


def _wait_while_fetching(ctx: RunContext) -> None:
    """Another process holds the fetch lease: compose after its papers are stored, not
    before (a digest composed now would miss them, or close the day without mail). The lease
    ends by itself if that process died."""
    waited = False
    while not ctx.stopping and any(
        lease.name == FETCH_LEASE and lease.until > ctx.clock() for lease in ctx.store.leases()
    ):
        if not waited:
            event(log, "tick_waits", "another process is fetching: composing waits for it")
            waited = True
        ctx.stop.wait(FETCH_POLL_SECONDS)


def retry_job(
    settings: Settings,
    *,
    stop: threading.Event | None = None,
    progress: ProgressSink = no_progress,
) -> tuple[int, RunReport]:
    with job_context(settings, stop=stop, progress=progress) as ctx:
        return retry_failed(ctx)


def prune_job(settings: Settings, keep_days: int | None = None) -> PruneCount:
    """`digest db prune`: empty old sent bodies now (`[outbox] keep_days` unless given)."""
    with job_context(settings, stop=None, progress=no_progress) as ctx:
        days = settings.outbox_keep_days if keep_days is None else keep_days
        return prune_outbox(ctx.store, days, ctx.clock())


def save_job(
    settings: Settings, folder: Path, *, clock: Clock = utc_now
) -> tuple[Collected, list[Path]]:
    """Fetch today's listings (for the categories subscribers follow) into `folder`."""
    day = listing_day(settings, clock())
    categories: tuple[str, ...] = ()
    if settings.has_database:
        with closing(open_store(settings.store_url, readonly=True)) as store:
            categories = followed_categories(store.subscribers())
    requests = listing_requests(settings.sources, day, categories=categories, catchup_days=0)
    with Fetcher(settings.fetch) as fetcher:
        collected = collect(
            requests, fetcher_reader(fetcher), today=day, holidays=settings.arxiv_holidays
        )
    return collected, save_snapshot(folder, list(collected.listings))


def worker_job(
    settings: Settings,
    *,
    stop: threading.Event,
    until_done: bool = False,
    batch: int = 200,
    pause: float = 5.0,
    fetch: bool = True,
    clock: Clock = utc_now,
) -> int:
    """`digest worker`: passes (digest.jobs.worker) until stopped, or with `until_done` until a
    pass finds nothing left and nothing is pending. A store error (the database restarting)
    ends the pass, not the worker: the next pass reconnects. A pass that found the daily
    sending window full counts as done for `until_done`: what is pending waits for the
    window, not for this worker. Returns the passes made."""
    from digest.errors import StoreError
    from digest.jobs.worker import work_pass

    passes = 0
    with (
        job_context(settings, stop=stop, progress=no_progress, clock=clock) as ctx,
        Fetcher(settings.fetch, stop=stop) as fetcher,
    ):
        while not stop.is_set():
            passes += 1
            try:
                done = work_pass(ctx, fetcher_reader(fetcher), batch=batch, fetch=fetch)
                finished = until_done and done.settled
                finished = finished and (
                    done.window_full_until is not None or ctx.store.pending_count() == 0
                )
            except StoreError as err:
                event(
                    log, "worker_pass_failed", f"worker pass failed: {err}", level=logging.WARNING
                )
                finished = False
            if finished:
                break
            stop.wait(pause)
    return passes
