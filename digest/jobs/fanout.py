"""The fan-out: every due subscriber's digest composed once into the outbox.

The day's index is built once; each subscriber's task is read from the store beforehand, so
composing touches no database and runs in forked workers when there are many. Only this
process writes the outbox. What happened to each subscriber comes back as a ComposeOutcome;
nothing is appended to lists passed down.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from digest.jobs.context import RunContext
from digest.jobs.corpus import corpus_background
from digest.jobs.dayindex import DayIndex, build_day_index, recent_window, wants_semantic
from digest.jobs.digests import ComposedDigest, Composer, ComposeTask, votes_of
from digest.jobs.schedule import local_date
from digest.models import SourceOutcome, Subscriber
from digest.rank.select import window_start
from digest.rank.semantic import StoreEmbeddingCache
from digest.store.roles import AlreadyQueued
from digest.util.failpoints import failpoint
from digest.util.forkmap import Done, Failed, fork_map
from digest.util.logs import event

log = logging.getLogger("digest.pipeline")


class ComposeState(StrEnum):
    COMPOSED = "composed"
    EMPTY = "empty"  # nothing matched and empty digests are not wanted
    ALREADY_QUEUED = "already_queued"  # another worker composed it first
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ComposeOutcome:
    recipient: str
    day: dt.date
    state: ComposeState
    detail: str = ""


@dataclass(frozen=True, slots=True)
class FanOut:
    outcomes: tuple[ComposeOutcome, ...] = ()
    note: str = ""  # said once in the report (e.g. why semantic matching is off)

    @property
    def composed(self) -> int:
        return sum(1 for o in self.outcomes if o.state is ComposeState.COMPOSED)

    @property
    def errors(self) -> tuple[str, ...]:
        return tuple(
            f"{o.recipient}: {o.detail}" for o in self.outcomes if o.state is ComposeState.FAILED
        )


def day_index_for_run(
    ctx: RunContext, now: dt.datetime, subscribers: Sequence[Subscriber]
) -> DayIndex:
    """The stored papers still eligible today, term weights from the 30-day corpus (its
    counts kept per day: digest.jobs.corpus)."""
    store, settings = ctx.store, ctx.settings
    corpus_start, eligible_from = recent_window(settings, now)
    profiles = [s.profile for s in subscribers]
    day_index = build_day_index(
        settings,
        store.recent_papers(max(eligible_from, corpus_start)),
        background=corpus_background(store, corpus_start),
        profiles=profiles,
        embeddings=StoreEmbeddingCache(store),
    )
    if wants_semantic(settings, profiles):
        store.prune_embeddings(corpus_start)
    return day_index


def enqueue_digests(
    ctx: RunContext,
    subscribers: Sequence[Subscriber],
    sources: tuple[SourceOutcome, ...],
    now: dt.datetime,
    *,
    days: Mapping[int, dt.date] | None = None,
    after_each: Callable[[], None] | None = None,
    day_index: DayIndex | None = None,
) -> FanOut:
    """Render each subscriber's digest once into the outbox (skipped if already there).

    The digest's day is the subscriber's own calendar day, or the day `days` gives for them
    (a tick composes the digest of the delivery moment it found). Another worker composing the
    same digest first is not an error: the backend refuses the second and this one moves on.
    `after_each` runs after each digest is dealt with (a Delivery's pump: send while composing).
    `day_index`: one built already (a worker composing several batches builds it once).
    """
    if not subscribers:
        return FanOut()
    if day_index is None:
        day_index = day_index_for_run(ctx, now, subscribers)
    tasks = _compose_tasks(ctx, subscribers, day_index, now, days or {})
    if not tasks:
        return FanOut((), day_index.note)
    composer = Composer(
        ctx.settings, day_index, sources, now, ctx.secret, ctx.templates, ctx.installation
    )
    # torch's thread pools do not survive a fork: semantic fusion composes in this process
    workers = ctx.settings.workers_for(len(tasks)) if day_index.semantic is None else 1
    outcomes = []
    for result in fork_map(composer.for_outbox, tasks, workers):
        if ctx.stopping:
            break  # the rest are composed by the next run, nothing is lost
        outcomes.append(_enqueue_one(ctx, tasks[result.position], result, now))
        if after_each is not None:
            after_each()
    return FanOut(tuple(outcomes), day_index.note)


def _compose_tasks(
    ctx: RunContext,
    subscribers: Sequence[Subscriber],
    day_index: DayIndex,
    now: dt.datetime,
    days: Mapping[int, dt.date],
) -> list[ComposeTask]:
    """A task per subscriber whose digest for their day is not in the outbox yet."""
    store = ctx.store
    ids = [seen.paper.id for seen in day_index.seen.seen]
    # Votes move the profile's vector: read them only when there is a semantic side to move.
    learning = day_index.semantic is not None
    tasks = []
    for subscriber in subscribers:
        assert subscriber.id is not None
        day = days.get(subscriber.id) or local_date(subscriber, now)
        if store.outbox_for(subscriber.id, day) is not None:
            continue  # composed earlier; a pending one is delivered by the sending pass
        since = window_start(now, ctx.settings.lookback_days, store.last_digest_at(subscriber.id))
        votes = votes_of(store.votes(subscriber.id)) if learning else ()
        sent = store.ledger_versions(subscriber.id, ids)
        tasks.append(ComposeTask(subscriber, day, sent, since, votes))
    return tasks


def _enqueue_one(
    ctx: RunContext,
    task: ComposeTask,
    result: Done[ComposedDigest | None] | Failed,
    now: dt.datetime,
) -> ComposeOutcome:
    subscriber, day = task.subscriber, task.day
    assert subscriber.id is not None
    if isinstance(result, Failed):
        return _compose_failed(subscriber.email, day, result)
    message = result.result
    if message is None:
        # Nothing new matched at their time: the day is done without mail. Papers that come
        # later wait for the next day's digest, and no tick composes this one again.
        ctx.store.close_day(
            subscriber_id=subscriber.id, recipient=subscriber.email, day=day, closed_at=now
        )
        return ComposeOutcome(subscriber.email, day, ComposeState.EMPTY)
    try:
        ctx.store.enqueue(
            subscriber_id=subscriber.id,
            recipient=subscriber.email,
            day=day,
            message_id=message.message_id,
            message=message.message,
            papers=list(message.papers),
            composed_at=now,
        )
    except AlreadyQueued:
        event(
            log,
            "digest_already_queued",
            f"digest for {subscriber.email} on {day} was composed by another worker",
            recipient=subscriber.email,
            day=day.isoformat(),
        )
        return ComposeOutcome(subscriber.email, day, ComposeState.ALREADY_QUEUED)
    event(
        log,
        "digest_composed",
        f"composed the digest for {subscriber.email} ({day}): {len(message.papers)} papers",
        recipient=subscriber.email,
        day=day.isoformat(),
        papers=len(message.papers),
        message_id=message.message_id,
    )
    failpoint("after-enqueue")
    return ComposeOutcome(subscriber.email, day, ComposeState.COMPOSED)


def _compose_failed(recipient: str, day: dt.date, failed: Failed) -> ComposeOutcome:
    """An expected failure (bad profile data) is one line; a bug is logged with where."""
    detail = failed.error if failed.expected else f"{failed.error} (a bug; traceback in the log)"
    message = f"could not compose the digest for {recipient}: {failed.error}"
    if failed.traceback:
        message += "\n" + failed.traceback.rstrip()
    event(
        log,
        "compose_failed",
        message,
        level=logging.ERROR,
        recipient=recipient,
        error=failed.error,
        bug=not failed.expected,
    )
    return ComposeOutcome(recipient, day, ComposeState.FAILED, detail)
