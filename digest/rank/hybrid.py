"""Keywords and meaning on one scale: a calibrated blend of the keyword score and the
semantic similarity, per day and per profile.

How a hybrid score is made:

- Every candidate paper of the day (eligible, not an unwanted update, inside
  `require_categories`, not excluded) has lexical evidence ``L`` (the keyword ranker's
  score: BM25F, followed authors, categories, popularity; 0 when nothing matched) and a
  similarity ``S`` to the profile (cosine of all-MiniLM-L6-v2 vectors).
- Each is put on the day's scale: ``zL`` is the z-score of ``ln(1 + L)`` over the
  candidates, ``zS`` the z-score of ``S``. The score is ``zL + meaning * zS``: a paper on
  the reader's topic in other words can outrank a paper that only mentions a keyword, and a
  paper about something else sinks even if it says "LLM" once. Measured on the tuning
  interests of tests/rank/judged (see evaluate.py there); ``meaning`` = 1 was best of
  0.5-3, and ln(1 + L) a little ahead of L itself.
- A paper is listed when its score reaches `floor`, and either a keyword (or author, or
  category) found it with at least `min_score`, or it is close in meaning (``zS`` at least
  `entry`). So a generic low-weight keyword ("benchmark^0.5") cannot let a long tail of
  unrelated papers in: their blended score stays under the floor.
- One passing mention of an excluded word (see digest.rank.exclusions) costs a paper that
  entered on meaning `passing_penalty`; keyword matches already had their score halved.
- The reader's votes may add a third term, closeness to the papers they liked, on the same
  scale (digest.rank.feedback.vote_lift).
- Explanations stay honest: matched keywords are highlighted as before; a paper close in
  meaning says "similar in meaning to your interest", one close to a paper the reader liked
  "like papers you marked" (digest.rank.feedback).
- Without semantic scores (the extra is not installed, or the profile has no text), the
  result is exactly `rank()`'s.

The blend works on arrays over the day's candidates (no Python object per paper): the
lexical points come from the keyword ranker's scoring without its explanations, the
similarities from the semantic index's row of values, and only the papers shown are
explained (`hybrid_top`), as `rank_top` does for keywords alone.

Shown scores are the blended value (standard deviations above the day's average paper),
not the keyword points: they compare papers within a digest.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from digest.models import Field, Paper, Profile, Ranked
from digest.rank.exclusions import exclusions
from digest.rank.hits import Floats, Ints
from digest.rank.lexical import (
    PaperIndex,
    RankResult,
    Scored,
    explain,
    rank,
    rank_top,
    score_all,
)
from digest.rank.semantic import SemanticScores, SimilarityRows

SIMILAR_NOTE = "similar in meaning to your interest"
LIKED_NOTE = "like papers you marked"
_KEYWORD_FIELDS = frozenset({Field.TITLE, Field.ABSTRACT, Field.KEYWORDS})
_ROUNDING_SLACK = 0.0001  # round(x, 4) moves a score by at most half of this

Number = TypeVar("Number", float, Floats)


@dataclass(frozen=True, slots=True)
class Blend:
    """How the two kinds of evidence are weighed (in standard deviations of the day)."""

    meaning: float = 1.0  # weight of zS against zL
    entry: float = 0.5  # zS a paper without keyword evidence needs to be listed
    floor: float = 0.5  # blended score every listed paper reaches
    note_from: float = 1.5  # zS from which a paper is said to be similar in meaning
    passing_penalty: float = 0.5  # a meaning-only paper with one excluded word loses this

    def blended(self, lexical: Number, z_lexical: Number, z_meaning: Number) -> Number:
        del lexical  # the lexical points enter through z_lexical only
        return z_lexical + self.meaning * z_meaning


DEFAULT_BLEND = Blend()


def keyword_matched(ranked: Ranked) -> bool:
    return any(m.field in _KEYWORD_FIELDS for m in ranked.matches)


def hybrid_rank(
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
    """Papers for this profile, best first, on the blended scale: `hybrid_top` without a
    limit."""
    everything = len(index.papers)
    return hybrid_top(
        index,
        profile,
        papers,
        semantic=semantic,
        limit=everything,
        eligible=eligible,
        updated=updated,
        blend=blend,
        liked=liked,
    ).ranked


def hybrid_top(
    index: PaperIndex,
    profile: Profile,
    papers: Sequence[Paper],
    *,
    semantic: SemanticScores | None,
    limit: int,
    eligible: Collection[str] | None = None,
    updated: Collection[str] = (),
    blend: Blend = DEFAULT_BLEND,
    liked: Mapping[str, float] | None = None,
) -> RankResult:
    """The `limit` best papers on the blended scale (exactly `hybrid_rank(...)[:limit]`),
    and how many were listed in all.

    `papers` are the papers `index` was built from; `eligible` and `updated` mean what they
    mean for `rank()`. `liked` (paper id -> its cosine to the closest paper the
    reader liked, for those close to one) only adds the "like papers you marked" note; what
    votes change is in `semantic` and, through blend_top, its `lift`.
    """
    if semantic is None:
        return rank_top(index, profile, limit=limit, eligible=eligible, updated=updated)
    side = lexical_side(index, profile, papers, semantic, eligible=eligible, updated=updated)
    return blend_top(side, semantic, limit=limit, blend=blend, liked=liked)


@dataclass(frozen=True, slots=True, eq=False)
class LexicalSide:
    """One profile's part of the day's blend that does not depend on the similarities: its
    candidates (places in the index, in the order of the papers), their rows among the
    similarities, the keyword points and their z-scores. Made once, blended with one or
    more similarity vectors of the same papers (digest.rank.personal blends twice)."""

    index: PaperIndex
    profile: Profile
    updated: Collection[str]
    scored: Scored
    pool: Ints
    rows: Ints
    points: Floats
    found: NDArray[np.bool_]
    z_lexical: Floats
    passing: NDArray[np.bool_] | None  # one passing mention of an excluded word


def lexical_side(
    index: PaperIndex,
    profile: Profile,
    papers: Sequence[Paper],
    semantic: SemanticScores,
    *,
    eligible: Collection[str] | None = None,
    updated: Collection[str] = (),
) -> LexicalSide:
    """The profile's candidates among `papers` (those `semantic` has a similarity for) and
    their keyword evidence."""
    # Every paper with any lexical evidence; min_score is applied to the entry below.
    scored = score_all(index, replace(profile, min_score=0.0), eligible=eligible, updated=updated)
    # as rank() lists them: a paper was found when its shown (rounded) points are above 0
    shown = np.array([round(s, 4) for s in scored.scores.tolist()], dtype=np.float64)
    found_docs, found_points = scored.docs[shown > 0], shown[shown > 0]
    pool, rows = _candidates(index, profile, papers, semantic, eligible, updated)
    dense = np.zeros(len(index.papers), dtype=np.float64)
    dense[found_docs] = found_points
    is_found = np.zeros(len(index.papers), dtype=bool)
    is_found[found_docs] = True
    points, found = dense[pool], is_found[pool]
    passing = None
    if profile.exclude:
        passing = exclusions(index, profile.exclude).factor[pool] < 1.0
    z_lexical = _z(np.log1p(np.maximum(points, 0.0)))
    return LexicalSide(
        index, profile, updated, scored, pool, rows, points, found, z_lexical, passing
    )


def blend_top(
    side: LexicalSide,
    semantic: SemanticScores,
    *,
    limit: int,
    blend: Blend = DEFAULT_BLEND,
    liked: Mapping[str, float] | None = None,
    lift: Floats | None = None,
) -> RankResult:
    """The `limit` best of the side's candidates blended with `semantic` (similarities of
    the same papers `side` was made with), explained, and how many were listed. `lift`
    (one value per candidate, in the side's order, on the blend's scale) is added to the
    score: the reader's votes (digest.rank.feedback.vote_lift)."""
    index, profile, pool, points, found = (
        side.index, side.profile, side.pool, side.points, side.found
    )  # fmt: skip
    if not len(pool):
        return RankResult((), 0)
    z_meaning = _z(_meaning(index, side, semantic))
    score = blend.blended(points, side.z_lexical, z_meaning)
    if lift is not None:
        score = score + lift
    listed = (found & (points >= profile.min_score)) | (z_meaning >= blend.entry)
    if side.passing is not None:
        score = score - blend.passing_penalty * (side.passing & ~found)
    listed &= score >= blend.floor
    chosen = _best(index, pool, score, np.flatnonzero(listed), limit)
    lexical_ones = [(float(points[n]), int(pool[n])) for n, _ in chosen if found[n]]
    by_keywords = {r.paper.id: r for r in explain(side.scored, lexical_ones)}
    meaning_ones = [index.papers[int(pool[n])] for n, _ in chosen if not found[n]]
    in_category = _categories(index, profile, [p.id for p in meaning_ones])
    results: list[Ranked] = []
    for n, shown_score in chosen:
        paper = index.papers[int(pool[n])]
        base = by_keywords.get(paper.id)
        zs = float(z_meaning[n])
        notes = [SIMILAR_NOTE] if zs >= blend.note_from or base is None else []
        if base is None:
            base = _by_meaning(paper, profile, in_category, side.updated)
        if liked and liked.get(paper.id, 0.0) > 0:
            notes.append(LIKED_NOTE)
        note = "; ".join(dict.fromkeys(n for n in (*notes, base.note) if n))
        results.append(replace(base, score=shown_score, note=note))
    return RankResult(tuple(results), int(listed.sum()))


