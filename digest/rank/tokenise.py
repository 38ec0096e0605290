"""Read a run of papers into what the index is built from: postings, field lengths, and the
authors and categories to look up; many papers are split across forked processes."""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from digest.models import Paper
from digest.rank.authornames import NameKey, name_key
from digest.rank.fields import TEXT_FIELDS, field_occurrences
from digest.util.forkmap import Failed, start_workers

# Postings are flat C-int arrays of (doc, field, position, width, start, end) rows, read in
# place as numpy int32 matrices.
STRIDE = 6
DOC, FIELD, POSITION, WIDTH, START, END = range(STRIDE)
assert array("i").itemsize == 4, "postings are read as int32"
# Splitting the tokenising across processes pays for the result's trip back only from
# about this many papers.
_PARALLEL_FROM = 1000


@dataclass(slots=True)
class Tokens:
    """What indexing reads from a run of papers: the postings of every word (flat rows of
    (doc, field, position, width, start, end)), each paper's field lengths in words, and
    its authors and categories for look-up."""

    postings: dict[str, array[int]] = field(default_factory=dict)
    lengths: list[tuple[int, int, int]] = field(default_factory=list)
    authors: dict[str, list[tuple[int, NameKey, str]]] = field(default_factory=dict)
    categories: dict[str, list[tuple[int, bool, str]]] = field(default_factory=dict)

    def extend(self, later: Tokens) -> None:
        """Append the tokens of the papers that follow these (their docs are higher)."""
        for key, rows in later.postings.items():
            mine = self.postings.get(key)
            if mine is None:
                self.postings[key] = rows
            else:
                mine.extend(rows)
        self.lengths.extend(later.lengths)
        for surname, names in later.authors.items():
            self.authors.setdefault(surname, []).extend(names)
        for category, entries in later.categories.items():
            self.categories.setdefault(category, []).extend(entries)


def tokenise(papers: Sequence[Paper], first_doc: int) -> Tokens:
    """Tokens of `papers`, numbered from `first_doc`. The index's hot loop: a million
    words a day, so it reaches for the posting lists directly."""
    postings: defaultdict[str, array[int]] = defaultdict(_new_posting)
    tokens = Tokens()
    for doc, paper in enumerate(papers, start=first_doc):
        lengths = []
        for field_no, which in enumerate(TEXT_FIELDS):
            words = 0
            for key, pos, width, start, end in field_occurrences(paper, which):
                postings[key].extend((doc, field_no, pos, width, start, end))
                if width == 1:
                    words += 1
            lengths.append(words)
        tokens.lengths.append((lengths[0], lengths[1], lengths[2]))
        for author in paper.authors:
            name = name_key(author)
            if name:
                tokens.authors.setdefault(name.surname, []).append((doc, name, author))
        for number, category in enumerate(paper.categories):
            tokens.categories.setdefault(category.casefold(), []).append(
                (doc, number == 0, category)
            )
    tokens.postings = dict(postings)  # read-only from here: a miss is a KeyError
    return tokens


def tokenise_all(papers: Sequence[Paper], workers: int) -> Tokens:
    """Tokens of all papers; with several workers, each tokenises a run of them (this
    process one, forked processes the others) and the runs are joined in order, so postings
    stay sorted by doc."""
    if workers <= 1 or len(papers) < _PARALLEL_FROM:
        return tokenise(papers, 0)
    size = -(-len(papers) // workers)
    starts = list(range(0, len(papers), size))

    def run_from(first: int) -> Tokens:
        return tokenise(papers[first : first + size], first)

    # the other runs go to forked workers; this process does the first one meanwhile
    later = start_workers(run_from, starts[1:], len(starts) - 1)
    tokens = run_from(0)
    parts: list[Tokens | None] = [None] * (len(starts) - 1)
    for outcome in later:
        if isinstance(outcome, Failed):  # e.g. a worker killed: do it here instead
            parts[outcome.position] = run_from(starts[1 + outcome.position])
        else:
            parts[outcome.position] = outcome.result
    for part in parts:
        assert part is not None
        tokens.extend(part)
    return tokens


def _new_posting() -> array[int]:
    return array("i")
