"""What the index answers a look-up with: the papers a keyword or a profile's categories
found, with their scores and, for display, the matched spans."""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from digest.models import Field, Match
from digest.rank.fields import DISPLAY_ORDER, DISPLAY_RANK

Ints = NDArray[np.int32]
Floats = NDArray[np.float64]
NO_INTS: Ints = np.empty(0, dtype=np.int32)
NO_FLOATS: Floats = np.empty(0, dtype=np.float64)
# A paper's highlighted spans for one keyword: per field, in display order (title first).
FieldSpans = tuple[tuple[Field, tuple[tuple[int, int], ...]], ...]
ROW = 4  # ints per matched span in TermHits.rows


@dataclass(frozen=True, slots=True, eq=False)
class TermHits:
    """Where one keyword matched, kept compact (a day's look-ups for thousands of profiles
    stay cached): the papers in ascending order with their base scores (weight 1), and
    every matched span as (doc, field, start, end) rows sorted by doc, which `spans_of`
    shapes for display only for the papers a digest shows (and remembers: popular papers
    are shown to many subscribers who share a keyword). Scoring reads the numpy arrays;
    display reads the spans from plain C arrays, which Python indexes and bisects faster
    than numpy's, one paper at a time."""

    docs: Ints
    scores: Floats
    rows: array[int]  # ROW ints per span: doc, field number, start char, end char
    row_docs: array[int]  # the doc of each row, to find a paper's rows by bisection
    _shown: dict[tuple[int, str, str], tuple[Match, ...]] = field(default_factory=dict, repr=False)

    def spans_of(self, doc: int) -> FieldSpans:
        """The highlighted spans in `doc`, per field in display order (title first)."""
        first, last = bisect_left(self.row_docs, doc), bisect_right(self.row_docs, doc)
        rows = self.rows
        by_field: dict[int, list[tuple[int, int]]] = {}
        for r in range(first * ROW, last * ROW, ROW):
            by_field.setdefault(rows[r + 1], []).append((rows[r + 2], rows[r + 3]))
        ordered = sorted((DISPLAY_RANK[f], tuple(spans)) for f, spans in by_field.items())
        return tuple((DISPLAY_ORDER[rank], spans) for rank, spans in ordered)

    def matches_in(self, doc: int, text: str, topic: str) -> tuple[Match, ...]:
        """The Matches to show for `doc`, one per field; remembered, since a popular paper is
        shown to many subscribers who share a keyword."""
        key = (doc, text, topic)
        shown = self._shown.get(key)
        if shown is None:
            spans = self.spans_of(doc)
            shown = self._shown[key] = tuple(Match(text, f, topic, s) for f, s in spans)
        return shown


NO_HITS = TermHits(NO_INTS, NO_FLOATS, array("i"), array("i"))


@dataclass(frozen=True, slots=True, eq=False)
class CategoryHits:
    """Papers in a profile's categories -> (is primary, category), and the bonus each earns
    (also as sorted arrays, for scoring)."""

    docs: Mapping[int, tuple[bool, str]]
    bonus_docs: Ints
    bonus: Floats


def c_ints(values: Ints) -> array[int]:
    """`values` as a plain C-int array (see TermHits)."""
    found = array("i")
    found.frombytes(np.ascontiguousarray(values, dtype=np.int32).tobytes())
    return found