def _z(values: Floats) -> Floats:
    spread = float(values.std())
    scaled: Floats = (values - values.mean()) / (spread if spread > 1e-9 else 1.0)
    return scaled


def _best(
    index: PaperIndex, pool: Ints, score: Floats, listed: NDArray[np.intp], limit: int
) -> list[tuple[int, float]]:
    """The best `limit` of the listed places of `pool` as (place, shown score), by the
    rounded score and then paper id. Only scores that could reach the top are rounded."""
    if limit <= 0 or not len(listed):
        return []
    if limit < len(listed):
        values = score[listed]
        edge = np.partition(values, len(values) - limit)[len(values) - limit] - _ROUNDING_SLACK
        listed = listed[values >= edge]
    id_rank = index.id_rank
    ordered = sorted(
        (-round(s, 4), id_rank[d], n)
        for n, d, s in zip(
            listed.tolist(), pool[listed].tolist(), score[listed].tolist(), strict=True
        )
    )
    return [(n, -negative) for negative, _, n in ordered[:limit]]


def _candidates(
    index: PaperIndex,
    profile: Profile,
    papers: Sequence[Paper],
    semantic: SemanticScores,
    eligible: Collection[str] | None,
    updated: Collection[str],
) -> tuple[Ints, Ints]:
    """The papers this subscriber may get today (the scale is set over them), as places in
    the index in the order of `papers`, and their rows among the similarities."""
    pool, rows = _aligned(index, papers, semantic.similarity)
    keep = np.ones(len(pool), dtype=bool)
    if eligible is not None:
        keep &= index.among(eligible, pool)
    if updated and not profile.include_updates:
        ordinal = index.ordinal
        replaced = np.zeros(len(index.papers), dtype=bool)
        replaced[[ordinal[i] for i in set(updated) if i in ordinal]] = True
        keep &= ~replaced[pool]
    if profile.require_categories:
        inside = np.zeros(len(index.papers), dtype=bool)
        inside[index.profile_categories(profile.categories).bonus_docs] = True
        keep &= inside[pool]
    if profile.exclude:
        keep &= ~exclusions(index, profile.exclude).out[pool]
    return pool[keep], rows[keep]


