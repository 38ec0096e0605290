"""Wire the stages: collect -> store -> per subscriber select, rank, render -> outbox -> deliver.

`run_once` is the daily job; `preview` is the same path with every write removed. Each
subscriber and each delivery is isolated: an error is recorded in the report and the run
goes on to the next one.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import secrets
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from zoneinfo import ZoneInfo

from jinja2 import Environment

from digest.collect.fetch import FetchResult
from digest.collect.listings import (
    Collected,
    ListingRequest,
    ReadListing,
    collect,
    listing_requests,
)
from digest.collect.merge import merge_papers
from digest.compose.mail import Envelope, build_message, make_message_id
from digest.compose.render import make_environment, render_digest
from digest.compose.tokens import make_unsubscribe_token
from digest.config.settings import Settings
from digest.deliver.delivery import Delivery, SenderFactory, stopping, utc_now
from digest.jobs.alerts import maybe_alert
from digest.jobs.schedule import due_digests, local_dates
from digest.models import (
    DeliveryOutcome,
    DeliveryState,
    Digest,
    Paper,
    Profile,
    RenderedDigest,
    RunReport,
    SourceOutcome,
    SourceState,
    Subscriber,
    Validators,
)
from digest.rank.hybrid import hybrid_rank
from digest.rank.lexical import PaperIndex, RankResult, build_index, corpus_stats, rank_top
from digest.rank.select import SeenRow, select_candidates, window_start
from digest.rank.semantic import (
    Embedder,
    EmbeddingCache,
    MemoryEmbeddingCache,
    SemanticIndex,
    StoreEmbeddingCache,
    TextEmbedder,
    profile_text,
    semantic_index_for_run,
)
from digest.rank.semantic import available as semantic_available
from digest.store.roles import AlreadyQueued, SeenPaper, Store
from digest.util.failpoints import failpoint
from digest.util.forkmap import Done, Failed, fork_map
from digest.util.logs import event
from digest.util.progress import Progress, silent

log = logging.getLogger("digest.pipeline")

CORPUS_DAYS = 30  # the rolling window whose word frequencies weigh terms (IDF)


def run_day(settings: Settings, now: dt.datetime) -> dt.date:
    """The operator's today: which day's listings to fetch."""
    return now.astimezone(settings.zone).date()


def local_day(subscriber: Subscriber, now: dt.datetime) -> dt.date:
    """The subscriber's today: the date their digest carries."""
    return now.astimezone(ZoneInfo(subscriber.timezone)).date()


# --- the daily run ------------------------------------------------------------------------


def run_once(
    settings: Settings,
    store: Store,
    read: ReadListing,
    make_sender: SenderFactory,
    *,
    now: dt.datetime,
    env: Environment | None = None,
    stop: threading.Event | None = None,
    interactive: bool = False,
) -> RunReport:
    """Fetch, then compose and send every subscriber's digest now (whatever their hour)."""
    day = run_day(settings, now)
    subscribers = store.subscribers()
    collected = collect_and_store(settings, store, read, now, subscribers, interactive=interactive)
    errors: list[str] = []
    notes: list[str] = []
    _, deliveries = compose_and_send(
        settings,
        store,
        make_sender,
        subscribers,
        collected.outcomes,
        now,
        errors,
        notes,
        env,
        stop=stop,
        interactive=interactive,
    )
    report = RunReport(
        started=now,
        finished=utc_now() if now.tzinfo else now,
        day=day,
        sources=collected.outcomes,
        deliveries=deliveries,
        errors=tuple(errors),
        notes=tuple(notes),
    )
    finish_run(settings, store, report, make_sender, kind="run", stop=stop)
    return report


def fetch_once(
    settings: Settings,
    store: Store,
    read: ReadListing,
    make_sender: SenderFactory,
    *,
    now: dt.datetime,
    interactive: bool = False,
) -> RunReport:
    """A scheduled fetch: listings into the store, nothing composed or sent."""
    collected = collect_and_store(
        settings, store, read, now, store.subscribers(), interactive=interactive
    )
    report = RunReport(
        started=now,
        finished=utc_now() if now.tzinfo else now,
        day=run_day(settings, now),
        sources=collected.outcomes,
    )
    finish_run(settings, store, report, make_sender, kind="fetch")
    return report


