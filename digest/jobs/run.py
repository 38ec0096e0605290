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
from dataclasses import dataclass, replace

from digest.collect.listings import ReadListing
from digest.deliver.delivery import Delivery
from digest.jobs.alerts import maybe_alert
from digest.jobs.context import RunContext
from digest.jobs.fanout import FanOut, enqueue_digests
from digest.jobs.history import Run, end_recorded, recorded_run
from digest.jobs.ingest import collect_and_store, listing_day
from digest.jobs.leftover import older_note, undelivered
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
    with recorded_run(ctx, "run", now) as run:
        subscribers = ctx.store.subscribers()
        collected = collect_and_store(ctx, read, now, subscribers)
        sent = send_composed(ctx, subscribers, collected.outcomes, now)
        report = _report(
            ctx, now, sources=collected.outcomes, deliveries=sent.deliveries, fanout=sent.fanout
        )
        report = with_undelivered(
            ctx, report, now, unreachable=sent.unreachable, subscribers=subscribers
        )
        finish_run(ctx, report, kind="run", run=run)
    return report


def fetch_once(ctx: RunContext, read: ReadListing) -> RunReport:
    """A scheduled fetch: listings into the store, nothing composed or sent."""
    now = ctx.clock()
    with recorded_run(ctx, "fetch", now) as run:
        collected = collect_and_store(ctx, read, now, ctx.store.subscribers())
        report = _report(ctx, now, sources=collected.outcomes)
        finish_run(ctx, report, kind="fetch", run=run)
    return report


def deliver_due(ctx: RunContext) -> RunReport:
    """One delivery tick: compose the digests that are due by each subscriber's own clock,
    then send whatever is pending. Subscribers are read afresh, so changes apply at once."""
    now = ctx.clock()
    store = ctx.store
    subscribers = store.subscribers()
    composed = store.digest_days(local_dates(subscribers, now))
    due = due_digests(subscribers, now, lambda s, day: (s.id, day) in composed)
    if not due and store.pending_count() == 0:
        return _report(ctx, now)  # an idle tick is not history, and writes nothing
    with recorded_run(ctx, "tick", now) as run:
        sent = send_composed(
            ctx,
            [subscriber for subscriber, _ in due],
            last_source_failures(ctx) if due else (),
            now,
            days={subscriber.id: day for subscriber, day in due if subscriber.id is not None},
        )
        report = _report(ctx, now, deliveries=sent.deliveries, fanout=sent.fanout)
        report = with_undelivered(ctx, report, now, unreachable=sent.unreachable)
        if sent.fanout.composed or sent.deliveries or report.errors:
            finish_run(ctx, report, kind="tick", run=run)
        else:
            run.idle = True  # an idle tick is not history
    return report


def retry_failed(ctx: RunContext) -> tuple[int, RunReport]:
    """Re-queue the deliveries that were given up on and send everything pending, through the
    same delivery as run and tick. Returns how many were re-queued, and the report."""
    now = ctx.clock()
    with recorded_run(ctx, "retry", now) as run:
        requeued = ctx.store.requeue_failed()
        with delivery(ctx) as sending:
            deliveries = sending.finish()
        report = _report(ctx, now, deliveries=deliveries)
        report = with_undelivered(ctx, report, now, unreachable=sending.unreachable)
        if requeued or deliveries or report.undelivered:
            finish_run(ctx, report, kind="retry", run=run)
        else:
            run.idle = True
    return requeued, report


@dataclass(frozen=True, slots=True)
class Sent:
    fanout: FanOut
    deliveries: tuple[DeliveryOutcome, ...]
    unreachable: str  # why sending stopped early (the server kept failing), or ""


def compose_and_send(
    ctx: RunContext,
    subscribers: Sequence[Subscriber],
    sources: tuple[SourceOutcome, ...],
    now: dt.datetime,
    *,
    days: Mapping[int, dt.date] | None = None,
) -> tuple[FanOut, tuple[DeliveryOutcome, ...]]:
    """Compose the subscribers' digests into the outbox and send everything pending."""
    sent = send_composed(ctx, subscribers, sources, now, days=days)
    return sent.fanout, sent.deliveries


def send_composed(
    ctx: RunContext,
    subscribers: Sequence[Subscriber],
    sources: tuple[SourceOutcome, ...],
    now: dt.datetime,
    *,
    days: Mapping[int, dt.date] | None = None,
) -> Sent:
    """Compose the subscribers' digests into the outbox and send everything pending; sending
    starts with the first digest composed, not after the last."""
    fanout = FanOut()
    with delivery(ctx, composing=bool(subscribers)) as sending:
        if subscribers and not ctx.stopping:
            fanout = enqueue_digests(
                ctx,
                subscribers,
                sources,
                now,
                days=days,
                after_each=sending.pump,
                after_write=sending.written,
            )
        deliveries = sending.finish()
        return Sent(fanout, deliveries, sending.unreachable)


def with_undelivered(
    ctx: RunContext,
    report: RunReport,
    now: dt.datetime,
    *,
    unreachable: str = "",
    subscribers: Sequence[Subscriber] | None = None,
) -> RunReport:
    """The report with every digest still undelivered at its end named in it. `subscribers`:
    the list the run read at its start (a second copy of a long list doubles the memory a
    run needs at its end); by default it is read now."""
    if subscribers is None:
        subscribers = ctx.store.subscribers()
    left, older = undelivered(ctx.store, subscribers, now, unreachable=unreachable)
    return replace(report, undelivered=left, notes=report.notes + older_note(older))


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
        clock=ctx.clock,  # claims and leases by the job's clock (`--now` included)
        progress=ctx.progress("sending", None if composing else ctx.store.pending_count()),
        connections=settings.smtp.connections if settings.smtp else 1,
        limits=settings.send_limits,
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
        + _retry_notes(sources)
        + (window_notes(ctx.store, ctx.settings, ctx.clock()) if deliveries or fanout else ()),
    )


def _retry_notes(sources: tuple[SourceOutcome, ...]) -> tuple[str, ...]:
    """Retried answers (429, 5xx, timeouts) are no failure, but worth a line each source."""
    return tuple(
        f"source {s.name}: {s.retries} request{'s' if s.retries != 1 else ''} retried "
        "(the log says which, and why)"
        for s in sources
        if s.retries
    )


def finish_run(ctx: RunContext, report: RunReport, *, kind: str, run: Run | None = None) -> None:
    """Alert the operator if the run had problems, then record it in the run history (end
    the run written at its start, when there is one)."""
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
    if run is None:
        ctx.store.record_run(report, kind=kind, alert=alert)
    else:
        end_recorded(ctx, run, report, alert)
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
