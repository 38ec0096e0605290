"""`digest worker`: one of many processes, on any number of machines, sharing one store.

Each pass of a worker:
1. releases the outbox claims and job leases of dead processes on its own host (their pid is
   gone), so their messages go back to the pool at once instead of when the lease ends, and
   ends their runs as interrupted (digest.jobs.dead, which every job calls at its start);
2. fetches the day's listings if that is due and no other worker is at it (the job lease
   and "a fetch ran since the last fetch slot" make the fetch happen once);
3. composes the digests that are due, batch by batch: batch k is the subscribers whose id
   falls in [k * batch, (k + 1) * batch), held by a job lease while this worker composes it,
   so two workers never compose the same batch; the day's index is built once per pass,
   from the stored papers, and only if some batch was taken;
4. sends every pending message, claimed one at a time (the store's claims), also while it
   composes, each in a slot of the provider's limits reserved in the store (SendWindow);
5. once a day, empties the bodies of messages sent more than `[outbox] keep_days` ago.

Nothing else is shared: a worker killed at any moment leaves leases and claims that end
(or are released by a neighbour), and the outbox's rules keep every digest exactly once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from digest.collect.listings import ReadListing
from digest.deliver.delivery import host_id, worker_id
from digest.jobs.context import RunContext
from digest.jobs.dayindex import DayIndex
from digest.jobs.dead import release_dead_claims, release_dead_local, release_own_leases
from digest.jobs.fanout import ComposeOutcome, ComposeState, day_index_for_run, enqueue_digests
from digest.jobs.history import run_notes
from digest.jobs.ingest import collect_and_store, listing_day
from digest.jobs.run import delivery, finish_run, last_source_failures
from digest.jobs.schedule import due_digests, last_fetch_slot, local_dates
from digest.jobs.sending import prune_if_due, window_notes
from digest.models import DeliveryOutcome, RunReport, SourceOutcome, Subscriber

log = logging.getLogger("digest.worker")

FETCH_LEASE = "fetch"  # the same lease `digest tick --fetch` and the scheduler take
FETCH_LEASE_SECONDS = 3600.0
BATCH = 200  # subscribers per compose batch: a few seconds of work, then the lease is free


@dataclass(frozen=True, slots=True)
class WorkPass:
    fetched: bool
    batches: int  # compose batches this worker took
    composed: tuple[ComposeOutcome, ...]
    deliveries: tuple[DeliveryOutcome, ...]
    released: int  # claims of dead processes given back
    waiting_for_fetch: bool  # another worker was fetching: composing waited
    skipped: int  # due batches another worker held
    window_full_until: dt.datetime | None = None  # the daily sending window had no room

    @property
    def composed_new(self) -> int:
        return sum(1 for o in self.composed if o.state is ComposeState.COMPOSED)

    @property
    def settled(self) -> bool:
        """Nothing was left for this worker to do, nor held by another: with nothing pending,
        the day's work is done."""
        return not (
            self.fetched
            or self.composed_new
            or self.deliveries
            or self.released
            or self.waiting_for_fetch
            or self.skipped
        )


def batch_of(subscriber: Subscriber, size: int) -> int:
    assert subscriber.id is not None
    return subscriber.id // size


def work_pass(
    ctx: RunContext, read: ReadListing | None, *, batch: int = BATCH, fetch: bool = True
) -> WorkPass:
    """One pass: release the dead's claims, fetch if due, compose due batches, send."""
    store, owner = ctx.store, worker_id()
    released = release_dead_local(store, host_id(), ctx.clock(), run_notes(ctx.settings))
    fetched, waiting = False, False
    sources: tuple[SourceOutcome, ...] = ()
    if fetch and read is not None:
        fetched, waiting, sources = _fetch_if_due(ctx, read, owner)
    now = ctx.clock()
    subscribers = store.subscribers()
    composed_days = store.digest_days(local_dates(subscribers, now))
    due = [] if waiting else due_digests(subscribers, now, lambda s, d: (s.id, d) in composed_days)
    taken, skipped = 0, 0
    outcomes: list[ComposeOutcome] = []
    with delivery(ctx, composing=bool(due)) as sending:
        index: DayIndex | None = None
        for key, members in _batches(due, batch):
            if ctx.stopping:
                break
            name = f"compose:{key}"
            if not store.acquire_lease(name, owner, ctx.settings.schedule.lease_seconds, now):
                skipped += 1
                continue  # another worker composes this batch
            try:
                if index is None:
                    index = day_index_for_run(ctx, now, [s for s, _ in due])
                    sources = sources or (last_source_failures(ctx) if due else ())
                fanout = enqueue_digests(
                    ctx,
                    [s for s, _ in members],
                    sources,
                    now,
                    days={s.id: day for s, day in members if s.id is not None},
                    after_each=sending.pump,
                    after_write=sending.written,
                    day_index=index,
                )
                outcomes.extend(fanout.outcomes)
                taken += 1
            finally:
                store.release_lease(name, owner)
        deliveries = sending.finish()
    # Again at the end: a neighbour that died during this pass leaves nothing held behind.
    released += release_dead_claims(store, host_id())
    release_own_leases(store, owner)
    done = WorkPass(
        fetched,
        taken,
        tuple(outcomes),
        deliveries,
        released,
        waiting,
        skipped,
        sending.window_full_until,
    )
    if taken or deliveries:
        _record(ctx, now, done)
    prune_if_due(store, ctx.settings, ctx.clock())
    return done


def _fetch_if_due(
    ctx: RunContext, read: ReadListing, owner: str
) -> tuple[bool, bool, tuple[SourceOutcome, ...]]:
    """(fetched, another worker is fetching, source outcomes)."""
    store, settings, now = ctx.store, ctx.settings, ctx.clock()
    last = store.last_run_started(("fetch", "run"))
    slot = last_fetch_slot(settings.schedule.fetch_at, settings.schedule.fetch_zone, now)
    if last is not None and last >= slot:
        return False, False, ()
    if not store.acquire_lease(FETCH_LEASE, owner, FETCH_LEASE_SECONDS, now):
        return False, True, ()
    try:
        # Read again under the lease: the worker that held it before may just have finished.
        last = store.last_run_started(("fetch", "run"))
        if last is not None and last >= slot:
            return False, False, ()
        collected = collect_and_store(ctx, read, now, store.subscribers())
        report = RunReport(
            started=now,
            finished=ctx.clock(),
            day=listing_day(settings, now),
            sources=collected.outcomes,
        )
        finish_run(ctx, report, kind="fetch")
        return True, False, collected.outcomes
    finally:
        store.release_lease(FETCH_LEASE, owner)


def _batches(
    due: Sequence[tuple[Subscriber, dt.date]], size: int
) -> list[tuple[int, list[tuple[Subscriber, dt.date]]]]:
    grouped: dict[int, list[tuple[Subscriber, dt.date]]] = {}
    for subscriber, day in due:
        grouped.setdefault(batch_of(subscriber, size), []).append((subscriber, day))
    return sorted(grouped.items())


def _record(ctx: RunContext, started: dt.datetime, done: WorkPass) -> None:
    errors = tuple(
        f"{o.recipient}: {o.detail}" for o in done.composed if o.state is ComposeState.FAILED
    )
    report = RunReport(
        started=started,
        finished=ctx.clock(),
        day=listing_day(ctx.settings, started),
        deliveries=done.deliveries,
        errors=errors,
        notes=window_notes(ctx.store, ctx.settings, ctx.clock()),
    )
    finish_run(ctx, report, kind="worker")