def deliver_due(
    settings: Settings,
    store: Store,
    make_sender: SenderFactory,
    *,
    now: dt.datetime,
    env: Environment | None = None,
    stop: threading.Event | None = None,
    interactive: bool = False,
) -> RunReport:
    """One delivery tick: compose the digests that are due by each subscriber's own clock, then
    send whatever is pending. Subscribers are read afresh, so changes apply at the next tick."""
    subscribers = store.subscribers()
    composed = store.digest_days(local_dates(subscribers, now))
    due = due_digests(subscribers, now, lambda s, day: (s.id, day) in composed)
    errors: list[str] = []
    notes: list[str] = []
    made, deliveries = compose_and_send(
        settings,
        store,
        make_sender,
        [subscriber for subscriber, _ in due],
        last_source_failures(settings, store) if due else (),
        now,
        errors,
        notes,
        env,
        stop=stop,
        interactive=interactive,
        days={subscriber.id: day for subscriber, day in due if subscriber.id is not None},
    )
    report = RunReport(
        started=now,
        finished=utc_now() if now.tzinfo else now,
        day=run_day(settings, now),
        deliveries=deliveries,
        errors=tuple(errors),
        notes=tuple(notes),
    )
    if made or deliveries or errors:  # an idle tick every few minutes is not history
        finish_run(settings, store, report, make_sender, kind="tick", stop=stop)
    return report


def compose_and_send(
    settings: Settings,
    store: Store,
    make_sender: SenderFactory,
    subscribers: Sequence[Subscriber],
    sources: tuple[SourceOutcome, ...],
    now: dt.datetime,
    errors: list[str],
    notes: list[str],
    env: Environment | None,
    *,
    stop: threading.Event | None,
    interactive: bool,
    days: Mapping[int, dt.date] | None = None,
) -> tuple[int, tuple[DeliveryOutcome, ...]]:
    """Compose the subscribers' digests into the outbox and send everything pending; sending
    starts with the first digest composed, not after the last. Returns how many digests were
    composed and the delivery outcomes."""
    made = 0
    with delivery(
        settings,
        store,
        make_sender,
        stop=stop,
        interactive=interactive,
        composing=bool(subscribers),
    ) as sending:
        if subscribers and not stopping(stop):
            made = enqueue_digests(
                settings,
                store,
                subscribers,
                sources,
                now,
                errors,
                env,
                stop=stop,
                days=days,
                notes=notes,
                after_each=sending.pump,
            )
        return made, sending.finish()


def delivery(
    settings: Settings,
    store: Store,
    make_sender: SenderFactory,
    *,
    stop: threading.Event | None,
    interactive: bool,
    composing: bool = False,
) -> Delivery:
    """A delivery pass under this installation's lease and sender settings. While digests
    are still `composing`, how many there will be is not known yet: the progress only counts."""
    total = None if composing else store.pending_count()
    return Delivery(
        store,
        make_sender,
        settings.email.sender,
        stop=stop,
        lease_seconds=settings.schedule.lease_seconds,
        progress=_progress(interactive, "sending", total),
        connections=settings.smtp.connections if settings.smtp else 1,
    )


def last_source_failures(settings: Settings, store: Store) -> tuple[SourceOutcome, ...]:
    """For a digest composed between fetches: the sources whose last fetch failed."""
    outcomes = []
    for source in settings.sources:
        record = store.source_record(source.name)
        if record and record.last_state is SourceState.FAILED:
            outcomes.append(SourceOutcome(source.name, SourceState.FAILED, 0, record.last_detail))
    return tuple(outcomes)


