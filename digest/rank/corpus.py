"""Background statistics for IDF: how many papers of a rolling corpus hold each word stem,
and how long each field is on average."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from digest.models import Paper
from digest.rank.fields import TEXT_FIELDS
from digest.rank.tokenise import DOC, Tokens, tokenise
from digest.store.roles import TermCounts
from digest.textmatch import stems


@dataclass(frozen=True, slots=True)
class CorpusStats:
    """Document frequencies of stems over a rolling corpus, and average field lengths."""

    documents: int = 0
    doc_freq: Mapping[str, int] = field(default_factory=dict)
    avg_length: Mapping[str, float] = field(default_factory=dict)  # Field value -> words

    def idf(self, stem_key: str) -> float:
        n = max(self.documents, 1)
        df = min(self.doc_freq.get(stem_key, 0), n)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def to_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "doc_freq": dict(self.doc_freq),
            "avg_length": dict(self.avg_length),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CorpusStats:
        return cls(
            documents=int(data["documents"]),
            doc_freq={str(k): int(v) for k, v in data["doc_freq"].items()},
            avg_length={str(k): float(v) for k, v in data["avg_length"].items()},
        )


def stats_of_counts(counts: TermCounts) -> CorpusStats:
    """The statistics that counts of papers (digest.store.roles.TermCounts) make."""
    n = counts.documents
    avg = {f.value: counts.words.get(f.value, 0) / n if n else 0.0 for f in TEXT_FIELDS}
    return CorpusStats(n, counts.doc_freq, avg)


def term_counts(papers: Iterable[Paper]) -> TermCounts:
    """The counts of `papers` (each paper once), read a day's worth at a time: the batch
    tokeniser's arrays stay small, and counts of disjoint runs of papers add up."""
    total: TermCounts | None = None
    for run in _runs(papers):
        counts = counts_of_tokens(tokenise(run))
        total = counts if total is None else total.plus(counts)  # (one day: nothing to add)
    return total if total is not None else TermCounts()


_RUN = 2000  # papers tokenised at once


def _runs(papers: Iterable[Paper]) -> Iterator[list[Paper]]:
    run: list[Paper] = []
    for paper in papers:
        run.append(paper)
        if len(run) == _RUN:
            yield run
            run = []
    if run:
        yield run


def counts_of_tokens(tokens: Tokens) -> TermCounts:
    documents = len(tokens.lengths)
    words = tokens.lengths.sum(axis=0).tolist() if documents else [0] * len(TEXT_FIELDS)
    totals = {f.value: int(words[n]) for n, f in enumerate(TEXT_FIELDS)}
    if not tokens.keys:
        return TermCounts(documents, {}, totals)
    # words (keys) -> stems, each distinct word stemmed once
    key_stems = stems(list(tokens.keys))
    stem_number: dict[str, int] = {}
    key_stem = np.fromiter(
        map(stem_number.setdefault, key_stems, itertools.count()), dtype=np.int64
    )  # a stem's number: the first key that has it
    per_row_key = np.repeat(np.arange(len(tokens.keys)), np.diff(tokens.bounds))
    # A paper holding a word many times counts once: a word's rows are sorted by paper, so
    # its repeats in a paper are neighbours ...
    docs = tokens.rows[:, DOC][tokens.order].astype(np.int64)  # in word order
    new = np.ones(len(docs), dtype=bool)
    new[1:] = (docs[1:] != docs[:-1]) | (per_row_key[1:] != per_row_key[:-1])
    key_df = np.bincount(per_row_key[new], minlength=len(key_stems))
    df = np.bincount(key_stem, weights=key_df, minlength=len(key_stems)).astype(np.int64)
    # ... and where words of one stem ("model", "models") meet in a paper, it counts once:
    # only those stems need the distinct (paper, stem) pairs
    keys_per_stem = np.bincount(key_stem, minlength=len(key_stems))
    shared = keys_per_stem[key_stem[per_row_key]] > 1
    if shared.any():
        rows = new & shared
        pairs = np.sort(docs[rows] * len(key_stems) + key_stem[per_row_key[rows]])
        pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]  # each pair once
        repeated = keys_per_stem > 1
        df[repeated] = 0
        df += np.bincount(pairs % len(key_stems), minlength=len(key_stems))
    counted = df.tolist()
    doc_freq = {s: counted[n] for s, n in stem_number.items()}
    return TermCounts(documents, doc_freq, totals)


def stats_of_tokens(tokens: Tokens) -> CorpusStats:
    """The statistics of the papers these tokens were read from."""
    return stats_of_counts(counts_of_tokens(tokens))


def corpus_stats(papers: Iterable[Paper]) -> CorpusStats:
    """The statistics of `papers`: a background for `build_index`, or the day's own."""
    return stats_of_counts(term_counts(papers))
