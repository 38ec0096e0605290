"""The CorpusCounts role's rows, as both backends keep them: a day's counts as (documents,
words JSON, doc_freq JSON), and what storing papers again does to the days' counts."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping

from digest.store.roles import TermCounts

Encoded = tuple[int, str, str]  # documents, words, doc_freq


def encode(counts: TermCounts) -> Encoded:
    return (
        counts.documents,
        json.dumps(dict(counts.words), separators=(",", ":")),
        json.dumps(dict(counts.doc_freq), separators=(",", ":")),
    )


def decode(documents: int, words: str, doc_freq: str) -> TermCounts:
    return TermCounts(int(documents), json.loads(doc_freq), json.loads(words))


def changed_days(
    stored: Mapping[dt.date, TermCounts],
    day: dt.date,
    counts: TermCounts,
    uncounted: Mapping[dt.date, TermCounts],
) -> dict[dt.date, TermCounts]:
    """The new counts of every day touched: `uncounted` taken from earlier days, `counts`
    added to `day` (`stored` holds the touched days' counts before)."""
    result = dict(stored)
    for earlier, taken in uncounted.items():
        result[earlier] = result.get(earlier, TermCounts()).plus(taken, -1)
    result[day] = result.get(day, TermCounts()).plus(counts)
    return result


def summed(days: Iterable[TermCounts]) -> TermCounts:
    """Counts of many days added up (the 30-day window a run reads)."""
    documents = 0
    freq: dict[str, int] = {}
    words: dict[str, int] = {}
    get = freq.get
    for counts in days:
        documents += counts.documents
        for stem, papers in counts.doc_freq.items():
            freq[stem] = get(stem, 0) + papers
        for name, count in counts.words.items():
            words[name] = words.get(name, 0) + count
    return TermCounts(documents, freq, words)