def finish_run(
    settings: Settings,
    store: Store,
    report: RunReport,
    make_sender: SenderFactory,
    *,
    kind: str,
    stop: threading.Event | None = None,
) -> None:
    """Alert the operator if the run had problems, then record it in the run history."""
    alert = maybe_alert(
        operator=settings.email.operator,
        sender=settings.email.sender,
        store=store,
        make_sender=make_sender,
        report=report,
        kind=kind,
        now=report.finished,
    )
    store.record_run(report, kind=kind, alert=alert)
    sent = sum(1 for d in report.deliveries if d.state is DeliveryState.SENT)
    event(
        log,
        f"{kind}_finished",
        f"{kind} finished: {'ok' if report.ok else 'with problems'}, {sent} delivered"
        + (" (stopped early on request)" if stopping(stop) else ""),
        ok=report.ok,
        delivered=sent,
        failed=len(report.deliveries) - sent,
        errors=len(report.errors),
        stopped=stopping(stop),
        alert=alert,
    )


def _progress(interactive: bool, label: str, total: int | None) -> Progress:
    return Progress(label, total) if interactive and total != 0 else silent()


def followed_categories(subscribers: Sequence[Subscriber]) -> tuple[str, ...]:
    return tuple(sorted({c for s in subscribers for c in s.profile.categories}))


def collect_and_store(
    settings: Settings,
    store: Store,
    read: ReadListing,
    now: dt.datetime,
    subscribers: Sequence[Subscriber],
    *,
    interactive: bool = False,
) -> Collected:
    day = run_day(settings, now)

    def last_ok(name: str) -> dt.date | None:
        record = store.source_record(name)
        return record.last_ok_day if record else None

    def validators_for(name: str, url: str) -> Validators | None:
        record = store.source_record(name)
        return record.validators if record and record.url == url else None

    requests = listing_requests(
        settings.sources,
        day,
        categories=followed_categories(subscribers),
        last_ok=last_ok,
        validators=validators_for,
        catchup_days=settings.catchup_days,
        holidays=settings.arxiv_holidays,
    )
    progress = _progress(interactive, "fetching", len(requests))

    def read_counted(request: ListingRequest) -> FetchResult:
        try:
            return read(request)
        finally:
            progress.step(request.source.name)

    collected = collect(requests, read_counted, today=day, holidays=settings.arxiv_holidays)
    progress.finish()
    failpoint("after-fetch")
    # A paper seen before keeps what earlier listings said of it (HF upvotes, categories).
    known = store.papers_by_id(p.id for p in collected.papers)
    merged = merge_papers([*known.values(), *collected.papers])
    store.save_papers(merged, now)
    for outcome in collected.outcomes:
        for listing in collected.listings:
            if listing.request.source.name != outcome.name:
                continue
            result = listing.result
            store.save_source_outcome(
                outcome if not listing.error else _failed(outcome, listing.error),
                url=listing.request.url,
                validators=result.validators if result else None,
                day=listing.request.day,
            )
    for outcome in collected.outcomes:
        failed = outcome.state is SourceState.FAILED
        event(
            log,
            "source",
            f"source {outcome.name}: {outcome.state.value}, {outcome.papers} papers"
            + (f": {outcome.detail}" if outcome.detail else ""),
            level=logging.WARNING if failed else logging.INFO,
            source=outcome.name,
            state=outcome.state.value,
            papers=outcome.papers,
            detail=outcome.detail,
        )
    failpoint("after-store")
    return collected


def _failed(outcome: SourceOutcome, error: str) -> SourceOutcome:
    return SourceOutcome(outcome.name, SourceState.FAILED, outcome.papers, error)


@dataclass(frozen=True, slots=True)
class DayIndex:
    """The papers any subscriber may get today, indexed once and shared by everyone."""

    rows: tuple[SeenRow, ...]
    index: PaperIndex
    papers: tuple[Paper, ...] = ()
    semantic: SemanticIndex | None = None
    note: str = ""  # why semantic matching is off, said once in the run report


