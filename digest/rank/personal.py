"""One subscriber's ranking with meaning: the profile's vector, turned by their votes and
widened by the day's best papers for it, then the blend (digest.rank.hybrid).

Pseudo-relevance feedback: a profile of two keywords says little, and its vector (the
keywords embedded as a phrase) is a poor description of the reader's topic. The papers that
rank best for it today are, most of the time, on that topic, and their vectors describe it
in the words papers use. So the ranking is made twice: once with the profile's vector, then
with that vector plus PSEUDO_WEIGHT times the mean vector of the first ranking's
PSEUDO_RELEVANT best papers (Rocchio's update with the top papers taken as relevant).
Measured on tests/rank/judged (tuning interests; the held-out ones agreed): 5 papers and
weight 1 raised short profiles' MAP by 0.06 and full ones' by 0.01; more papers let
unrelated ones in, a larger weight drifted off the topic.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from digest.models import Paper, Profile
from digest.rank.feedback import (
    Adjustment,
    Vote,
    adjust,
    closeness,
    liked_neighbours,
    vote_lift,
    voted_similarity,
)
from digest.rank.hybrid import blend_top, lexical_side
from digest.rank.lexical import PaperIndex, RankResult

if TYPE_CHECKING:
    from digest.rank.semantic import Matrix, SemanticIndex, SemanticScores, Vector

PSEUDO_RELEVANT = 5  # the first ranking's best papers taken as relevant
PSEUDO_WEIGHT = 1.0  # their mean vector's weight against the profile's (unit) vector


def expanded(vector: Vector, matrix: Matrix, rows: Sequence[int]) -> Vector:
    """unit(vector + PSEUDO_WEIGHT * mean of the rows of `matrix`); `vector` if no rows."""
    if not rows:
        return vector
    moved = np.asarray(vector, dtype=np.float64) + PSEUDO_WEIGHT * matrix[list(rows)].astype(
        np.float64
    ).mean(axis=0)
    norm = float(np.linalg.norm(moved))
    return (moved / norm).astype(np.float32) if norm > 1e-9 else vector


def ranked_with_meaning(
    index: PaperIndex,
    papers: Sequence[Paper],
    semantic: SemanticIndex,
    profile: Profile,
    *,
    limit: int,
    eligible: Collection[str],
    updated: Collection[str],
    votes: Sequence[Vote] = (),
) -> RankResult | None:
    """The `limit` best papers on the blended scale and how many were listed; None for a
    profile the semantic side cannot read (no keywords, no description)."""
    vector = semantic.profile_vector(profile)
    if vector is None:
        return None
    moved = Adjustment.unchanged(vector)
    if votes:
        # the subscriber's votes turn their profile's vector (digest.rank.feedback)
        moved = adjust(vector, votes, semantic.vectors_of({v.paper_id for v in votes}))
    near = closeness(moved, semantic.matrix)  # nothing to compute without votes
    liked = liked_neighbours(near, semantic.ids)

    def similarity(adjustment: Adjustment) -> SemanticScores:
        return semantic.scores_of(voted_similarity(adjustment, semantic.matrix, near))

    first_scores = similarity(moved)
    side = lexical_side(index, profile, papers, first_scores, eligible=eligible, updated=updated)
    # closeness to the liked papers, z-scored over the day's candidates like the blend's terms
    lift = vote_lift(moved, near, side.rows)
    first = blend_top(side, first_scores, limit=PSEUDO_RELEVANT, liked=liked, lift=lift)
    rows = [semantic.position[r.paper.id] for r in first.ranked]
    widened = replace(moved, vector=expanded(moved.vector, semantic.matrix, rows))
    return blend_top(side, similarity(widened), limit=limit, liked=liked, lift=lift)
