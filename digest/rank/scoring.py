"""Score a profile's candidates as arrays: its keywords resolved against the index, their
scores summed per paper, and the best papers selected as the digest shows them (rounded)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from digest.models import Profile
from digest.rank.hits import NO_FLOATS, NO_INTS, Floats, Ints, TermHits
from digest.rank.index import PaperIndex
from digest.rank.weights import AUTHOR_BONUS

ResolvedTerm = tuple[str, str, TermHits, float]  # topic, keyword text, hits, weight


def resolve_terms(index: PaperIndex, profile: Profile) -> list[ResolvedTerm]:
    """Each distinct keyword once, at its highest weight, under its first topic: writing
    both "galaxy" and "galaxies" must not count the same words twice."""
    resolved: dict[int, ResolvedTerm] = {}
    for topic in profile.topics:
        for term in topic.terms:
            hits = index.term_hits(term)
            known = resolved.get(id(hits))
            if known is None:
                resolved[id(hits)] = (topic.name, term.text, hits, term.weight)
            elif known[3] < term.weight:
                resolved[id(hits)] = (known[0], known[1], hits, term.weight)
    return list(resolved.values())


@dataclass(frozen=True, slots=True, eq=False)
class Pairs:
    """Every (paper, keyword) pair a profile's keywords found: the paper, the keyword's
    place in the resolved terms, and the points it scored there."""

    docs: Ints
    term_no: NDArray[np.intp]
    points: Floats


NO_PAIRS = Pairs(NO_INTS, np.empty(0, dtype=np.intp), NO_FLOATS)


def summed_scores(
    terms: list[ResolvedTerm], authored: Mapping[int, list[str]], papers: int
) -> tuple[Ints, Floats, Pairs]:
    """Each paper any keyword or followed author found, ascending, with the sum of the
    keywords' weighted scores and the author bonus; and the pairs that made the sums.

    The sum goes through a dense array of the day's papers (one bincount, microseconds for
    thousands of papers): far cheaper than grouping the pairs by sorting them."""
    found = [hits.docs for _topic, _text, hits, _weight in terms]
    points = [hits.scores * w if w != 1.0 else hits.scores for _t, _x, hits, w in terms]
    if not found and not authored:
        return NO_INTS, NO_FLOATS.copy(), NO_PAIRS
    sizes = [len(docs) for docs in found]
    pairs = NO_PAIRS
    if found:
        pairs = Pairs(
            np.concatenate(found), np.repeat(np.arange(len(found)), sizes), np.concatenate(points)
        )
    if authored:
        found.append(np.fromiter(authored, dtype=np.int32, count=len(authored)))
        points.append(np.full(len(authored), AUTHOR_BONUS))
    elif len(terms) == 1:
        return found[0], points[0].copy(), pairs
    summed = np.bincount(np.concatenate(found), np.concatenate(points), minlength=papers)
    docs = np.flatnonzero(summed)
    return docs.astype(np.int32), summed[docs].astype(np.float64, copy=False), pairs


def add_where_present(docs: Ints, scores: Floats, extra_docs: Ints, extra: Floats) -> None:
    """scores += extra, for the papers of `docs` that are also in `extra_docs` (both
    ascending)."""
    if not len(extra_docs) or not len(docs):
        return
    at = np.minimum(np.searchsorted(extra_docs, docs), len(extra_docs) - 1)
    present = extra_docs[at] == docs
    scores[present] += extra[at[present]]


# round(x, 4) moves a score by at most half of 0.0001, and rounding never reorders scores:
# only scores within this of a boundary need rounding to know which side they fall on.
_ROUNDING_SLACK = 0.0001


def select_best(
    index: PaperIndex, docs: Ints, scores: Floats, min_score: float, limit: int
) -> tuple[int, list[tuple[float, int]]]:
    """How many candidates pass min_score, and the best `limit` as (score, doc), ranked by
    the rounded score shown, then paper id. Rounding is slow (a decimal conversion), so only
    the scores near min_score or near the last place of the top `limit` are rounded."""
    floor = max(min_score, 0.0) + _ROUNDING_SLACK
    near = np.flatnonzero(scores < floor)
    if near.size:
        fails = [
            i
            for i, s in zip(near.tolist(), scores[near].tolist(), strict=True)
            if (shown := round(s, 4)) <= 0 or shown < min_score
        ]
        if fails:
            keep = np.ones(len(docs), dtype=bool)
            keep[fails] = False
            docs, scores = docs[keep], scores[keep]
    matched = len(docs)
    if limit == 0 or not matched:
        return matched, []
    if limit < matched:
        # anything that rounds level with the last of the top `limit` may win it on its id
        edge = np.partition(scores, matched - limit)[matched - limit] - _ROUNDING_SLACK
        contenders = scores >= edge
        docs, scores = docs[contenders], scores[contenders]
    id_rank = index.id_rank
    ordered = sorted(
        (-round(s, 4), id_rank[d], d) for d, s in zip(docs.tolist(), scores.tolist(), strict=True)
    )
    return matched, [(-negative, doc) for negative, _, doc in ordered[:limit]]
