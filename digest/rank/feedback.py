"""Learning from a subscriber's votes ("more like this" / "not for me"): pure.

The votes move the profile's vector, Rocchio-style, towards the papers the reader liked and
away from those they did not:

    q' = unit(q + LIKE * mean(liked) - DISLIKE * mean(disliked))

with each vote weighed by its age (halved every HALF_LIFE_DAYS, counted back from the
newest vote, so the result does not depend on when it is computed). The effect is bounded:
q is a unit vector and the two means are at most LIKE and DISLIKE long, so the votes can
turn the profile but never replace it. Papers close to one the reader liked (cosine at
least LIKED_FROM) are explained as "like papers you marked".

The votes also weigh the profile's keywords: a keyword that matched papers the reader liked
counts more, one that matched papers they did not want counts less (TERM_STEP per vote,
decaying like the vector's votes, the factor bounded to TERM_RANGE). Keywords that matched
no voted paper keep their weight; no keyword is added or removed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from digest.models import Paper, Profile, Topic
from digest.rank.hits import Floats
from digest.rank.lexical import build_index, rank

if TYPE_CHECKING:
    from digest.rank.semantic import Matrix, Vector

LIKE = 0.75  # fitted on the tuning interests of tests/rank/judged (0.25-1.0 within 0.02)
DISLIKE = 0.25
HALF_LIFE_DAYS = 30.0
LIKED_FROM = 0.6  # cosine to a liked paper from which a paper is "like papers you marked"
NEAREST = 1.0  # weight of the cosine to the closest liked paper (0.5-2 tried: 1 best)
TERM_STEP = 0.25  # a (fresh) vote's change to the weight factor of a keyword its paper matched
TERM_RANGE = (0.5, 2.0)  # the factor's bounds: votes can halve or double a keyword, no more


@dataclass(frozen=True, slots=True)
class Vote:
    """One vote of one subscriber on one paper."""

    paper_id: str
    liked: bool
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class Adjustment:
    """What a subscriber's votes change: the profile's vector, and the liked vectors (for
    the explanation)."""

    vector: Vector
    liked: Matrix


def decay(votes: Sequence[Vote]) -> list[float]:
    """Each vote's weight: 1 for the newest, halved every HALF_LIFE_DAYS before it."""
    if not votes:
        return []
    newest = max(v.at for v in votes)
    return [0.5 ** ((newest - v.at).total_seconds() / 86_400 / HALF_LIFE_DAYS) for v in votes]


def latest_votes(votes: Sequence[Vote]) -> list[Vote]:
    """One vote per paper: the latest counts."""
    latest: dict[str, Vote] = {}
    for vote in sorted(votes, key=lambda v: v.at):
        latest[vote.paper_id] = vote
    return list(latest.values())


def keywords_matching(profile: Profile, papers: Sequence[Paper]) -> dict[str, set[str]]:
    """Paper id -> the profile's keywords (their text) that match it, as the ranker matches."""
    if not papers or not profile.all_terms:
        return {}
    probe = Profile(topics=profile.topics, min_score=0.0)
    return {r.paper.id: {m.term for m in r.matches} for r in rank(build_index(list(papers)), probe)}


def term_factors(votes: Sequence[Vote], matched: Mapping[str, Collection[str]]) -> dict[str, float]:
    """Keyword text -> the factor the votes put on its weight (only keywords that moved)."""
    latest = latest_votes(votes)
    totals: dict[str, float] = {}
    for vote, weight in zip(latest, decay(latest), strict=True):
        for text in matched.get(vote.paper_id, ()):
            totals[text] = totals.get(text, 0.0) + (weight if vote.liked else -weight)
    low, high = TERM_RANGE
    return {t: min(max(1.0 + TERM_STEP * v, low), high) for t, v in totals.items() if v}


def reweighted(profile: Profile, factors: Mapping[str, float]) -> Profile:
    """The profile with its keywords' weights multiplied by `factors`."""
    if not factors:
        return profile
    topics = tuple(
        Topic(
            topic.name,
            tuple(replace(t, weight=t.weight * factors.get(t.text, 1.0)) for t in topic.terms),
        )
        for topic in profile.topics
    )
    return replace(profile, topics=topics)


def adjust(
    profile_vector: Vector, votes: Sequence[Vote], vectors: Mapping[str, Vector]
) -> Adjustment:
    """The profile's vector moved by the votes whose papers have vectors (the others are
    ignored: a paper never embedded cannot teach anything)."""
    import numpy as np

    known = [v for v in latest_votes(votes) if v.paper_id in vectors]
    weights = decay(known)
    moved = np.asarray(profile_vector, dtype=np.float64).copy()
    liked_rows: list[Vector] = []
    for wanted, factor in ((True, LIKE), (False, -DISLIKE)):
        chosen = [(v, w) for v, w in zip(known, weights, strict=True) if v.liked is wanted]
        if not chosen:
            continue
        total = sum(w for _, w in chosen)
        centroid = sum(w * np.asarray(vectors[v.paper_id], dtype=np.float64) for v, w in chosen)
        moved += factor * centroid / total
        if wanted:
            liked_rows.extend(vectors[v.paper_id] for v, _ in chosen)
    norm = float(np.linalg.norm(moved))
    unit = (moved / norm if norm > 1e-9 else np.asarray(profile_vector)).astype(np.float32)
    dims = len(profile_vector)
    liked = (
        np.stack(liked_rows).astype(np.float32) if liked_rows else np.zeros((0, dims), np.float32)
    )
    return Adjustment(unit, liked)


def voted_similarity(adjustment: Adjustment, matrix: Matrix) -> Floats:
    """Each paper's (row of `matrix`) similarity to the moved profile vector, plus NEAREST
    times its cosine to the closest paper the reader liked: a paper very like one liked
    paper counts even when the liked papers, averaged, point elsewhere."""
    similarity: Floats = (matrix @ adjustment.vector).astype(np.float64)
    if len(adjustment.liked) and NEAREST:
        similarity += NEAREST * (matrix @ adjustment.liked.T).max(axis=1)
    return similarity


def liked_neighbours(
    adjustment: Adjustment, ids: Sequence[str], matrix: Matrix
) -> dict[str, float]:
    """Papers (of `ids`, rows of `matrix`) close to one the reader liked -> that cosine."""
    if not len(adjustment.liked):
        return {}
    closest = (matrix @ adjustment.liked.T).max(axis=1)
    return {i: float(c) for i, c in zip(ids, closest.tolist(), strict=True) if c >= LIKED_FROM}
