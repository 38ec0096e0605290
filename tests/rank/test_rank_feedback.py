"""Votes move a profile (digest.rank.feedback): its vector towards liked papers, the weight
of the keywords that matched voted papers, bounded and fading with the votes' age."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from digest.models import Paper, Profile, Term, Topic
from digest.rank.feedback import (
    HALF_LIFE_DAYS,
    TERM_RANGE,
    TERM_STEP,
    Vote,
    adjust,
    decay,
    keywords_matching,
    reweighted,
    term_factors,
    voted_similarity,
)

pytestmark = pytest.mark.usefixtures("semantic_extra")
NOW = dt.datetime(2024, 11, 28, 12, tzinfo=dt.UTC)
PROFILE = Profile(topics=(Topic("main", (Term("diffusion model"), Term("sampler"))),))
PAPERS = [
    Paper(id="a", title="Diffusion models sample faster", abstract="A new sampler."),
    Paper(id="b", title="A sampler for Gibbs fields", abstract="Markov chains."),
]


def test_keywords_matching_names_the_keywords_each_paper_matched() -> None:
    assert keywords_matching(PROFILE, PAPERS) == {
        "a": {"diffusion model", "sampler"},
        "b": {"sampler"},
    }


def test_a_liked_paper_raises_its_keywords_and_a_disliked_one_lowers_them() -> None:
    matched = {"a": {"diffusion model", "sampler"}, "b": {"sampler"}}
    votes = [Vote("a", True, NOW), Vote("b", False, NOW)]
    # "sampler" was in one liked and one disliked paper: it stays where it was
    assert term_factors(votes, matched) == {"diffusion model": 1.0 + TERM_STEP}
    moved = reweighted(PROFILE, term_factors(votes, matched))
    assert [t.weight for t in moved.all_terms] == [1.0 + TERM_STEP, 1.0]


def test_keyword_factors_are_bounded_and_older_votes_count_less() -> None:
    many = [Vote(f"p{n}", True, NOW - dt.timedelta(minutes=n)) for n in range(40)]
    matched = {v.paper_id: {"sampler"} for v in many}
    assert term_factors(many, matched) == {"sampler": TERM_RANGE[1]}
    old = [Vote("a", True, NOW - dt.timedelta(days=HALF_LIFE_DAYS)), Vote("b", False, NOW)]
    factors = term_factors(old, {"a": {"diffusion model"}, "b": {"sampler"}})
    assert factors == {"diffusion model": 1.0 + TERM_STEP / 2, "sampler": 1.0 - TERM_STEP}
    assert decay(old) == [0.5, 1.0]


def test_the_latest_vote_on_a_paper_is_the_one_that_counts() -> None:
    votes = [Vote("a", True, NOW - dt.timedelta(hours=1)), Vote("a", False, NOW)]
    assert term_factors(votes, {"a": {"sampler"}}) == {"sampler": 1.0 - TERM_STEP}


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