def _meaning(index: PaperIndex, side: LexicalSide, semantic: SemanticScores) -> Floats:
    """The similarities of the side's candidates, in its order."""
    if isinstance(semantic.similarity, SimilarityRows):
        return semantic.similarity.array[side.rows].astype(np.float64)
    ids = index.ids
    return np.array([semantic.similarity[ids[d]] for d in side.pool.tolist()], np.float64)


# The last alignments of a day's papers to the index and the semantic rows: the same for
# every subscriber of the day (the objects are kept, so their ids stay theirs).
_ALIGNED: dict[tuple[int, int, int], tuple[object, object, object, Ints, Ints]] = {}


def _aligned(
    index: PaperIndex, papers: Sequence[Paper], similarity: Mapping[str, float]
) -> tuple[Ints, Ints]:
    """The index places of the distinct papers of `papers` that have a similarity, in the
    order of `papers`, and (for SimilarityRows) their rows."""
    rows_of = similarity.ids if isinstance(similarity, SimilarityRows) else None
    key = (id(index), id(papers), id(rows_of))
    known = _ALIGNED.get(key)
    if known is not None and rows_of is not None:
        return known[3], known[4]
    ordinal = index.ordinal
    position = similarity.position if isinstance(similarity, SimilarityRows) else None
    places, rows = [], []
    for paper_id in dict.fromkeys(p.id for p in papers):
        if paper_id not in similarity:
            continue
        places.append(ordinal[paper_id])
        rows.append(position[paper_id] if position is not None else 0)
    aligned = np.array(places, dtype=np.int32), np.array(rows, dtype=np.int32)
    if rows_of is not None:
        if len(_ALIGNED) >= 4:
            _ALIGNED.pop(next(iter(_ALIGNED)))
        _ALIGNED[key] = (index, papers, rows_of, *aligned)
    return aligned


def _by_meaning(
    paper: Paper, profile: Profile, in_category: Mapping[str, Ranked], updated: Collection[str]
) -> Ranked:
    """A paper no keyword, author or category found: its category and other notes."""
    notes: list[str] = []
    matches: tuple[Ranked, ...] = ()
    category = in_category.get(paper.id)
    if category is not None:
        notes.append(category.note)
        matches = (category,)
    upvotes = paper.hf.upvotes if paper.hf else 0
    if profile.popularity_weight and upvotes > 0:
        notes.append(f"{upvotes} upvotes on Hugging Face")
    is_update = paper.id in set(updated)
    if is_update:
        notes.append("updated version of a paper you were sent")
    return Ranked(
        paper=paper,
        score=0.0,
        matches=tuple(m for r in matches for m in r.matches),
        updated=is_update,
        note="; ".join(n for n in notes if n),
    )


def _categories(index: PaperIndex, profile: Profile, ids: Sequence[str]) -> dict[str, Ranked]:
    """Those of `ids` in the profile's categories -> the ranker's category bonus and note."""
    if not profile.categories or not ids:
        return {}
    probe = Profile(categories=profile.categories, min_score=0.0)
    return {r.paper.id: r for r in rank(index, probe, eligible=set(ids))}
