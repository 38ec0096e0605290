"""The corpus statistics a run weighs terms with (IDF over the papers of the last 30 days),
kept per day in the store: papers are counted once, when they are stored, and a run sums
the days instead of reading 30 days of abstracts again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

from digest.models import Paper
from digest.rank.lexical import CorpusStats, stats_of_counts, term_counts
from digest.store.roles import CorpusCounts, SeenPaper, TermCounts


def count_stored(
    store: CorpusCounts, papers: Sequence[Paper], before: Mapping[str, Paper], day: dt.date
) -> None:
    """Count `papers`, just stored (they were `before`, if stored already), on `day`: what a
    paper stored again had added to the day it was counted on is taken from that day."""
    if not papers:
        return
    counted = store.counted_days(p.id for p in papers)
    earlier: dict[dt.date, list[Paper]] = {}
    for paper_id, counted_on in counted.items():
        if paper_id in before:
            earlier.setdefault(counted_on, []).append(before[paper_id])
    store.count_papers(
        day,
        [p.id for p in papers],
        term_counts(papers),
        uncounted={d: term_counts(old) for d, old in earlier.items()},
    )


def corpus_background(
    store: CorpusCounts, since: dt.datetime, *, write: bool = True, extra: Iterable[Paper] = ()
) -> CorpusStats:
    """The statistics of the papers seen since `since` (whole days), and of `extra`. Papers
    stored without being counted (before counts were kept) are counted now, on the day
    they were last seen: into the store when `write`, else for this call only."""
    total = store.corpus_counts(since.astimezone(dt.UTC).date())
    missing: dict[dt.date, list[SeenPaper]] = {}
    for seen in store.uncounted_papers(since):
        missing.setdefault(seen.last_seen.astimezone(dt.UTC).date(), []).append(seen)
    for day, found in sorted(missing.items()):
        counts = term_counts(s.paper for s in found)
        if write:
            store.count_papers(day, [s.paper.id for s in found], counts)
        total = total.plus(counts)
    extra = list(extra)
    if extra:
        total = total.plus(term_counts(extra))
    return stats_of_counts(total)


__all__ = ["TermCounts", "corpus_background", "count_stored"]
