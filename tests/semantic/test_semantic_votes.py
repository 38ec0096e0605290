"""Votes in the ranking with meaning (digest.rank.personal, digest.rank.feedback): papers
like the liked ones rise and say why, yet the profile's own keywords still decide after
any number of votes, and a near copy of a paper the reader did not want goes down.

Chosen vectors, no model: the profile points along axis 0, and so do the papers its keyword
finds; the papers like those the reader liked lie along axis 1, without the keyword; the
rest of the day along axes of their own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

from digest.models import Paper, Profile, Term, Topic
from digest.rank.feedback import LIKED_TOPIC, Vote
from digest.rank.hybrid import LIKED_NOTE
from digest.rank.lexical import build_index
from digest.rank.personal import ranked_with_meaning
from digest.rank.semantic import (
    DIMENSIONS,
    MemoryEmbeddingCache,
    SemanticIndex,
    profile_key,
    profile_text,
)

NOW = dt.datetime(2024, 11, 28, 12, tzinfo=dt.UTC)
AXES = np.eye(DIMENSIONS, dtype=np.float32)
KEYWORD = [Paper(f"kw-{n}", f"A fast sampler, variant {n}", "Few steps.") for n in range(3)]
LIKE_LIKED = [Paper(f"like-{n}", f"Weather nowcasting {n}", "Radar frames.") for n in range(3)]
OTHERS = [Paper(f"far-{n}", f"Galaxy survey {n}", "Photometric redshifts.") for n in range(40)]
PAPERS = (*KEYWORD, *LIKE_LIKED, *OTHERS)
PROFILE = Profile(topics=(Topic("main", (Term("sampler"),)),), max_papers=25)
EVERYONE = frozenset(p.id for p in PAPERS)


class CachedVectorsOnly:
    """The embedder of an index whose vectors are all cached: embedding anything is a bug."""

    name = "chosen-vectors/1"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        raise AssertionError(f"embedded {texts!r}: every vector should come from the cache")


def day(earlier: dict[str, np.ndarray], near_copy: bool = False) -> SemanticIndex:
    """Today's papers; `earlier` are the vectors of papers voted on in earlier days."""
    rows = [AXES[0]] * len(KEYWORD) + [AXES[1]] * len(LIKE_LIKED)
    rows += [AXES[2 + n] for n in range(len(OTHERS))]
    if near_copy:  # far-0 is nearly the paper voted down (along axis 2 + n for far-n)
        rows[len(KEYWORD) + len(LIKE_LIKED)] = AXES[2] * 0.9 + AXES[0] * np.sqrt(0.19)
    embedder, cache = CachedVectorsOnly(), MemoryEmbeddingCache()
    cache.put({profile_key(profile_text(PROFILE)): AXES[0], **earlier}, embedder.name)
    return SemanticIndex([p.id for p in PAPERS], np.stack(rows), embedder, cache)


def ranked(votes: list[Vote], semantic: SemanticIndex) -> list[tuple[str, str]]:
    found = ranked_with_meaning(
        build_index(PAPERS), PAPERS, semantic, PROFILE, limit=25, eligible=EVERYONE,
        updated=(), votes=votes,
    )  # fmt: skip
    assert found is not None
    return [(r.paper.id, r.note) for r in found.ranked]


def liked(count: int) -> tuple[list[Vote], dict[str, np.ndarray]]:
    """`count` earlier papers along axis 1, all liked."""
    votes = [Vote(f"old-{n}", True, NOW - dt.timedelta(days=1)) for n in range(count)]
    return votes, {f"old-{n}": AXES[1] for n in range(count)}


def test_papers_like_the_liked_ones_rise_and_say_why() -> None:
    votes, vectors = liked(3)
    before = [i for i, _ in ranked([], day(vectors))]
    after = ranked(votes, day(vectors))
    place = {i: n for n, (i, _) in enumerate(after)}
    assert not {p.id for p in LIKE_LIKED} & set(before)  # nothing says they are wanted
    assert all(place[p.id] < len(KEYWORD) + len(LIKE_LIKED) for p in LIKE_LIKED)
    assert all(LIKED_NOTE in note for i, note in after if i.startswith("like-"))
    assert all(LIKED_NOTE not in note for i, note in after if not i.startswith("like-"))
    assert LIKED_TOPIC == LIKED_NOTE  # the keyword side's liked words say the same


def test_the_profiles_own_keywords_still_come_first_after_many_votes() -> None:
    for count in (1, 10, 1000):
        votes, vectors = liked(count)
        ids = [i for i, _ in ranked(votes, day(vectors))]
        assert ids[: len(KEYWORD)] == [p.id for p in KEYWORD], count
        assert set(ids[len(KEYWORD) : len(KEYWORD) + len(LIKE_LIKED)]) == {
            p.id for p in LIKE_LIKED
        }, count


def test_a_near_copy_of_a_paper_voted_down_goes_down() -> None:
    gone = {"gone": AXES[2]}
    votes = [Vote("gone", False, NOW - dt.timedelta(days=1))]
    before = [i for i, _ in ranked([], day(gone, near_copy=True))]
    after = [i for i, _ in ranked(votes, day(gone, near_copy=True))]
    assert "far-0" in before[: len(KEYWORD) + 1]  # close to the profile, so high
    assert "far-0" not in after  # not close enough once it is nearly a paper not wanted
    assert after[: len(KEYWORD)] == before[: len(KEYWORD)]