def build_day_index(
    store: Store,
    settings: Settings,
    now: dt.datetime,
    subscribers: Sequence[Subscriber] = (),
) -> DayIndex:
    corpus = store.recent_papers(now - dt.timedelta(days=CORPUS_DAYS))
    window = now - dt.timedelta(days=settings.lookback_days)
    recent = [s for s in corpus if s.last_seen >= window]
    stats = corpus_stats(s.paper for s in corpus)
    papers = tuple(s.paper for s in recent)
    workers = settings.workers_for(len(subscribers))
    index = build_index(papers, background=stats, workers=workers)
    semantic, note = None, ""
    # The model costs half a gigabyte and seconds to load: only for profiles it can use.
    if settings.semantic and any(profile_text(s.profile) for s in subscribers):
        semantic, note = semantic_index_for_run(
            papers, StoreEmbeddingCache(store), embedder=shared_embedder()
        )
        store.prune_embeddings(now - dt.timedelta(days=CORPUS_DAYS))
    return DayIndex(
        rows=tuple(_row(s) for s in recent),
        index=index,
        papers=papers,
        semantic=semantic,
        note=note,
    )


@functools.lru_cache(maxsize=1)
def _embedder() -> Embedder:
    return Embedder()


def shared_embedder() -> TextEmbedder | None:
    """One model per process (the scheduler loads it once), or None without the extra."""
    return _embedder() if semantic_available() else None


def ranked_for(
    day_index: DayIndex, profile: Profile, *, eligible: Collection[str], updated: Collection[str]
) -> RankResult:
    """The papers a digest shows, best first, and how many matched in all.

    Keywords alone: only the shown papers are explained (rank_top), which keeps thousands of
    subscribers cheap. With the semantic index, keyword scores are fused with meaning first.
    """
    scores = day_index.semantic.scores_for(profile) if day_index.semantic else None
    if scores is None:
        return rank_top(
            day_index.index, profile, limit=profile.max_papers, eligible=eligible, updated=updated
        )
    fused = hybrid_rank(
        day_index.index,
        profile,
        day_index.papers,
        semantic=scores,
        eligible=eligible,
        updated=updated,
    )
    return RankResult(ranked=fused[: profile.max_papers], matched=len(fused))


def _row(seen: SeenPaper) -> SeenRow:
    paper = seen.paper
    return SeenRow(
        id=paper.id,
        version=paper.version,
        first_seen=seen.first_seen,
        last_seen=seen.last_seen,
        is_replacement=paper.announce_type.is_replacement,
        sources=paper.sources,
    )


def enqueue_digests(
    settings: Settings,
    store: Store,
    subscribers: Sequence[Subscriber],
    sources: tuple[SourceOutcome, ...],
    now: dt.datetime,
    errors: list[str],
    env: Environment | None = None,
    *,
    stop: threading.Event | None = None,
    days: Mapping[int, dt.date] | None = None,
    notes: list[str] | None = None,
    after_each: Callable[[], None] | None = None,
) -> int:
    """Render each subscriber's digest once into the outbox (skipped if already there today).

    "Today" is the subscriber's own calendar day: one digest per local day, or the day `days`
    gives for them (a tick composes the digest of the delivery moment it found). Returns how many
    digests were composed. Another worker composing the same digest first is not an error:
    the outbox's unique key refuses the second one and this worker moves on. `after_each`
    runs after each digest is dealt with (a Delivery's pump, to send while composing).
    """
    if not subscribers:
        return 0
    composed = 0
    env = env or make_environment(settings.templates_dir)
    day_index = build_day_index(store, settings, now, subscribers)
    if day_index.note and notes is not None:
        notes.append(day_index.note)
    secret = signing_secret(settings, store)
    tasks = _compose_tasks(settings, store, subscribers, day_index, now, days)
    work = functools.partial(_compose_one, settings, day_index, sources, now, secret, env)
    # torch's thread pools do not survive a fork: semantic fusion composes in this process
    workers = settings.workers_for(len(tasks)) if day_index.semantic is None else 1
    for outcome in fork_map(work, tasks, workers):
        if stopping(stop):
            break  # the rest are composed by the next run, nothing is lost
        composed += _enqueue_one(store, tasks[outcome.position], outcome, now, errors)
        if after_each is not None:
            after_each()
    return composed


