"""The semantic side's share of a daily run (bench/rank.py --semantic N).

For N subscribers over the day's papers: each profile's vector (new: embedded by the
shipped model through the numpy encoder, one profile at a time, as a run meets a new or
changed profile; known: read from the cache), the similarity to every paper, and the
hybrid ranking (digest.rank.hybrid.hybrid_top) and the whole meaning path `ranked_for` runs
(digest.rank.personal: two blends around the pseudo-relevance feedback) against the
keyword-only `rank_top`; the extra cost is projected to a 10,000-subscriber day. Then what
VOTES votes (half of them "more like this") add to a subscriber, with meaning and with
keywords alone (digest.rank.feedback). Paper
vectors are random unit vectors: their values do not change what the products cost, and
embedding the day's papers is bench/embed.py's figure (paid once per paper, not per
subscriber). Single process; the run's compose workers divide the
per-subscriber part by the number of cores.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import time
from collections.abc import Sequence

import numpy as np

from digest.models import Paper, Profile
from digest.rank.feedback import Vote, with_liked_words
from digest.rank.hybrid import hybrid_top
from digest.rank.lexical import CorpusStats, PaperIndex, build_index, rank_top
from digest.rank.personal import ranked_with_meaning
from digest.rank.semantic import (
    DIMENSIONS,
    Embedder,
    MemoryEmbeddingCache,
    SemanticIndex,
    available,
    profile_text,
)

NEW_PROFILES_SAMPLE = 100  # profiles embedded to time a new profile's vector
VOTES = 20  # a subscriber's votes for the votes' cost (a month of a keen reader)


def semantic_cost(
    papers: Sequence[Paper], background: CorpusStats, profiles: Sequence[Profile], limit: int
) -> None:
    if not available():
        print("semantic: the extra is not installed (pip install -e '.[semantic]')")
        return
    rng = np.random.default_rng(7)
    matrix = rng.standard_normal((len(papers), DIMENSIONS)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    index = build_index(list(papers), background=background)
    embedder, cache = Embedder(), MemoryEmbeddingCache()
    semantic = SemanticIndex([p.id for p in papers], matrix, embedder, cache)
    eligible = frozenset(index.ids)

    sample = profiles[:NEW_PROFILES_SAMPLE]
    started = time.perf_counter()
    embedder.embed(["warm the encoder"])
    load = time.perf_counter() - started
    started = time.perf_counter()
    for profile in sample:
        semantic.profile_vector(profile)
    new_vector = (time.perf_counter() - started) / len(sample)
    for profile in profiles[NEW_PROFILES_SAMPLE:]:  # the rest as known profiles
        key_text = profile_text(profile)
        if key_text:
            semantic.profile_vector(profile)
    print(f"semantic, {len(profiles)} profiles over {len(papers)} papers (single process):")
    print(f"  numpy encoder load               {load * 1000:8.0f} ms once")
    print(f"  profile vector, new              {new_vector * 1000:8.1f} ms per profile")

    fresh = SemanticIndex(semantic.ids, semantic.matrix, embedder, cache)  # vectors cached
    started = time.perf_counter()
    scores = [fresh.scores_for(p) for p in profiles]
    similarity = (time.perf_counter() - started) / len(profiles)
    for profile in profiles:  # keyword look-ups are cached in the index: pay them first
        rank_top(index, profile, limit=limit, eligible=eligible)
    started = time.perf_counter()
    for profile in profiles:
        rank_top(index, profile, limit=limit, eligible=eligible)
    keywords = (time.perf_counter() - started) / len(profiles)
    started = time.perf_counter()
    for profile, score in zip(profiles, scores, strict=True):
        hybrid_top(index, profile, papers, semantic=score, limit=limit, eligible=eligible)
    hybrid = (time.perf_counter() - started) / len(profiles)
    started = time.perf_counter()
    for profile in profiles:
        found = ranked_with_meaning(
            index, papers, fresh, profile, limit=limit, eligible=eligible, updated=()
        )
        if found is None:  # no text for meaning: keywords alone, as ranked_for does
            rank_top(index, profile, limit=limit, eligible=eligible)
    path = (time.perf_counter() - started) / len(profiles)
    cores = os.cpu_count() or 1
    extra = path - keywords
    day = 10_000
    print(f"  similarity to every paper        {similarity * 1000:8.2f} ms per subscriber")
    print(f"  rank_top({limit}) (keywords only)    {keywords * 1000:8.2f} ms per subscriber")
    print(f"  hybrid_top({limit}), one blend       {hybrid * 1000:8.2f} ms per subscriber")
    print(f"  ranked_with_meaning({limit})         {path * 1000:8.2f} ms per subscriber "
          "(vector, similarity, blend, pseudo-feedback, blend again)")  # fmt: skip
    print(
        f"  the semantic side adds {extra * 1000:.2f} ms per subscriber: "
        f"{extra * day:.0f} s CPU for a {day:,}-subscriber day "
        f"(~{extra * day / cores:.0f} s on {cores} cores), plus "
        f"{new_vector * 1000:.0f} ms for each new or changed profile"
    )
    vote_cost(index, papers, fresh, profiles, limit, path, keywords)


def vote_cost(
    index: PaperIndex,
    papers: Sequence[Paper],
    semantic: SemanticIndex,
    profiles: Sequence[Profile],
    limit: int,
    without: float,
    keywords: float,
) -> None:
    """What VOTES votes on the day's papers add per subscriber, with meaning and without."""
    rng = random.Random("votes")
    now = dt.datetime(2024, 11, 28, tzinfo=dt.UTC)
    ballots = [
        [
            Vote(p.id, n % 2 == 0, now - dt.timedelta(days=n))
            for n, p in enumerate(rng.sample(list(papers), VOTES))
        ]
        for _ in profiles
    ]
    eligible = frozenset(index.ids)
    started = time.perf_counter()
    for profile, votes in zip(profiles, ballots, strict=True):
        ranked_with_meaning(
            index, papers, semantic, profile, limit=limit, eligible=eligible, updated=(),
            votes=votes,
        )  # fmt: skip
    voted = (time.perf_counter() - started) / len(profiles)
    by_id = {p.id: p for p in papers}
    started = time.perf_counter()
    for profile, votes in zip(profiles, ballots, strict=True):
        moved = with_liked_words(profile, votes, by_id, index.stats)
        rank_top(index, moved, limit=limit, eligible=eligible)
    voted_keywords = (time.perf_counter() - started) / len(profiles)
    print(
        f"  with {VOTES} votes: ranked_with_meaning {voted * 1000:.2f} ms "
        f"(+{(voted - without) * 1000:.2f} ms), keywords alone {voted_keywords * 1000:.2f} ms "
        f"(+{(voted_keywords - keywords) * 1000:.2f} ms) per subscriber"
    )
