"""The fan-out: every due subscriber's digest composed once into the outbox.

The day's index is built once; each subscriber's task is read from the store beforehand, so
composing touches no database and runs in forked workers when there are many. Only this
process writes the outbox. What happened to each subscriber comes back as a ComposeOutcome;
nothing is appended to lists passed down.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
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
from digest.store.roles import NewDigest, Outbox
from digest.util.failpoints import failpoint
from digest.util.forkmap import Failed, fork_map
from digest.util.logs import event

log = logging.getLogger("digest.pipeline")

# Composed digests written to the outbox per transaction: one lock and one commit for many
# messages. The time bound keeps a slow stretch of composing from holding finished digests
# back from sending.
WRITE_BATCH = 50
WRITE_SECONDS = 0.25
# Subscribers whose tasks (their ledgers above all) are read and composed at a time: the
# memory of a run stays that of one page, however long the list. Each page forks its own
# workers, which then warm their paper cache again: a few hundred milliseconds per page.
COMPOSE_PAGE = 10_000


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
    after_write: Callable[[], None] | None = None,
    day_index: DayIndex | None = None,
) -> FanOut:
    """Render each subscriber's digest once into the outbox (skipped if already there).

    The digest's day is the subscriber's own calendar day, or the day `days` gives for them
    (a tick composes the digest of the delivery moment it found). Another worker composing the
    same digest first is not an error: the backend refuses the second and this one moves on.
    Digests are written in batches (OutboxBatch): one transaction for up to WRITE_BATCH of
    them, or for what WRITE_SECONDS gathered. `after_each` runs after each digest is dealt
    with, `after_write` after each batch is in the outbox (a Delivery's pump and its note
    that more is pending: send while composing).
    `day_index`: one built already (a worker composing several batches builds it once).
    """
    if not subscribers:
        return FanOut()
    if day_index is None:
        day_index = day_index_for_run(ctx, now, subscribers)
    composer = Composer(
        ctx.settings, day_index, sources, now, ctx.secret, ctx.templates, ctx.installation
    )
    batch = OutboxBatch(ctx.store, after_write)
    for start in range(0, len(subscribers), COMPOSE_PAGE):
        if ctx.stopping:
            break  # the rest are composed by the next run, nothing is lost
        page = subscribers[start : start + COMPOSE_PAGE]
        tasks = _compose_tasks(ctx, page, day_index, now, days or {})
        _compose_page(ctx, composer, tasks, batch, now, after_each)
    return FanOut(batch.finish(), day_index.note)


def _compose_page(
    ctx: RunContext,
    composer: Composer,
    tasks: Sequence[ComposeTask],
    batch: OutboxBatch,
    now: dt.datetime,
    after_each: Callable[[], None] | None,
) -> None:
    """Compose one page of tasks (in forked workers when there are many) into `batch`."""
    if not tasks:
        return
    # torch's thread pools do not survive a fork: semantic fusion composes in this process
    semantic = composer.day_index.semantic is not None
    workers = 1 if semantic else ctx.settings.workers_for(len(tasks))
    for result in fork_map(composer.for_outbox, tasks, workers):
        if ctx.stopping:
            break  # the rest are composed by the next run, nothing is lost
        task = tasks[result.position]
        if isinstance(result, Failed):
            batch.settled(_compose_failed(task.subscriber.email, task.day, result))
        else:
            batch.add(_new_digest(task, result.result, now))
        if after_each is not None:
            after_each()


def _compose_tasks(
    ctx: RunContext,
    subscribers: Sequence[Subscriber],
    day_index: DayIndex,
    now: dt.datetime,
    days: Mapping[int, dt.date],
) -> list[ComposeTask]:
    """A task per subscriber whose digest for their day is not in the outbox yet. What the
    tasks need of the store is read for all of them at once: a few statements per batch of
    subscribers, not a few per subscriber."""
    store = ctx.store
    ids = [seen.paper.id for seen in day_index.seen.seen]
    # Votes move the profile's vector: read them only when there is a semantic side to move.
    learning = day_index.semantic is not None
    wanted = []
    for subscriber in subscribers:
        assert subscriber.id is not None
        wanted.append(
            (subscriber, subscriber.id, days.get(subscriber.id) or local_date(subscriber, now))
        )
    composed = store.digest_days_of((sid for _, sid, _ in wanted), {day for _, _, day in wanted})
    # composed earlier: a pending one is delivered by the sending pass
    wanted = [(s, sid, day) for s, sid, day in wanted if (sid, day) not in composed]
    last = store.last_digests_at(sid for _, sid, _ in wanted)
    ledger = store.ledger_versions_of((sid for _, sid, _ in wanted), ids)
    tasks = []
    for subscriber, sid, day in wanted:
        since = window_start(now, ctx.settings.lookback_days, last.get(sid))
        votes = votes_of(store.votes(sid)) if learning else ()
        tasks.append(ComposeTask(subscriber, day, ledger.get(sid, {}), since, votes))
    return tasks


def _new_digest(task: ComposeTask, message: ComposedDigest | None, now: dt.datetime) -> NewDigest:
    subscriber = task.subscriber
    assert subscriber.id is not None
    if message is None:
        # Nothing new matched at their time: the day is done without mail. Papers that come
        # later wait for the next day's digest, and no tick composes this one again.
        return NewDigest(subscriber.id, subscriber.email, task.day, now)
    return NewDigest(
        subscriber.id,
        subscriber.email,
        task.day,
        now,
        message_id=message.message_id,
        message=message.message,
        papers=tuple(message.papers),
    )


class OutboxBatch:
    """Composed digests on their way into the outbox, written WRITE_BATCH at a time (or what
    WRITE_SECONDS gathered) in one transaction; the outcomes in the order they came.

    Nothing here is sent before it is written, so a crash loses at most a batch of composed,
    unwritten digests, which the next run composes again: nothing is sent twice or lost."""

    def __init__(self, store: Outbox, after_write: Callable[[], None] | None) -> None:
        self._store = store
        self._after_write = after_write
        self._outcomes: list[ComposeOutcome | None] = []
        self._waiting: list[tuple[int, NewDigest]] = []  # outcome position, digest
        self._since = 0.0

    def settled(self, outcome: ComposeOutcome) -> None:
        self._outcomes.append(outcome)

    def add(self, digest: NewDigest) -> None:
        if not self._waiting:
            self._since = time.monotonic()
        self._waiting.append((len(self._outcomes), digest))
        self._outcomes.append(None)
        if len(self._waiting) >= WRITE_BATCH or time.monotonic() - self._since >= WRITE_SECONDS:
            self.write()

    def write(self) -> None:
        if not self._waiting:
            return
        waiting, self._waiting = self._waiting, []
        written = self._store.enqueue_many([digest for _, digest in waiting])
        for (position, digest), done in zip(waiting, written, strict=True):
            self._outcomes[position] = _written(digest, done)
        failpoint("after-enqueue")
        if self._after_write is not None:
            self._after_write()

    def finish(self) -> tuple[ComposeOutcome, ...]:
        self.write()
        return tuple(outcome for outcome in self._outcomes if outcome is not None)


def _written(digest: NewDigest, written: bool) -> ComposeOutcome:
    recipient, day = digest.recipient, digest.day
    if not written:
        event(
            log,
            "digest_already_queued",
            f"digest for {recipient} on {day} was composed by another worker",
            recipient=recipient,
            day=day.isoformat(),
        )
        return ComposeOutcome(recipient, day, ComposeState.ALREADY_QUEUED)
    if digest.closes_day:
        return ComposeOutcome(recipient, day, ComposeState.EMPTY)
    if log.isEnabledFor(logging.INFO):  # a line per digest: formatted only to be written
        event(
            log,
            "digest_composed",
            f"composed the digest for {recipient} ({day}): {len(digest.papers)} papers",
            recipient=recipient,
            day=day.isoformat(),
            papers=len(digest.papers),
            message_id=digest.message_id,
        )
    return ComposeOutcome(recipient, day, ComposeState.COMPOSED)


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
