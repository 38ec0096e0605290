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
    DUPLICATE_PENALTY,
    HALF_LIFE_DAYS,
    LIKED_TOPIC,
    LIKED_WORD_WEIGHT,
    LIKED_WORDS,
    NEAR_DUPLICATE,
    VOTE_WEIGHT,
    Adjustment,
    Vote,
    adjust,
    closeness,
    decay,
    vote_lift,
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


AXES = np.eye(8, dtype=np.float32)
# the day's candidates: one like liked-1, one like liked-2, the rest like nothing voted on
CANDIDATES = np.stack([AXES[1], AXES[2], *AXES[4:]])


def lift_of(moved: Adjustment) -> np.ndarray | None:
    """The lift of every candidate."""
    return vote_lift(moved, closeness(moved, CANDIDATES), np.arange(len(CANDIDATES)))


def liked(count: int, *, topics: int = 2) -> tuple[list[Vote], dict[str, np.ndarray]]:
    """`count` liked votes on papers along axes 1 .. `topics` (in turn)."""
    votes = [Vote(f"liked-{n}", True, NOW) for n in range(count)]
    return votes, {f"liked-{n}": AXES[1 + n % topics] for n in range(count)}


def test_papers_like_any_liked_one_rise_even_when_the_average_points_elsewhere() -> None:
    votes, vectors = liked(2)
    moved = adjust(AXES[0], votes, vectors)
    assert np.isclose(np.linalg.norm(moved.vector), 1.0)
    lift = lift_of(moved)
    assert lift is not None
    # each paper like one of the two liked papers gains, as much as the other; the rest lose
    assert lift[0] > 0 and np.isclose(lift[0], lift[1]) and (lift[2:] < 0).all()


def test_a_paper_close_to_two_liked_papers_rises_above_one_like_a_single_liked_paper() -> None:
    # three liked papers (axes 1-3); two candidates are copies of the first two, one lies
    # between those two, the rest are like nothing voted on
    votes, vectors = liked(3, topics=3)
    between = (AXES[1] + AXES[2]) / np.sqrt(2)
    candidates = np.stack([AXES[1], between, AXES[2], *AXES[5:]]).astype(np.float32)
    moved = adjust(AXES[0], votes, vectors)
    lift = vote_lift(moved, closeness(moved, candidates), np.arange(len(candidates)))
    assert lift is not None
    # a copy of one liked paper is closest to it, but the paper near two of them rises higher
    assert (candidates[0] @ AXES[1]) > (candidates[1] @ AXES[1])
    assert lift[1] > lift[0] > 0 and np.isclose(lift[0], lift[2]) and (lift[3:] < 0).all()


def test_the_lift_grows_with_the_liked_votes_and_stays_under_its_bound() -> None:
    lifts = []
    for count in (1, 2, 8, 200):
        votes, vectors = liked(count, topics=1)
        lift = lift_of(adjust(AXES[0], votes, vectors))
        assert lift is not None
        lifts.append(lift[0])
    assert lifts == sorted(lifts) and lifts[0] < lifts[-1]
    # at most VOTE_WEIGHT times the z-score of a paper standing out alone among the rest
    alone = np.sqrt(len(CANDIDATES) - 1)
    assert lifts[-1] <= VOTE_WEIGHT * alone


def test_older_liked_votes_lift_less_and_no_liked_vote_lifts_nothing() -> None:
    fresh, vectors = liked(2)
    older = [Vote("liked-0", True, NOW - dt.timedelta(days=HALF_LIFE_DAYS)), fresh[1]]
    lift_fresh = lift_of(adjust(AXES[0], fresh, vectors))
    lift_older = lift_of(adjust(AXES[0], older, vectors))
    assert lift_fresh is not None and lift_older is not None
    assert lift_older[0] < lift_fresh[0]  # liked-0 (axis 1) was liked a half-life earlier
    disliked = adjust(AXES[0], [Vote("liked-0", False, NOW)], vectors)
    assert lift_of(disliked) is None


def test_a_near_copy_of_a_disliked_paper_loses_similarity_and_nothing_else_does() -> None:
    copy = AXES[1] * 0.9 + AXES[3] * np.sqrt(1 - 0.81)  # cosine 0.9 to the disliked paper
    papers = np.stack([copy, AXES[0], AXES[3]]).astype(np.float32)
    moved = adjust(AXES[0], [Vote("gone", False, NOW)], {"gone": AXES[1]})
    plain = papers @ moved.vector
    voted = voted_similarity(moved, papers, closeness(moved, papers))
    assert np.isclose(plain[0] - voted[0], DUPLICATE_PENALTY * (0.9 - NEAR_DUPLICATE))
    assert np.allclose(voted[1:], plain[1:])
