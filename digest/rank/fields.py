"""A paper's fields as the ranker reads them: their text, and the words in them.

Field numbers (in postings and matched spans) are positions in TEXT_FIELDS; matches are
shown in DISPLAY_ORDER.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from digest.models import Field, Paper
from digest.textmatch import Occurrence, occurrences

TEXT_FIELDS: tuple[Field, ...] = (Field.TITLE, Field.ABSTRACT, Field.KEYWORDS)
# Matches are shown title first, then HF keywords, then abstract.
DISPLAY_ORDER: tuple[Field, ...] = (Field.TITLE, Field.KEYWORDS, Field.ABSTRACT)
DISPLAY_RANK: dict[int, int] = {TEXT_FIELDS.index(f): r for r, f in enumerate(DISPLAY_ORDER)}
# Words of different HF keywords must not form a phrase together.
KEYWORD_GAP = 2


def field_text(paper: Paper, which: Field) -> str:
    """The text a Match's spans index into."""
    if which is Field.TITLE:
        return paper.title
    if which is Field.ABSTRACT:
        return paper.abstract
    if which is Field.KEYWORDS:
        return ", ".join(paper.hf.ai_keywords) if paper.hf else ""
    if which is Field.AUTHORS:
        return ", ".join(paper.authors)
    return ", ".join(paper.categories)


def field_occurrences(paper: Paper, which: Field) -> Iterable[Occurrence]:
    """The words of one of TEXT_FIELDS, with their places in `field_text`."""
    # the tokeniser's own generator for plain fields: indexing walks a million of these
    if which is not Field.KEYWORDS:
        return occurrences(field_text(paper, which))
    return _keyword_occurrences(paper.hf.ai_keywords if paper.hf else ())


def _keyword_occurrences(keywords: Sequence[str]) -> Iterable[Occurrence]:
    position, offset = 0, 0
    for keyword in keywords:
        last = position
        for key, pos, width, start, end in occurrences(keyword, position):
            last = max(last, pos + width)
            yield key, pos, width, start + offset, end + offset
        position = last + KEYWORD_GAP
        offset += len(keyword) + 2  # ", "
