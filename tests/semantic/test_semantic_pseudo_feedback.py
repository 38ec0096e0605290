"""Pseudo-relevance feedback (digest.rank.personal): the day's best papers for a profile
widen its vector, so a paper on their topic in other words is found even when it is far from
the profile's own few words.

Chosen vectors, no model: the profile points along axis 0, the papers its keyword finds
between axes 0 and 1, the paper in other words along axis 1 (orthogonal to the profile) and
the rest of the day along axes of their own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from digest.models import Paper, Profile, Term, Topic
from digest.rank.hybrid import hybrid_top
from digest.rank.lexical import build_index
from digest.rank.personal import PSEUDO_RELEVANT, expanded, ranked_with_meaning
from digest.rank.semantic import (
    DIMENSIONS,
    MemoryEmbeddingCache,
    SemanticIndex,
    profile_key,
    profile_text,
)


class CachedVectorsOnly:
    """The embedder of an index whose vectors are all cached: embedding anything is a bug."""

    name = "chosen-vectors/1"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        raise AssertionError(f"embedded {texts!r}: every vector should come from the cache")


AXES = np.eye(DIMENSIONS, dtype=np.float32)
ON_TOPIC = [
    Paper(f"on-{n}", f"A fast sampler, variant {n}", "Few steps suffice.") for n in range(4)
]
OTHER_WORDS = Paper("other-words", "Distilled one-step generation", "A student network.")
UNRELATED = [Paper(f"far-{n}", f"Galaxy survey {n}", "Photometric redshifts.") for n in range(60)]
PAPERS = (*ON_TOPIC, OTHER_WORDS, *UNRELATED)
PROFILE = Profile(topics=(Topic("main", (Term("sampler"),)),), max_papers=25)


def day() -> SemanticIndex:
    between = (AXES[0] + AXES[1]) / np.sqrt(2)
    rows = [between] * len(ON_TOPIC) + [AXES[1]] + [AXES[2 + n] for n in range(len(UNRELATED))]
    embedder, cache = CachedVectorsOnly(), MemoryEmbeddingCache()
    cache.put({profile_key(profile_text(PROFILE)): AXES[0]}, embedder.name)
    return SemanticIndex([p.id for p in PAPERS], np.stack(rows), embedder, cache)


def test_the_widened_vector_is_a_unit_vector_between_the_profile_and_its_best_papers() -> None:
    widened = expanded(AXES[0], np.stack([AXES[1], AXES[1]]), [0, 1])
    assert np.isclose(np.linalg.norm(widened), 1.0)
    assert widened[0] > 0.5 and widened[1] > 0.5
    assert np.array_equal(expanded(AXES[0], np.stack([AXES[1]]), []), AXES[0])


def test_a_paper_like_the_best_ones_in_other_words_is_found_through_them() -> None:
    index, semantic = build_index(PAPERS), day()
    everyone = frozenset(p.id for p in PAPERS)
    plain = hybrid_top(
        index, PROFILE, PAPERS, semantic=semantic.scores_for(PROFILE), limit=25, eligible=everyone
    )
    assert [r.paper.id for r in plain.ranked] == [p.id for p in ON_TOPIC]
    widened = ranked_with_meaning(
        index, PAPERS, semantic, PROFILE, limit=25, eligible=everyone, updated=()
    )
    assert widened is not None
    ids = [r.paper.id for r in widened.ranked]
    assert ids[: len(ON_TOPIC)] == [p.id for p in ON_TOPIC] and ids[-1] == OTHER_WORDS.id
    assert len(ON_TOPIC) < PSEUDO_RELEVANT  # all of them fed the vector
    assert "similar in meaning" in widened.ranked[-1].note


def test_a_profile_the_semantic_side_cannot_read_is_left_to_the_keywords() -> None:
    by_category = Profile(categories=("cs.LG",))
    found = ranked_with_meaning(
        build_index(PAPERS), PAPERS, day(), by_category, limit=5, eligible=(), updated=()
    )
    assert found is None
