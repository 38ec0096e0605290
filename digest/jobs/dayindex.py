"""The day's index: the papers any subscriber may get, indexed once and shared by everyone.

The daily run builds it from the store; a preview builds it from the listings it just read
(and the store's corpus, when there is one). Both rank through `ranked_for`, so a preview
shows what the run would send.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from digest.config.settings import Settings
from digest.models import Paper, Profile, SeenPaper
from digest.rank.feedback import Vote, with_liked_words
from digest.rank.lexical import (
    CorpusStats,
    PaperIndex,
    RankResult,
    build_index,
    corpus_stats,
    rank_top,
)
from digest.rank.select import SeenIndex

# The meaning side (digest.rank.semantic, .personal, .hybrid) is imported where a run or a
# preview uses it: with `semantic = false`, or profiles it has nothing to match, it never is.
if TYPE_CHECKING:
    from digest.rank.semantic import EmbeddingCache, SemanticIndex, TextEmbedder

CORPUS_DAYS = 30  # the rolling window whose word frequencies weigh terms (IDF)


@dataclass(frozen=True, slots=True)
class DayIndex:
    seen: SeenIndex  # what selection picks each subscriber's unsent papers from
    index: PaperIndex
    papers: tuple[Paper, ...] = ()
    semantic: SemanticIndex | None = None
    note: str = ""  # why semantic matching is off, said once in the run report
    # the corpus window's papers by id: the texts of papers a subscriber voted on
    archive: Mapping[str, Paper] = field(default_factory=dict)


def build_day_index(
    settings: Settings,
    seen: Sequence[SeenPaper],
    *,
    corpus: Iterable[Paper] | None = None,
    background: CorpusStats | None = None,
    profiles: Sequence[Profile],
    embeddings: EmbeddingCache | None = None,
) -> DayIndex:
    """Index `seen` (term weights from `background`, else from `corpus`, else from the
    papers themselves), and embed them when semantic matching is on and some profile can
    use it (vectors kept in `embeddings`, else for this call only)."""
    papers = tuple(s.paper for s in seen)
    recent = tuple(corpus) if corpus is not None else ()
    if background is None and corpus is not None:
        background = corpus_stats(recent)
    index = build_index(papers, background=background)
    semantic, note = None, ""
    if wants_semantic(settings, profiles):
        from digest.rank.semantic import MemoryEmbeddingCache, semantic_index_for_run

        cache = embeddings if embeddings is not None else MemoryEmbeddingCache()
        semantic, note = semantic_index_for_run(papers, cache, embedder=shared_embedder())
    archive = {p.id: p for p in (*recent, *papers)}
    return DayIndex(SeenIndex(seen), index, papers, semantic, note, archive)


def wants_semantic(settings: Settings, profiles: Iterable[Profile]) -> bool:
    # The model costs half a gigabyte and seconds to load: only for profiles it can use.
    if not settings.semantic:
        return False
    from digest.rank.semantic import profile_text

    return any(profile_text(p) for p in profiles)


def recent_window(settings: Settings, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """(corpus start, eligibility start): IDF comes from 30 days, candidates from lookback."""
    return now - dt.timedelta(days=CORPUS_DAYS), now - dt.timedelta(days=settings.lookback_days)


@functools.lru_cache(maxsize=1)
def _embedder() -> TextEmbedder:
    from digest.rank.semantic import Embedder

    return Embedder()


def shared_embedder() -> TextEmbedder | None:
    """One model per process (the scheduler loads it once), or None without the extra."""
    from digest.rank.semantic import available

    return _embedder() if available() else None


def ranked_for(
    day_index: DayIndex,
    profile: Profile,
    *,
    eligible: Collection[str],
    updated: Collection[str],
    votes: Sequence[Vote] = (),
    limit: int | None = None,
) -> RankResult:
    """The `limit` best papers (default: the profile's `max_papers`), best first, and how
    many matched in all.

    Keywords alone: only the shown papers are explained (rank_top), which keeps thousands of
    subscribers cheap. With the semantic index, keyword scores are fused with meaning
    (digest.rank.personal).
    """
    semantic = day_index.semantic
    top = profile.max_papers if limit is None else limit
    if semantic is not None:
        from digest.rank.personal import ranked_with_meaning

        found = ranked_with_meaning(
            day_index.index,
            day_index.papers,
            semantic,
            profile,
            limit=top,
            eligible=eligible,
            updated=updated,
            votes=votes,
        )
        if found is not None:
            return found
    if votes:
        # keywords alone: the liked papers' typical words join them (digest.rank.feedback)
        profile = with_liked_words(profile, votes, day_index.archive, day_index.index.stats)
    return rank_top(day_index.index, profile, limit=top, eligible=eligible, updated=updated)
