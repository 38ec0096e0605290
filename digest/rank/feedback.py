"""Learning from a subscriber's votes ("more like this" / "not for me"): pure.

The votes move the profile's vector, Rocchio-style, towards the papers the reader liked and
away from those they did not:

    q' = unit(q + LIKE * mean(liked) - DISLIKE * mean(disliked))

with each vote weighed by its age (halved every HALF_LIFE_DAYS, counted back from the
newest vote, so the result does not depend on when it is computed). The effect is bounded:
q is a unit vector and the two means are at most LIKE and DISLIKE long, so the votes can
turn the profile but never replace it. Papers close to one the reader liked (cosine at
least LIKED_FROM) are explained as "like papers you marked".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from digest.rank.semantic import Matrix, Vector

LIKE = 0.75  # fitted on the tuning interests of tests/rank/judged (0.25-1.0 within 0.02)
DISLIKE = 0.25
HALF_LIFE_DAYS = 30.0
LIKED_FROM = 0.6  # cosine to a liked paper from which a paper is "like papers you marked"


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


def adjust(
    profile_vector: Vector, votes: Sequence[Vote], vectors: Mapping[str, Vector]
) -> Adjustment:
    """The profile's vector moved by the votes whose papers have vectors (the others are
    ignored: a paper never embedded cannot teach anything)."""
    import numpy as np

    # the latest vote on a paper is the one that counts
    latest: dict[str, Vote] = {}
    for vote in sorted(votes, key=lambda v: v.at):
        latest[vote.paper_id] = vote
    known = [v for v in latest.values() if v.paper_id in vectors]
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


def liked_neighbours(
    adjustment: Adjustment, ids: Sequence[str], matrix: Matrix
) -> dict[str, float]:
    """Papers (of `ids`, rows of `matrix`) close to one the reader liked -> that cosine."""
    if not len(adjustment.liked):
        return {}
    closest = (matrix @ adjustment.liked.T).max(axis=1)
    return {i: float(c) for i, c in zip(ids, closest.tolist(), strict=True) if c >= LIKED_FROM}