def _enqueue_one(
    store: Store,
    task: ComposeTask,
    outcome: Done[ComposedDigest | None] | Failed,
    now: dt.datetime,
    errors: list[str],
) -> int:
    """Put one composed digest into the outbox; 1 if it was put there, else 0."""
    subscriber, day = task.subscriber, task.day
    assert subscriber.id is not None
    if isinstance(outcome, Failed):
        errors.append(f"{subscriber.email}: {outcome.error}")
        event(
            log,
            "compose_failed",
            f"could not compose the digest for {subscriber.email}: {outcome.error}",
            level=logging.ERROR,
            recipient=subscriber.email,
            error=outcome.error,
        )
        return 0
    message = outcome.result
    if message is None:
        return 0  # nothing to send, and empty digests are not wanted
    try:
        store.enqueue(
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
        return 0
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
    return 1


@dataclass(frozen=True, slots=True)
class ComposeTask:
    """What composing one subscriber's digest needs from the store, read beforehand so that
    composing itself touches no database (and can run in a forked worker)."""

    subscriber: Subscriber
    day: dt.date
    sent: Mapping[str, int]  # paper id -> version already sent to this subscriber
    since: dt.datetime  # papers first seen after this are new for them


@dataclass(frozen=True, slots=True)
class ComposedDigest:
    message_id: str
    message: bytes
    papers: tuple[tuple[str, int], ...]  # (id, version) of each paper the email lists


def _compose_tasks(
    settings: Settings,
    store: Store,
    subscribers: Sequence[Subscriber],
    day_index: DayIndex,
    now: dt.datetime,
    days: Mapping[int, dt.date] | None,
) -> list[ComposeTask]:
    """A task per subscriber whose digest for their day is not in the outbox yet."""
    ids = [row.id for row in day_index.rows]
    tasks = []
    for subscriber in subscribers:
        assert subscriber.id is not None
        day = (days or {}).get(subscriber.id) or local_day(subscriber, now)
        if store.outbox_for(subscriber.id, day) is not None:
            continue  # rendered earlier today; a pending one is delivered below
        since = window_start(now, settings.lookback_days, store.last_digest_at(subscriber.id))
        sent = store.ledger_versions(subscriber.id, ids)
        tasks.append(ComposeTask(subscriber, day, sent, since))
    return tasks


def _compose_one(
    settings: Settings,
    day_index: DayIndex,
    sources: tuple[SourceOutcome, ...],
    now: dt.datetime,
    secret: bytes,
    env: Environment,
    task: ComposeTask,
) -> ComposedDigest | None:
    """Select, rank, render and wrap one digest: no I/O, so it runs as well in a worker.
    None when there is nothing to send and empty digests are not wanted."""
    subscriber = task.subscriber
    candidates = select_candidates(day_index.rows, subscriber.profile, task.sent, task.since)
    ranked = ranked_for(
        day_index, subscriber.profile, eligible=candidates.all, updated=candidates.updated
    )
    digest = make_digest(
        settings, subscriber, task.day, ranked, len(candidates.new), sources, secret
    )
    if not digest.papers and not settings.email.send_empty:
        return None
    rendered = render_digest(digest, settings.render, env)
    message_id, message = compose_message(settings, subscriber, task.day, rendered, now, secret)
    return ComposedDigest(message_id, message, tuple(shown_papers(digest, rendered)))


def shown_papers(digest: Digest, rendered: RenderedDigest) -> list[tuple[str, int]]:
    """(id, version) of each paper the email really lists: what goes into the ledger.

    A paper the size budget left out entirely is not recorded, so it stays eligible.
    """
    listed = set(rendered.paper_ids)
    return [(r.paper.id, r.paper.version or 0) for r in digest.all_papers if r.paper.id in listed]


def make_digest(
    settings: Settings,
    subscriber: Subscriber,
    day: dt.date,
    ranked: RankResult,
    seen_count: int,
    sources: tuple[SourceOutcome, ...],
    secret: bytes,
) -> Digest:
    return Digest(
        subscriber=subscriber,
        day=day,
        papers=ranked.ranked[: subscriber.profile.max_papers],
        seen_count=seen_count,
        matched_count=ranked.matched,
        sources=sources,
        unsubscribe_url=unsubscribe_url(settings, subscriber.email, secret),
        manage_url=settings.email.manage_url,
    )


def signing_secret(settings: Settings, store: Store | None) -> bytes:
    """The unsubscribe-token key: from the environment, else one made once and kept in the store."""
    if settings.email.secret:
        return settings.email.secret.encode()
    if store is None:
        return secrets.token_bytes(32)  # previews: links are shown, never honoured
    kept = store.meta("secret")
    if kept is None:
        kept = secrets.token_urlsafe(32)
        store.set_meta("secret", kept)
    return kept.encode()


def unsubscribe_url(settings: Settings, email: str, secret: bytes) -> str | None:
    if not settings.email.unsubscribe_url:
        return None
    token = make_unsubscribe_token(secret, email)
    return settings.email.unsubscribe_url.replace("{token}", token)


def compose_message(
    settings: Settings,
    subscriber: Subscriber,
    day: dt.date,
    rendered: RenderedDigest,
    now: dt.datetime,
    secret: bytes,
) -> tuple[str, bytes]:
    sender_address = parseaddr(settings.email.sender)[1]
    domain = sender_address.rpartition("@")[2] or "localhost"
    # Deterministic: a re-render for the same subscriber and day keeps its Message-ID, so mail
    # clients fold a duplicate instead of showing two digests.
    message_id = make_message_id(domain, f"{subscriber.id or subscriber.email}.{day.isoformat()}")
    mailto = None
    if settings.email.unsubscribe_mailto:
        token = make_unsubscribe_token(secret, subscriber.email)
        mailto = f"mailto:{settings.email.unsubscribe_mailto}?subject=unsubscribe%20{token}"
    envelope = Envelope(
        sender=settings.email.sender,
        recipient=subscriber.email,
        message_id=message_id,
        date=now,
        list_id=settings.email.list_id,
        unsubscribe_mailto=mailto,
        unsubscribe_url=unsubscribe_url(settings, subscriber.email, secret),
    )
    return message_id, build_message(rendered, envelope)


# --- preview ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Preview:
    digest: Digest
    rendered: RenderedDigest
    message: bytes
    collected: Collected
    note: str = ""  # why semantic matching is off, if it is


def preview(
    settings: Settings,
    subscriber: Subscriber,
    collected: Collected,
    *,
    now: dt.datetime,
    store: Store | None = None,
    env: Environment | None = None,
) -> Preview:
    """The digest `subscriber` would get from `collected`, with nothing written anywhere.

    With a (read-only) store, papers the subscriber was already sent are left out and the
    store's recent papers weigh the terms, exactly as in a real run.
    """
    day = run_day(settings, now)
    papers: Sequence[Paper] = collected.papers
    background = None
    eligible: set[str] = {p.id for p in papers if not p.announce_type.is_replacement}
    updated: set[str] = set()
    if store is not None:
        corpus = store.recent_papers(now - dt.timedelta(days=CORPUS_DAYS))
        background = corpus_stats([*(s.paper for s in corpus), *papers])
        if subscriber.id is not None:
            sent = store.ledger_versions(subscriber.id, [p.id for p in papers])
            eligible -= set(sent)
            if subscriber.profile.include_updates:
                updated = {p.id for p in papers if p.id in sent and (p.version or 0) > sent[p.id]}
    index = build_index(papers, background=background)
    semantic, note = None, ""
    if settings.semantic and profile_text(subscriber.profile):
        cache: EmbeddingCache = (
            StoreEmbeddingCache(store, readonly=True) if store else MemoryEmbeddingCache()
        )
        semantic, note = semantic_index_for_run(papers, cache, embedder=shared_embedder())
    day_index = DayIndex(rows=(), index=index, papers=tuple(papers), semantic=semantic, note=note)
    ranked = ranked_for(day_index, subscriber.profile, eligible=eligible | updated, updated=updated)
    secret = signing_secret(settings, None)
    digest = make_digest(
        settings, subscriber, day, ranked, len(eligible), collected.outcomes, secret
    )
    rendered = render_digest(
        digest, settings.render, env or make_environment(settings.templates_dir)
    )
    _, message = compose_message(settings, subscriber, day, rendered, now, secret)
    return Preview(
        digest=digest, rendered=rendered, message=message, collected=collected, note=note
    )


def preview_subscriber(email: str, profile: Profile) -> Subscriber:
    return Subscriber(email=email, profile=profile)
