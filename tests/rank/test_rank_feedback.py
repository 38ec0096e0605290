"""Votes move a profile (digest.rank.feedback): its vector towards liked papers, and the
liked papers' typical words join its keywords at a low weight; bounded and fading with the
votes' age."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from digest.models import Paper, Profile, Term, Topic
from digest.rank.corpus import corpus_stats
from digest.rank.feedback import (
    HALF_LIFE_DAYS,
    LIKED_TOPIC,
    LIKED_WORD_WEIGHT,
    LIKED_WORDS,
    Vote,
    adjust,
    decay,
    voted_similarity,
    with_liked_words,
)

pytestmark = pytest.mark.usefixtures("semantic_extra")
NOW = dt.datetime(2024, 11, 28, 12, tzinfo=dt.UTC)
PROFILE = Profile(topics=(Topic("main", (Term("diffusion model"), Term("sampler"))),))
PAPERS = [
    Paper(id="a", title="Diffusion models sample faster", abstract="A new sampler."),
    Paper(id="b", title="A sampler for Gibbs fields", abstract="Markov chains."),
]


LIKED = [
    Paper(
        id="liked-a", title="Consistency distillation", abstract="A consistency teacher, one step."
    ),
    Paper(
        id="liked-b", title="Consistency training", abstract="Consistency models without teacher."
    ),
    Paper(id="liked-c", title="Galaxy halos", abstract="Consistency of halo catalogues."),
]
STATS = corpus_stats([*LIKED, *PAPERS])
BY_ID = {p.id: p for p in [*LIKED, *PAPERS]}


def liked_words(profile: Profile, votes: list[Vote]) -> dict[str, float]:
    moved = with_liked_words(profile, votes, BY_ID, STATS)
    extra = [t for t in moved.topics if t.name == LIKED_TOPIC]
    assert moved.topics[: len(profile.topics)] == profile.topics  # the profile's own stay
    return {t.text: t.weight for topic in extra for t in topic.terms}


def test_the_words_of_several_liked_papers_join_the_keywords_at_a_low_weight() -> None:
    votes = [Vote("liked-a", True, NOW), Vote("liked-b", True, NOW), Vote("liked-c", False, NOW)]
    words = liked_words(PROFILE, votes)
    # in both liked papers: "consistency" (and "teacher"); a word of only one is not typical
    assert words == {"consistency": LIKED_WORD_WEIGHT, "teacher": LIKED_WORD_WEIGHT}


def test_one_liked_paper_gives_its_own_words_and_the_profiles_words_are_not_repeated() -> None:
    one = liked_words(PROFILE, [Vote("liked-a", True, NOW)])
    assert "consistency" in one and "distillation" in one and len(one) <= LIKED_WORDS
    own = Profile(topics=(Topic("main", (Term("consistency models"),)),))
    assert "consistency" not in liked_words(
        own, [Vote("liked-a", True, NOW), Vote("liked-b", True, NOW)]
    )


def test_no_liked_paper_leaves_the_profile_as_it_was() -> None:
    assert with_liked_words(PROFILE, [Vote("liked-a", False, NOW)], BY_ID, STATS) == PROFILE
    assert with_liked_words(PROFILE, [Vote("unknown", True, NOW)], BY_ID, STATS) == PROFILE


def test_older_votes_count_less() -> None:
    old = [
        Vote("liked-a", True, NOW - dt.timedelta(days=HALF_LIFE_DAYS)),
        Vote("liked-b", False, NOW),
    ]
    assert decay(old) == [0.5, 1.0]


def test_the_latest_vote_on_a_paper_is_the_one_that_counts() -> None:
    votes = [Vote("liked-a", True, NOW - dt.timedelta(hours=1)), Vote("liked-a", False, NOW)]
    assert with_liked_words(PROFILE, votes, BY_ID, STATS) == PROFILE


def test_papers_like_a_liked_one_rise_even_when_the_average_points_elsewhere() -> None:
    axes = np.eye(4, dtype=np.float32)
    vectors = {"liked-1": axes[1], "liked-2": axes[2]}
    votes = [Vote("liked-1", True, NOW), Vote("liked-2", True, NOW)]
    moved = adjust(axes[0], votes, vectors)
    assert np.isclose(np.linalg.norm(moved.vector), 1.0)
    papers = np.stack([axes[1], axes[3]])  # one like a liked paper, one like nothing
    plain = papers @ moved.vector
    lifted = voted_similarity(moved, papers)
    assert lifted[0] - plain[0] > 0.9 and np.isclose(lifted[1], plain[1])
