"""Listings into the store: fetch (or read a snapshot), parse, merge with what is known, save.

One failing source is recorded in its outcome and in the source log; the others go on.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from digest.collect.fetched import FetchResult
from digest.collect.listings import (
    Collected,
    ListingRequest,
    ReadListing,
    collect,
    listing_requests,
)
from digest.collect.merge import merge_papers
from digest.config.settings import Settings
from digest.jobs.context import ProgressSink, RunContext
from digest.jobs.corpus import count_stored
from digest.models import SourceOutcome, SourceState, Subscriber, Validators
from digest.util.failpoints import failpoint
from digest.util.logs import event

log = logging.getLogger("digest.pipeline")


def listing_day(settings: Settings, now: dt.datetime) -> dt.date:
    """The operator's today: which day's listings to fetch."""
    return now.astimezone(settings.zone).date()


def followed_categories(subscribers: Sequence[Subscriber]) -> tuple[str, ...]:
    return tuple(sorted({c for s in subscribers for c in s.profile.categories}))


def collect_and_store(
    ctx: RunContext, read: ReadListing, now: dt.datetime, subscribers: Sequence[Subscriber]
) -> Collected:
    """Fetch what today's listings hold for these subscribers' categories and store it."""
    store, settings = ctx.store, ctx.settings

    def last_ok(name: str) -> dt.date | None:
        record = store.source_record(name)
        return record.last_ok_day if record else None

    def validators_for(name: str, url: str) -> Validators | None:
        record = store.source_record(name)
        return record.validators if record and record.url == url else None

    requests = listing_requests(
        settings.sources,
        listing_day(settings, now),
        categories=followed_categories(subscribers),
        last_ok=last_ok,
        validators=validators_for,
        catchup_days=settings.catchup_days,
        holidays=settings.arxiv_holidays,
    )
    collected = read_all(
        settings, requests, read, today=listing_day(settings, now), progress=ctx.progress
    )
    failpoint("after-fetch")
    # A paper seen before keeps what earlier listings said of it (HF upvotes, categories).
    known = store.papers_by_id(p.id for p in collected.papers)
    merged = merge_papers([*known.values(), *collected.papers])
    store.save_papers(merged, now)
    count_stored(store, merged, known, now.astimezone(dt.UTC).date())  # for the day's IDF
    _log_sources(ctx, collected)
    failpoint("after-store")
    return collected


def read_all(
    settings: Settings,
    requests: Sequence[ListingRequest],
    read: ReadListing,
    *,
    today: dt.date,
    progress: ProgressSink,
) -> Collected:
    """Read every listing, counting them on the progress sink."""
    counter = progress("fetching", len(requests))

    def read_counted(request: ListingRequest) -> FetchResult:
        try:
            return read(request)
        finally:
            counter.step(request.source.name)

    collected = collect(requests, read_counted, today=today, holidays=settings.arxiv_holidays)
    counter.finish()
    return collected


def _log_sources(ctx: RunContext, collected: Collected) -> None:
    for listing in collected.listings:
        if listing.stopped:
            continue  # not read at all: the source's record keeps what the last fetch said
        outcome = next(o for o in collected.outcomes if o.name == listing.request.source.name)
        ctx.store.save_source_outcome(
            outcome if not listing.error else _failed(outcome, listing.error),
            url=listing.request.url,
            validators=listing.result.validators if listing.result else None,
            day=listing.request.day,
        )
    for outcome in collected.outcomes:
        failed = outcome.state in (SourceState.FAILED, SourceState.STOPPED)
        retried = f" ({outcome.retries} requests retried)" if outcome.retries else ""
        event(
            log,
            "source",
            f"source {outcome.name}: {outcome.state.value}, {outcome.papers} papers"
            + (f": {outcome.detail}" if outcome.detail else "")
            + retried,
            level=logging.WARNING if failed else logging.INFO,
            source=outcome.name,
            state=outcome.state.value,
            papers=outcome.papers,
            detail=outcome.detail,
            retries=outcome.retries,
        )


def _failed(outcome: SourceOutcome, error: str) -> SourceOutcome:
    return SourceOutcome(outcome.name, SourceState.FAILED, outcome.papers, error)
