"""The blend as first written, one paper at a time (digest.rank.hybrid before it worked on
arrays): what the vectorised hybrid_top must reproduce exactly."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace

import numpy as np

from digest.models import Paper, Profile, Ranked
from digest.rank.exclusions import exclusions
from digest.rank.hits import Floats

# The notes of a paper found by meaning alone are not what this reference checks: shared.
from digest.rank.hybrid import DEFAULT_BLEND, LIKED_NOTE, SIMILAR_NOTE, Blend, _by_meaning
from digest.rank.lexical import PaperIndex, rank
from digest.rank.semantic import SemanticScores


def reference_hybrid_rank(
    index: PaperIndex,
    profile: Profile,
    papers: Sequence[Paper],
    *,
    semantic: SemanticScores | None,
    eligible: Collection[str] | None = None,
    updated: Collection[str] = (),
    blend: Blend = DEFAULT_BLEND,
    liked: Mapping[str, float] | None = None,
) -> tuple[Ranked, ...]:
    """Papers for this profile, best first, on the blended scale.

    `papers` are the papers `index` was built from; `eligible` and `updated` mean what they
    mean for `rank()`. `liked` (paper id -> its cosine to the closest paper the
    reader liked, for those close to one) only adds the "like papers you marked" note; what
    votes change is in `semantic` and, through blend_top, its `lift`.
    """
    if semantic is None:
        return rank(index, profile, eligible=eligible, updated=updated)
    # Every paper with any lexical evidence; min_score is applied to the entry below.
    lexical = {
        r.paper.id: r
        for r in rank(index, replace(profile, min_score=0.0), eligible=eligible, updated=updated)
    }
    pool = _candidates(index, profile, papers, semantic, eligible, updated)
    if not pool:
        return ()
    ids = [p.id for p in pool]
    points = np.array([lexical[i].score if i in lexical else 0.0 for i in ids])
    meaning = np.array([semantic.similarity[i] for i in ids])
    z_lexical, z_meaning = _z(np.log1p(np.maximum(points, 0.0))), _z(meaning)
    excluded = exclusions(index, profile.exclude) if profile.exclude else None
    in_category = _categories(index, profile)
    results: list[Ranked] = []
    for n, paper in enumerate(pool):
        found = lexical.get(paper.id)
        zs = float(z_meaning[n])
        score = blend.blended(float(points[n]), float(z_lexical[n]), zs)
        by_keywords = found is not None and found.score >= profile.min_score
        if not by_keywords and zs < blend.entry:
            continue
        if found is None and excluded is not None:
            score -= blend.passing_penalty * (excluded.factor[index.ordinal[paper.id]] < 1.0)
        if score < blend.floor:
            continue
        base = found or _by_meaning(paper, profile, in_category, updated)
        notes = [SIMILAR_NOTE] if zs >= blend.note_from or found is None else []
        if liked and liked.get(paper.id, 0.0) > 0:
            notes.append(LIKED_NOTE)
        note = "; ".join(dict.fromkeys(n for n in (*notes, base.note) if n))
        results.append(replace(base, score=round(score, 4), note=note))
    results.sort(key=lambda r: (-r.score, r.paper.id))
    return tuple(results)


def _z(values: Floats) -> Floats:
    spread = float(values.std())
    scaled: Floats = (values - values.mean()) / (spread if spread > 1e-9 else 1.0)
    return scaled


def _candidates(
    index: PaperIndex,
    profile: Profile,
    papers: Sequence[Paper],
    semantic: SemanticScores,
    eligible: Collection[str] | None,
    updated: Collection[str],
) -> list[Paper]:
    """The papers this subscriber may get today: the scale is set over them."""
    allowed = None if eligible is None else set(eligible)
    replaced = set(updated)
    in_category = _categories(index, profile) if profile.require_categories else {}
    out = exclusions(index, profile.exclude).out if profile.exclude else None
    chosen: list[Paper] = []
    for paper in dict((p.id, p) for p in papers).values():
        if paper.id not in semantic.similarity:
            continue
        if allowed is not None and paper.id not in allowed:
            continue
        if paper.id in replaced and not profile.include_updates:
            continue
        if profile.require_categories and paper.id not in in_category:
            continue
        if out is not None and out[index.ordinal[paper.id]]:
            continue
        chosen.append(paper)
    return chosen


def _categories(index: PaperIndex, profile: Profile) -> dict[str, Ranked]:
    """Papers in the profile's categories -> the ranker's category bonus and note."""
    if not profile.categories:
        return {}
    probe = Profile(categories=profile.categories, min_score=0.0)
    return {r.paper.id: r for r in rank(index, probe)}
