"""Background statistics for IDF: how many papers of a rolling corpus hold each word stem,
and how long each field is on average."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from digest.models import Paper
from digest.rank.fields import TEXT_FIELDS, field_occurrences
from digest.textmatch import stem


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


def corpus_stats(papers: Iterable[Paper]) -> CorpusStats:
    """The statistics of `papers`: a background for `build_index`, or the day's own."""
    doc_freq: dict[str, int] = {}
    totals = dict.fromkeys(TEXT_FIELDS, 0)
    documents = 0
    for paper in papers:
        documents += 1
        stems: set[str] = set()
        for which in TEXT_FIELDS:
            for key, _pos, width, _start, _end in field_occurrences(paper, which):
                stems.add(stem(key))
                totals[which] += width == 1
        for s in stems:
            doc_freq[s] = doc_freq.get(s, 0) + 1
    avg = {f.value: totals[f] / documents if documents else 0.0 for f in TEXT_FIELDS}
    return CorpusStats(documents, doc_freq, avg)
