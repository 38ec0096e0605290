"""A preview is the run with every write removed: the same selection, ranking and compose code
(digest.jobs.digests) over listings read now or from a snapshot. Nothing is stored, nothing
is marked as seen, and nothing is sent unless asked, to one address.

With a read-only store, papers the subscriber was already sent are left out and the store's
30-day corpus weighs the terms, exactly as in a real run.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from digest.collect.listings import Collected, collect, listing_requests
from digest.collect.snapshot import load_snapshot, snapshot_reader, snapshot_requests
from digest.compose.render import make_environment
from digest.config.settings import Settings
from digest.jobs.context import ProgressSink, SenderFactory, no_progress
from digest.jobs.corpus import corpus_background
from digest.jobs.dayindex import build_day_index, recent_window, wants_semantic
from digest.jobs.digests import Composer, ComposeTask, Composition, votes_of
from digest.jobs.ingest import followed_categories, listing_day, read_all
from digest.jobs.message import compose_message
from digest.models import SeenPaper, Subscriber
from digest.rank.feedback import Vote
from digest.rank.select import window_start
from digest.store.roles import Store
from digest.util.cache_folder import default_cache_dir

if TYPE_CHECKING:
    from digest.rank.semantic import EmbeddingCache

__all__ = ["Collected", "Preview", "preview", "read_listings", "send_preview"]


@dataclass(frozen=True, slots=True)
class Preview:
    composition: Composition
    collected: Collected
    note: str = ""  # why semantic matching is off, if it is


def read_listings(
    settings: Settings,
    subscriber: Subscriber,
    now: dt.datetime,
    *,
    snapshot: Path | None = None,
    progress: ProgressSink = no_progress,
) -> Collected:
    """Today's listings for this subscriber's categories, or those of a saved snapshot."""
    if snapshot is not None:
        saved = load_snapshot(snapshot)
        requests = snapshot_requests(saved)
        day = max((r.day for r in requests), default=listing_day(settings, now))
        return collect(
            requests, snapshot_reader(saved), today=day, holidays=settings.arxiv_holidays
        )
    from digest.collect.fetch import Fetcher  # the HTTP client: only for live listings
    from digest.jobs.wiring import fetcher_reader

    day = listing_day(settings, now)
    requests = listing_requests(
        settings.sources, day, categories=followed_categories([subscriber]), catchup_days=0
    )
    with Fetcher(settings.fetch) as fetcher:
        return read_all(settings, requests, fetcher_reader(fetcher), today=day, progress=progress)


def preview(
    settings: Settings,
    subscriber: Subscriber,
    collected: Collected,
    *,
    now: dt.datetime,
    store: Store | None = None,
    day: dt.date | None = None,
    vector_dir: Path | None = None,
) -> Preview:
    """The digest `subscriber` would get from `collected`, with nothing written anywhere,
    dated `day` (default: the operator's day at `now`).

    Nothing but paper and profile vectors: they are kept in `vector_dir` (default: the
    user's cache folder, digest.rank.vectorfile) so that the next preview embeds nothing it
    embedded before; a store's vectors are read first."""
    # Every paper of the listings is as new as it would be in today's run.
    seen = [SeenPaper(paper, now, now) for paper in collected.papers]
    background = None
    sent: dict[str, int] = {}
    if store is not None:
        corpus_start, _ = recent_window(settings, now)
        background = corpus_background(store, corpus_start, write=False, extra=collected.papers)
        if subscriber.id is not None:
            sent = store.ledger_versions(subscriber.id, [p.id for p in collected.papers])
    cache = None
    if wants_semantic(settings, [subscriber.profile]):
        cache = _embedding_cache(store, vector_dir)
    day_index = build_day_index(
        settings, seen, background=background, profiles=[subscriber.profile], embeddings=cache
    )
    composer = Composer(
        settings,
        day_index,
        collected.outcomes,
        now,
        throwaway_key(),
        make_environment(settings.templates_dir),
        # Each preview is a message of its own: two previews mailed to one address the same
        # day must not share a Message-ID (mail clients would hide the second).
        secrets.token_hex(8),
    )
    since = window_start(now, settings.lookback_days, None)
    votes: tuple[Vote, ...] = ()
    if store is not None and subscriber.id is not None and day_index.semantic is not None:
        votes = votes_of(store.votes(subscriber.id))
    task = ComposeTask(subscriber, day or listing_day(settings, now), sent, since, votes)
    return Preview(composer.compose(task), collected, day_index.note)


def _embedding_cache(store: Store | None, vector_dir: Path | None) -> EmbeddingCache:
    """Vectors on disk, behind the store's (read only) when there is a store."""
    from digest.rank.semantic import StoreEmbeddingCache
    from digest.rank.vectorfile import FileEmbeddingCache, LayeredEmbeddingCache

    on_disk = FileEmbeddingCache(vector_dir or default_cache_dir(os.environ))
    if store is None:
        return on_disk
    return LayeredEmbeddingCache(StoreEmbeddingCache(store, readonly=True), on_disk)


def send_preview(
    settings: Settings, result: Preview, address: str, now: dt.datetime, make_sender: SenderFactory
) -> None:
    """Mail a preview to one address, recording nothing. It is addressed to whoever reads it,
    and its unsubscribe link is signed with a throwaway key: forwarding a preview can never
    unsubscribe the subscriber it was made for."""
    digest = result.composition.digest
    _, message = compose_message(
        settings,
        Subscriber(email=address, profile=digest.subscriber.profile),
        digest.day,
        result.composition.rendered,
        now,
        throwaway_key(),
        installation=secrets.token_hex(8),
    )
    with make_sender() as transport:
        transport.send(settings.email.sender, address, message)


def throwaway_key() -> bytes:
    # A preview's links are shown, never honoured: a file left on disk or a forwarded preview
    # must not be able to unsubscribe anyone.
    return secrets.token_bytes(32)
