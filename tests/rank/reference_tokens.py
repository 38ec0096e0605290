"""The index's words as the per-word definition gives them (digest.rank.fields on each field
of each paper, one occurrence at a time): what the batch tokeniser must reproduce."""

from __future__ import annotations

from collections.abc import Sequence

from digest.models import Paper
from digest.rank.corpus import CorpusStats
from digest.rank.fields import TEXT_FIELDS, field_occurrences
from digest.textmatch import stem


def reference_postings(
    papers: Sequence[Paper],
) -> tuple[dict[str, list[tuple[int, ...]]], list[tuple[int, ...]]]:
    """Every word's rows (doc, field, position, width, start, end) in place order, and each
    paper's words per field."""
    postings: dict[str, list[tuple[int, ...]]] = {}
    lengths = []
    for doc, paper in enumerate(papers):
        words = []
        for number, which in enumerate(TEXT_FIELDS):
            count = 0
            for key, pos, width, start, end in field_occurrences(paper, which):
                postings.setdefault(key, []).append((doc, number, pos, width, start, end))
                count += width == 1
            words.append(count)
        lengths.append(tuple(words))
    return postings, lengths


def reference_stats(papers: Sequence[Paper]) -> CorpusStats:
    doc_freq: dict[str, int] = {}
    totals = dict.fromkeys(TEXT_FIELDS, 0)
    for paper in papers:
        found: set[str] = set()
        for which in TEXT_FIELDS:
            for key, _pos, width, _start, _end in field_occurrences(paper, which):
                found.add(stem(key))
                totals[which] += width == 1
        for s in found:
            doc_freq[s] = doc_freq.get(s, 0) + 1
    n = len(papers)
    return CorpusStats(n, doc_freq, {f.value: totals[f] / n if n else 0.0 for f in TEXT_FIELDS})
