"""The jobs that change state, each one path through the stages:

    run    fetch, then compose and send every subscriber's digest now (`digest run`)
    fetch  listings into the store, nothing composed or sent (the scheduler's fetch times)
    tick   compose the digests due by each subscriber's own clock, then send what is pending
    retry  re-queue the deliveries given up on, then send what is pending

Every job sends through the same Delivery (the configured connections, lease and progress),
and every report is assembled by `_report` from what the stages returned.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence

from digest.collect.listings import ReadListing
from digest.deliver.delivery import Delivery
from digest.jobs.alerts import maybe_alert
from digest.jobs.context import RunContext
from digest.jobs.fanout import FanOut, enqueue_digests
from digest.jobs.ingest import collect_and_store, listing_day
from digest.jobs.schedule import due_digests, local_dates
from digest.jobs.sending import window_notes
from digest.models import (
    DeliveryOutcome,
    DeliveryState,
    RunReport,
    SourceOutcome,
    SourceState,
    Subscriber,
)
from digest.util.logs import event

log = logging.getLogger("digest.pipeline")


def run_once(ctx: RunContext, read: ReadListing) -> RunReport:
    """Fetch, then compose and send every subscriber's digest now (whatever their hour)."""
    now = ctx.clock()
    subscribers = ctx.store.subscribers()
    collected = collect_and_store(ctx, read, now, subscribers)
    fanout, deliveries = compose_and_send(ctx, subscribers, collected.outcomes, now)
    report = _report(ctx, now, sources=collected.outcomes, deliveries=deliveries, fanout=fanout)
    finish_run(ctx, report, kind="run")
    return report


def fetch_once(ctx: RunContext, read: ReadListing) -> RunReport:
    """A scheduled fetch: listings into the store, nothing composed or sent."""
    now = ctx.clock()
    collected = collect_and_store(ctx, read, now, ctx.store.subscribers())
    report = _report(ctx, now, sources=collected.outcomes)
    finish_run(ctx, report, kind="fetch")
    return report


def deliver_due(ctx: RunContext) -> RunReport:
    """One delivery tick: compose the digests that are due by each subscriber's own clock,
    then send whatever is pending. Subscribers are read afresh, so changes apply at once."""
    now = ctx.clock()
    store = ctx.store
    subscribers = store.subscribers()
    composed = store.digest_days(local_dates(subscribers, now))
    due = due_digests(subscribers, now, lambda s, day: (s.id, day) in composed)
    fanout, deliveries = compose_and_send(
        ctx,
        [subscriber for subscriber, _ in due],
        last_source_failures(ctx) if due else (),
        now,
        days={subscriber.id: day for subscriber, day in due if subscriber.id is not None},
    )
    report = _report(ctx, now, deliveries=deliveries, fanout=fanout)
    if fanout.composed or deliveries or report.errors:  # an idle tick is not history
        finish_run(ctx, report, kind="tick")
    return report


def retry_failed(ctx: RunContext) -> tuple[int, RunReport]:
    """Re-queue the deliveries that were given up on and send everything pending, through the
    same delivery as run and tick. Returns how many were re-queued, and the report."""
    now = ctx.clock()
    requeued = ctx.store.requeue_failed()
    with delivery(ctx) as sending:
        deliveries = sending.finish()
    report = _report(ctx, now, deliveries=deliveries)
    if requeued or deliveries:
        finish_run(ctx, report, kind="retry")
    return requeued, report


def compose_and_send(
    ctx: RunContext,
    subscribers: Sequence[Subscriber],
    sources: tuple[SourceOutcome, ...],
    now: dt.datetime,
    *,
    days: Mapping[int, dt.date] | None = None,
) -> tuple[FanOut, tuple[DeliveryOutcome, ...]]:
    """Compose the subscribers' digests into the outbox and send everything pending; sending
    starts with the first digest composed, not after the last."""
    fanout = FanOut()
    with delivery(ctx, composing=bool(subscribers)) as sending:
        if subscribers and not ctx.stopping:
            fanout = enqueue_digests(
                ctx, subscribers, sources, now, days=days, after_each=sending.pump
            )
        return fanout, sending.finish()


def delivery(ctx: RunContext, *, composing: bool = False) -> Delivery:
    """A delivery pass under this installation's lease and sender settings. While digests
    are still being composed, how many there will be is not known: the progress only counts."""
    settings = ctx.settings
    return Delivery(
        ctx.store,
        ctx.make_sender,
        settings.email.sender,
        stop=ctx.stop,
        lease_seconds=settings.schedule.lease_seconds,
        progress=ctx.progress("sending", None if composing else ctx.store.pending_count()),
        connections=settings.smtp.connections if settings.smtp else 1,
        limits=settings.send_limits,
        window_clock=ctx.clock,
    )


def last_source_failures(ctx: RunContext) -> tuple[SourceOutcome, ...]:
    """For a digest composed between fetches: the sources whose last fetch failed."""
    outcomes = []
    for source in ctx.settings.sources:
        record = ctx.store.source_record(source.name)
        if record and record.last_state is SourceState.FAILED:
            outcomes.append(SourceOutcome(source.name, SourceState.FAILED, 0, record.last_detail))
    return tuple(outcomes)


def _report(
    ctx: RunContext,
    started: dt.datetime,
    *,
    sources: tuple[SourceOutcome, ...] = (),
    deliveries: tuple[DeliveryOutcome, ...] = (),
    fanout: FanOut | None = None,
) -> RunReport:
    """The one place a run's report is assembled from what its stages returned."""
    return RunReport(
        started=started,
        finished=ctx.clock(),
        day=listing_day(ctx.settings, started),
        sources=sources,
        deliveries=deliveries,
        errors=fanout.errors if fanout else (),
        notes=((fanout.note,) if fanout and fanout.note else ())
        + (window_notes(ctx.store, ctx.settings, ctx.clock()) if deliveries or fanout else ()),
    )


def finish_run(ctx: RunContext, report: RunReport, *, kind: str) -> None:
    """Alert the operator if the run had problems, then record it in the run history."""
    settings = ctx.settings
    alert = maybe_alert(
        operator=settings.email.operator,
        sender=settings.email.sender,
        store=ctx.store,
        make_sender=ctx.make_sender,
        report=report,
        kind=kind,
        now=report.finished,
    )
    ctx.store.record_run(report, kind=kind, alert=alert)
    sent = sum(1 for d in report.deliveries if d.state is DeliveryState.SENT)
    event(
        log,
        f"{kind}_finished",
        f"{kind} finished: {'ok' if report.ok else 'with problems'}, {sent} delivered"
        + (" (stopped early on request)" if ctx.stopping else ""),
        ok=report.ok,
        delivered=sent,
        failed=len(report.deliveries) - sent,
        errors=len(report.errors),
        stopped=ctx.stopping,
        alert=alert,
    )
