"""Today's digest for a profile nobody subscribed yet, ranked from the store: what the web
page shows under "show me today's digest for this".

The same day index (digest.jobs.dayindex) and the same Composer (digest.jobs.digests) as the
run, so the page lists exactly what a first digest would hold. Nothing is written. The index
is built once per process and kept until the store has other papers (or the lookback window
has moved on), so a preview costs one ranking, not one indexing.
"""

from __future__ import annotations

import datetime as dt
import threading
from contextlib import closing
from dataclasses import dataclass

from jinja2 import Environment

from digest.compose.render import make_environment
from digest.compose.views import PaperView, paper_view
from digest.config.settings import Settings
from digest.jobs.corpus import corpus_background
from digest.jobs.dayindex import DayIndex, build_day_index, recent_window, wants_semantic
from digest.jobs.digests import Composer, ComposeTask
from digest.jobs.preview import throwaway_key
from digest.jobs.schedule import local_date
from digest.models import Digest, Profile, Subscriber
from digest.rank.select import window_start
from digest.rank.semantic import MemoryEmbeddingCache, StoreEmbeddingCache
from digest.store import open_store
from digest.store.roles import Store

REBUILD_AFTER = dt.timedelta(minutes=10)  # the lookback window moves with the clock


@dataclass(frozen=True, slots=True)
class StorePreview:
    digest: Digest
    papers: tuple[PaperView, ...]  # as the email shows them: highlights, "matched" lines
    note: str = ""


@dataclass(frozen=True, slots=True)
class _Cached:
    key: tuple[object, ...]
    built: dt.datetime
    day_index: DayIndex


class StorePreviewer:
    """One per process: the cached day index and the templates, shared by every request."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._cached: _Cached | None = None
        self._templates: Environment = make_environment(settings.templates_dir)
        self._key = throwaway_key()  # the preview's links are never honoured

    def day_index(self, store: Store, subscriber: Subscriber, now: dt.datetime) -> DayIndex:
        """The cached index; when the store has other papers (a fetch ran) or the window
        moved, the stale one keeps serving while a thread builds the new one, so no request
        waits seconds for indexing. Only the very first request (before `warm`) builds."""
        semantic = wants_semantic(self.settings, [subscriber.profile])
        key = (store.papers_stamp(), semantic)
        cached = self._cached
        stale = cached is None or cached.key != key or now - cached.built > REBUILD_AFTER
        if cached is not None and stale and not semantic and not cached.key[1]:
            self._rebuild_later(subscriber, now)
            return cached.day_index
        if stale:
            with self._lock:
                cached = self._cached
                if cached is None or cached.key != key or now - cached.built > REBUILD_AFTER:
                    cached = self._cached = _Cached(key, now, self._build(store, subscriber, now))
        assert cached is not None
        return cached.day_index

    def warm(self, now: dt.datetime) -> None:
        """Build the index ahead of the first request (`digest serve` does at start)."""
        probe = Subscriber("preview@example.org", Profile(authors=("nobody",)))
        with closing(open_store(self.settings.store_url)) as store:
            self.day_index(store, probe, now)

    def _rebuild_later(self, subscriber: Subscriber, now: dt.datetime) -> None:
        if not self._lock.acquire(blocking=False):
            return  # a rebuild is under way

        def rebuild() -> None:
            try:
                with closing(open_store(self.settings.store_url)) as store:
                    key = (store.papers_stamp(), False)
                    self._cached = _Cached(key, now, self._build(store, subscriber, now))
            finally:
                self._lock.release()

        threading.Thread(target=rebuild, name="preview-index", daemon=True).start()

    def _build(self, store: Store, subscriber: Subscriber, now: dt.datetime) -> DayIndex:
        corpus_start, eligible_from = recent_window(self.settings, now)
        day_index = build_day_index(
            self.settings,
            store.recent_papers(max(eligible_from, corpus_start)),
            background=corpus_background(store, corpus_start, write=False),
            profiles=[subscriber.profile],
            embeddings=StoreEmbeddingCache(store, readonly=True),
        )
        if day_index.semantic is not None:
            # The index outlives this request's store: profile vectors are kept in memory.
            day_index.semantic.cache = MemoryEmbeddingCache()
        return day_index

    def preview(self, store: Store, subscriber: Subscriber, now: dt.datetime) -> StorePreview:
        day_index = self.day_index(store, subscriber, now)
        # Nothing is mailed from here: the Message-ID part is a throwaway like the key.
        composer = Composer(
            self.settings, day_index, (), now, self._key, self._templates, "web-preview"
        )
        since = window_start(now, self.settings.lookback_days, None)  # a first digest
        digest = composer.digest_for(
            ComposeTask(subscriber, local_date(subscriber, now), {}, since)
        )
        views = tuple(
            paper_view(ranked, number, self.settings.render)
            for number, ranked in enumerate(digest.papers, start=1)
        )
        return StorePreview(digest, views, day_index.note)
