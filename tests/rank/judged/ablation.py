"""The judged set's figures with parts of the ranker switched off: IDF (every word weighs
the same), title weighting (a title counts as much as an abstract), or the semantic side.
What the floors test holds the real ranker against."""

from __future__ import annotations

import dataclasses
import statistics
from types import MappingProxyType

from digest.jobs.dayindex import DayIndex
from digest.rank.corpus import CorpusStats, corpus_stats
from digest.rank.lexical import build_index
from digest.rank.weights import FIELD_BOOST

from .evaluate import Setup, average_precision, profile, ranking, tuning

FLAT_FIELDS = MappingProxyType({f: 1.0 for f in FIELD_BOOST})
VARIANTS = ("shipped", "no-idf", "no-title-weight", "no-semantic")


def no_idf(real: CorpusStats) -> CorpusStats:
    # no word is in any paper of the background: every word gets the same IDF
    return CorpusStats(documents=real.documents, doc_freq={}, avg_length=real.avg_length)


def day_for(s: Setup, variant: str) -> DayIndex:
    if variant == "shipped":
        return s.hybrid
    if variant == "no-semantic":
        return s.lexical
    stats = corpus_stats(s.corpus)
    if variant == "no-idf":
        index = build_index(s.corpus, background=no_idf(stats))
    else:
        index = build_index(s.corpus, background=stats, field_boost=FLAT_FIELDS)
    return dataclasses.replace(s.hybrid, index=index)


def tuning_map(s: Setup, variant: str, kind: str) -> float:
    """Mean average precision over the tuning interests (held-out ones are never used)."""
    day = day_for(s, variant)
    method = "keywords" if variant == "no-semantic" else "hybrid"
    return statistics.mean(
        average_precision(ranking(day, profile(i, kind), method), s.grades[i.name].grades)
        for i in tuning(s)
    )
