"""Score the day's papers against a profile, and say why each one scored.

How a score is made (scores are absolute, so a `min_score` means the same every day):

- Each keyword contributes ``weight * idf * tf' * (K1 + 1) / (tf' + K1)`` (BM25F), where
  ``tf'`` adds up its occurrences per field, boosted (title > HF keywords > abstract) and
  normalised by field length against the background average. ``idf`` comes from the
  background corpus (a rolling window of recent papers) so that "model" weighs little and
  "Schrödinger bridge" a lot; without a background the day's papers are used.
  Roughly: a distinctive word once in the abstract is worth 3-4, in the title 8-10; a word
  found in most papers ("model") well under 1. A `min_score` of 2-3 keeps passing mentions out.
- A followed author adds AUTHOR_BONUS: their papers reach the digest on their own.
- Profile categories add CATEGORY_BONUS (half for a cross-list) to papers that matched a
  keyword or author; a profile without keywords selects papers by category alone.
  With `require_categories`, papers outside those categories are dropped.
- Hugging Face upvotes add ``popularity_weight * ln(1 + upvotes)`` to papers that matched.
- An exclusion phrase in the title, or twice or more anywhere, removes the paper; one
  passing mention in the abstract or HF keywords halves its score (digest.rank.exclusions).

The index (digest.rank.index) is built once per run and shared by every subscriber; what a
keyword matches is computed on first use and cached in it as numpy arrays (the papers it
hits, their scores, the matched spans). A profile is then scored by concatenating its
keywords' arrays and summing per paper (digest.rank.scoring), so ranking costs grow with the
matches of a profile's keywords, not with the number of papers, and run in numpy rather
than the interpreter.

`rank_top(index, profile, limit=k)` is what a digest needs: the k best papers explained and
the number that matched. It scores every candidate as a plain float and builds the
explanations (Ranked, Match spans; digest.rank.explain) only for those k; `rank()` is
`rank_top` without a limit, for callers that want every match explained.

This module is the ranker's entry point: it also hands on the index and corpus statistics
from their own modules, so callers import the whole ranker from here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from digest.models import Profile, Ranked
from digest.rank.corpus import CorpusStats, corpus_stats, stats_of_counts, term_counts
from digest.rank.exclusions import exclusions
from digest.rank.explain import ExplainContext, explain_all
from digest.rank.fields import field_text
from digest.rank.hits import Floats, Ints
from digest.rank.index import PaperIndex, as_set, build_index
from digest.rank.scoring import (
    NO_PAIRS,
    Pairs,
    add_where_present,
    resolve_terms,
    select_best,
    summed_scores,
)

__all__ = [
    "CorpusStats",
    "PaperIndex",
    "RankResult",
    "Scored",
    "build_index",
    "corpus_stats",
    "explain",
    "field_text",
    "rank",
    "rank_top",
    "score_all",
    "stats_of_counts",
    "term_counts",
]


@dataclass(frozen=True, slots=True)
class RankResult:
    """The best papers for a profile, explained, and how many papers matched in all."""

    ranked: tuple[Ranked, ...]
    matched: int


def rank(
    index: PaperIndex,
    profile: Profile,
    *,
    eligible: Collection[str] | None = None,
    updated: Collection[str] = (),
) -> tuple[Ranked, ...]:
    """Papers for this profile, best first, each with the reasons it scored."""
    everything = len(index.papers)
    return rank_top(index, profile, limit=everything, eligible=eligible, updated=updated).ranked


def rank_top(
    index: PaperIndex,
    profile: Profile,
    *,
    limit: int,
    eligible: Collection[str] | None = None,
    updated: Collection[str] = (),
) -> RankResult:
    """The `limit` best papers for this profile (exactly `rank(...)[:limit]`), and the
    number of papers that matched. Every candidate is scored in numpy; only the papers
    returned are explained, which is most of the cost of a long result."""
    if limit < 0:
        raise ValueError(f"limit must be 0 or more, not {limit}")
    scored = score_all(index, profile, eligible=eligible, updated=updated)
    matched, best = select_best(index, scored.docs, scored.scores, profile.min_score, limit)
    return RankResult(explain(scored, best), matched)


@dataclass(frozen=True, slots=True, eq=False)
class Scored:
    """Every candidate of a profile scored (before min_score's rounding check), and what
    explaining some of them needs: for callers that choose the papers themselves."""

    docs: Ints
    scores: Floats
    context: ExplainContext
    pairs: Pairs


def explain(scored: Scored, best: list[tuple[float, int]]) -> tuple[Ranked, ...]:
    """`best` (shown score, doc) explained, in that order."""
    return explain_all(scored.context, best, scored.pairs)


def score_all(
    index: PaperIndex,
    profile: Profile,
    *,
    eligible: Collection[str] | None = None,
    updated: Collection[str] = (),
) -> Scored:
    """rank_top's scoring without the selection: the papers that pass the profile's
    filters and reach min_score (unrounded), with their keyword points."""
    replaced = as_set(updated)
    terms = resolve_terms(index, profile)
    authored: dict[int, list[str]] = {}
    for author in profile.authors:
        for doc, spelled in index.author_docs(author).items():
            authored.setdefault(doc, []).append(spelled)
    in_category = index.profile_categories(profile.categories)

    pairs = NO_PAIRS
    if not terms and not profile.authors:
        # a profile without keywords selects by category
        docs, scores = in_category.bonus_docs, in_category.bonus.copy()
    else:
        docs, scores, pairs = summed_scores(terms, authored, len(index.papers))
        add_where_present(docs, scores, in_category.bonus_docs, in_category.bonus)
    if profile.popularity_weight:
        scores += profile.popularity_weight * index.log_upvotes[docs] * (scores > 0)
    unwanted = []
    if profile.exclude:
        # out, or damped by a passing mention (before min_score, which the damping may fail)
        excluded = exclusions(index, profile.exclude)
        scores = scores * excluded.factor[docs]
        unwanted.append(np.flatnonzero(excluded.out).astype(np.int32))
    keep = scores >= profile.min_score - 0.001  # most scored papers fall short: one sweep
    docs, scores = docs[keep], scores[keep]
    if replaced and not profile.include_updates:
        ordinal = index.ordinal
        unwanted.append(np.array([ordinal[i] for i in replaced if i in ordinal], dtype=np.int32))
    if profile.require_categories:
        outside = np.ones(len(index.papers), dtype=bool)
        outside[in_category.bonus_docs] = False
        keep = ~outside[docs]
    else:
        keep = np.ones(len(docs), dtype=bool)
    if unwanted:
        dropped = np.zeros(len(index.papers), dtype=bool)
        for found in unwanted:
            dropped[found] = True
        keep &= ~dropped[docs]
    if eligible is not None:
        keep &= index.among(eligible, docs)
    docs, scores = docs[keep], scores[keep]
    context = ExplainContext(index, profile, terms, authored, in_category.docs, replaced)
    return Scored(docs, scores, context, pairs)
