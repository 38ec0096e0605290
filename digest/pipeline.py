"""Wire the stages: collect -> store -> per subscriber select, rank, render -> outbox -> deliver.

`run_once` is the daily job; `preview` is the same path with every write removed. Each
subscriber and each delivery is isolated: an error is recorded in the report and the run
goes on to the next one.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from zoneinfo import ZoneInfo

from jinja2 import Environment

from digest.collect import Collected, ReadListing, collect, listing_requests
from digest.config import Settings
from digest.errors import DeliveryError, DigestError
from digest.fetch import Validators
from digest.mail import Envelope, build_message, make_message_id
from digest.merge import merge_papers
from digest.models import (
    DeliveryOutcome,
    DeliveryState,
    Digest,
    OutboxItem,
    Paper,
    Profile,
    Ranked,
    RenderedDigest,
    RunReport,
    SourceOutcome,
    SourceState,
    Subscriber,
)
from digest.rank import PaperIndex, build_index, corpus_stats, rank
from digest.render import make_environment, render_digest
from digest.select import SeenRow, select_candidates, window_start
from digest.smtp import Sender
from digest.store import SeenPaper, Store
from digest.tokens import make_unsubscribe_token

Clock = Callable[[], dt.datetime]
SenderFactory = Callable[[], Sender]

CORPUS_DAYS = 30  # the rolling window whose word frequencies weigh terms (IDF)
MAX_DELIVERY_ATTEMPTS = 5  # runs a temporarily failing message is retried before it is failed
STOP_AFTER_TEMPORARY_FAILURES = 3  # in a row: the server is down, leave the rest pending


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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
) -> RunReport:
    day = run_day(settings, now)
    subscribers = store.subscribers()
    collected = collect_and_store(settings, store, read, now, subscribers)
    errors: list[str] = []
    enqueue_digests(settings, store, subscribers, collected.outcomes, now, errors, env)
    deliveries = deliver_pending(store, make_sender, settings.email.sender)
    report = RunReport(
        started=now,
        finished=utc_now() if now.tzinfo else now,
        day=day,
        sources=collected.outcomes,
        deliveries=deliveries,
        errors=tuple(errors),
    )
    store.record_run(report)
    return report


def followed_categories(subscribers: Sequence[Subscriber]) -> tuple[str, ...]:
    return tuple(sorted({c for s in subscribers for c in s.profile.categories}))


def collect_and_store(
    settings: Settings,
    store: Store,
    read: ReadListing,
    now: dt.datetime,
    subscribers: Sequence[Subscriber],
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
    )
    collected = collect(requests, read, today=day, holidays=settings.arxiv_holidays)
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
    return collected


def _failed(outcome: SourceOutcome, error: str) -> SourceOutcome:
    return SourceOutcome(outcome.name, SourceState.FAILED, outcome.papers, error)


@dataclass(frozen=True, slots=True)
class DayIndex:
    """The papers any subscriber may get today, indexed once and shared by everyone."""

    rows: tuple[SeenRow, ...]
    index: PaperIndex


def build_day_index(store: Store, settings: Settings, now: dt.datetime) -> DayIndex:
    corpus = store.recent_papers(now - dt.timedelta(days=CORPUS_DAYS))
    window = now - dt.timedelta(days=settings.lookback_days)
    recent = [s for s in corpus if s.last_seen >= window]
    stats = corpus_stats(s.paper for s in corpus)
    index = build_index([s.paper for s in recent], background=stats)
    return DayIndex(rows=tuple(_row(s) for s in recent), index=index)


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
) -> None:
    """Render each subscriber's digest once into the outbox (skipped if already there today).

    "Today" is the subscriber's own calendar day: one digest per local day.
    """
    env = env or make_environment(settings.templates_dir)
    day_index = build_day_index(store, settings, now)
    secret = signing_secret(settings, store)
    ids = [row.id for row in day_index.rows]
    for subscriber in subscribers:
        assert subscriber.id is not None
        try:
            day = local_day(subscriber, now)
            if store.outbox_for(subscriber.id, day) is not None:
                continue  # rendered earlier today; a pending one is delivered below
            since = window_start(now, settings.lookback_days, store.last_digest_at(subscriber.id))
            sent = store.ledger_versions(subscriber.id, ids)
            candidates = select_candidates(day_index.rows, subscriber.profile, sent, since)
            ranked = rank(
                day_index.index,
                subscriber.profile,
                eligible=candidates.all,
                updated=candidates.updated,
            )
            digest = make_digest(
                settings, subscriber, day, ranked, len(candidates.new), sources, secret
            )
            if not digest.papers and not settings.email.send_empty:
                continue
            rendered = render_digest(digest, settings.render, env)
            message_id, message = compose_message(settings, subscriber, day, rendered, now, secret)
            store.enqueue(
                subscriber_id=subscriber.id,
                recipient=subscriber.email,
                day=day,
                message_id=message_id,
                message=message,
                papers=shown_papers(digest, rendered),
                composed_at=now,
            )
        except DigestError as err:
            errors.append(f"{subscriber.email}: {err}")


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
    ranked: Sequence[Ranked],
    seen_count: int,
    sources: tuple[SourceOutcome, ...],
    secret: bytes,
) -> Digest:
    limit = subscriber.profile.max_papers
    return Digest(
        subscriber=subscriber,
        day=day,
        papers=tuple(ranked[:limit]),
        seen_count=seen_count,
        matched_count=len(ranked),
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


def deliver_pending(
    store: Store, make_sender: SenderFactory, sender: str
) -> tuple[DeliveryOutcome, ...]:
    """Send every pending message; record each as sent only once the server accepted it."""
    pending = store.pending()
    if not pending:
        return ()
    envelope_from = parseaddr(sender)[1] or sender
    outcomes: list[DeliveryOutcome] = []
    temporary_in_a_row = 0
    with make_sender() as transport:
        for number, item in enumerate(pending):
            if temporary_in_a_row >= STOP_AFTER_TEMPORARY_FAILURES:
                outcomes.extend(_not_attempted(pending[number:]))
                break
            try:
                transport.send(envelope_from, item.recipient, item.message)
            except DeliveryError as err:
                give_up = err.permanent or item.attempts + 1 >= MAX_DELIVERY_ATTEMPTS
                store.mark_failed_attempt(item.id, err.reason, give_up=give_up)
                temporary_in_a_row = 0 if err.permanent else temporary_in_a_row + 1
                note = "gave up" if give_up else "will retry next run"
                outcomes.append(
                    DeliveryOutcome(
                        item.recipient,
                        DeliveryState.FAILED,
                        len(item.paper_ids),
                        f"{err.reason} ({note})",
                    )
                )
                continue
            store.mark_sent(item.id)
            temporary_in_a_row = 0
            outcomes.append(
                DeliveryOutcome(item.recipient, DeliveryState.SENT, len(item.paper_ids))
            )
    return tuple(outcomes)


def _not_attempted(items: Sequence[OutboxItem]) -> list[DeliveryOutcome]:
    return [
        DeliveryOutcome(
            i.recipient,
            DeliveryState.FAILED,
            len(i.paper_ids),
            "not attempted: the mail server kept failing; still pending for the next run",
        )
        for i in items
    ]


# --- preview ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Preview:
    digest: Digest
    rendered: RenderedDigest
    message: bytes
    collected: Collected


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
    ranked = rank(index, subscriber.profile, eligible=eligible | updated, updated=updated)
    secret = signing_secret(settings, None)
    digest = make_digest(
        settings, subscriber, day, ranked, len(eligible), collected.outcomes, secret
    )
    rendered = render_digest(
        digest, settings.render, env or make_environment(settings.templates_dir)
    )
    _, message = compose_message(settings, subscriber, day, rendered, now, secret)
    return Preview(digest=digest, rendered=rendered, message=message, collected=collected)


def preview_subscriber(email: str, profile: Profile) -> Subscriber:
    return Subscriber(email=email, profile=profile)
