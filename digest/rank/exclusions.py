"""How a profile's exclusions weigh on a paper: by where and how often the excluded words
appear, so that one passing mention does not remove a paper squarely on the reader's topic.

- in the title, or twice or more in all (title, abstract, HF keywords): the paper is out;
- once, outside the title: the paper's score is multiplied by PASSING_MENTION.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from digest.models import Field, Term
from digest.rank.fields import TEXT_FIELDS
from digest.rank.hits import ROW, Floats
from digest.rank.index import PaperIndex

PASSING_MENTION = 0.5  # what one mention of an excluded word in the abstract leaves
OUT_FROM = 2  # this many mentions (or one in the title) remove the paper
_TITLE = TEXT_FIELDS.index(Field.TITLE)


@dataclass(frozen=True, slots=True)
class Exclusions:
    """Per paper of the index: whether it is out, and the factor on its score."""

    out: NDArray[np.bool_]
    factor: Floats


def exclusions(index: PaperIndex, exclude: Sequence[str]) -> Exclusions:
    papers = len(index.papers)
    mentions = np.zeros(papers, dtype=np.int64)
    in_title = np.zeros(papers, dtype=bool)
    for text in exclude:
        hits = index.term_hits(Term(text))
        rows = np.frombuffer(hits.rows, dtype=np.int32).reshape(-1, ROW)
        if not rows.size:
            continue
        mentions += np.bincount(rows[:, 0], minlength=papers)
        in_title[rows[rows[:, 1] == _TITLE, 0]] = True
    out = in_title | (mentions >= OUT_FROM)
    factor = np.where(mentions == 1, PASSING_MENTION, 1.0)
    return Exclusions(out, factor)
