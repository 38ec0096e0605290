"""Read a run of papers into what the index is built from: postings, field lengths, and the
authors and categories to look up.

Batch work, not a loop per word (a day holds hundreds of thousands of them): the day's
text is one array of code points, whose word chains numpy finds in one pass; each distinct
chain is folded once; postings are one matrix sorted by word. The words found, their places
and their keys are exactly those of `digest.textmatch.occurrences` on each field (see
`digest.rank.fields`), which stays the definition (tests compare the two).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from digest.models import Paper
from digest.rank.authornames import NameKey, name_key
from digest.rank.fields import KEYWORD_GAP, TEXT_FIELDS
from digest.textmatch import fold

Ints = NDArray[np.int32]

# A posting row: (doc, field, position, width, start, end).
STRIDE = 6
DOC, FIELD, POSITION, WIDTH, START, END = range(STRIDE)
_KEYWORDS = len(TEXT_FIELDS) - 1  # the field number of HF keywords (the last one)

# What the word pattern of digest.textmatch calls a letter or digit ([^\W_]), asked of the
# pattern itself one code point at a time: ASCII once here, others as a day's text has them.
_LETTER = re.compile(r"[^\W_]")
_ASCII_LETTER = np.array([bool(_LETTER.match(chr(c))) for c in range(128)] + [False])
# Joiners inside a chain, between two letters: hyphen, apostrophe, right single quote.
_HYPHEN, _APOSTROPHE, _QUOTE = ord("-"), ord("'"), ord("’")


@dataclass(frozen=True, slots=True)
class Tokens:
    """What indexing reads from a run of papers.

    `keys` numbers each folded word; `rows` holds every occurrence as a posting row, sorted
    by word number, then doc, field and position, and word k's rows are
    rows[bounds[k]:bounds[k + 1]]. `lengths` is each paper's words per field (papers x
    fields)."""

    keys: dict[str, int]
    rows: Ints
    bounds: list[int]
    lengths: Ints

    def rows_of(self, key: str) -> Ints:
        """One word's postings (a view, no copy); KeyError for a word not in the papers."""
        number = self.keys[key]
        return self.rows[self.bounds[number] : self.bounds[number + 1]]


@dataclass(frozen=True, slots=True)
class _Segments:
    """The day's text as one string of segments (a title, an abstract, one HF keyword),
    with what each segment is: its paper and field, where its text starts in the field's
    text (keywords are joined by ", "), and the positions its field skips before it."""

    text: str
    starts: Ints  # where each segment starts in `text`
    doc: Ints
    field: Ints
    base: Ints
    gap: Ints


# The texts last tokenised, and their tokens: a run counts the day's papers into the store
# as it stores them, then indexes the same papers read back (equal texts, in the same
# order), and tokenising them once is enough. One entry: a day's worth, not a growing cache.
_Texts = tuple[tuple[str, str, tuple[str, ...]], ...]
_last: tuple[_Texts, Tokens] | None = None


def tokenise(papers: Sequence[Paper]) -> Tokens:
    """Tokens of `papers`, numbered from 0 in their order. Tokens are read-only, so papers
    with the texts of the last call share that call's tokens."""
    global _last
    texts = tuple((p.title, p.abstract, p.hf.ai_keywords if p.hf else ()) for p in papers)
    last = _last
    if last is not None and last[0] == texts:
        return last[1]
    tokens = _tokenise(papers)
    _last = (texts, tokens)
    return tokens


def _tokenise(papers: Sequence[Paper]) -> Tokens:
    segments = _segments(papers)
    chains = _chains(segments.text)
    # The chains are read: the day's text goes before the per-chain arrays are made (it is
    # 4 bytes a character once one character lies beyond the BMP: 7 MB for 1,500 papers).
    segments = replace(segments, text="")
    keys, rows, key, lengths = _unsorted_rows(segments, chains, len(papers))
    del segments, chains  # (memory for the sort below)
    # By word, each word's rows in place order: a stable sort of rows already in place order
    # (on 16-bit numbers when they fit: numpy sorts those by radix).
    order = np.argsort(key.astype(np.uint16) if len(keys) <= 1 << 16 else key, kind="stable")
    rows = np.take(rows, order, axis=0)  # (a row gather: faster than rows[order])
    rows.flags.writeable = False
    counts = np.bincount(key, minlength=len(keys))
    return Tokens(keys=keys, rows=rows, bounds=[0, *np.cumsum(counts).tolist()], lengths=lengths)


def _unsorted_rows(
    segments: _Segments, found: tuple[Ints, Ints, _Chains], papers: int
) -> tuple[dict[str, int], Ints, Ints, Ints]:
    """The words' numbers, their posting rows in text order and each row's word, and the
    field lengths (papers x fields), from the chains `found` in the segments' text. A
    function of its own: its per-chain arrays are gone before the rows are sorted."""
    starts, ends, chains = found
    keys, chain_key, chain_width, parts = _fold_chains(chains)
    # one row per chain: the word, or for a hyphen chain the closed compound ("pretraining")
    seg = (np.searchsorted(segments.starts, starts, side="right") - 1).astype(np.int32)
    doc, field = segments.doc[seg], segments.field[seg]
    width = chain_width[chains.numbers]
    position = (_positions(doc, field, width) + segments.gap[seg]).astype(np.int32)
    start = starts - segments.starts[seg] + segments.base[seg]
    # ... and for a hyphen chain, also a row per part ("pre", "training"), right after it:
    # the rows stay in text order, which is place order (doc, field, position)
    hyphened = np.flatnonzero(width > 1)
    emitted = np.where(width > 1, width + 1, 1).astype(np.int32)
    at = np.cumsum(emitted, dtype=np.int32) - emitted  # where each chain's own row goes
    rows = np.empty((int(emitted.sum()), STRIDE), dtype=np.int32)
    key = np.empty(len(rows), dtype=np.int32)
    for column, values in (
        (DOC, doc),
        (FIELD, field),
        (POSITION, position),
        (WIDTH, width),
        (START, start),
        (END, ends - segments.starts[seg] + segments.base[seg]),
    ):
        rows[at, column] = values
    key[at] = chain_key[chains.numbers]
    if hyphened.size:
        owner = np.repeat(hyphened, width[hyphened])
        sizes = width[hyphened]
        nth = np.arange(owner.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        flat = parts.first[chains.numbers[owner]] + nth
        place = at[owner] + 1 + nth
        for column, values in (
            (DOC, doc[owner]),
            (FIELD, field[owner]),
            (POSITION, position[owner] + nth),
            (WIDTH, np.ones(owner.size, dtype=np.int64)),
            (START, start[owner] + parts.start[flat]),
            (END, start[owner] + parts.end[flat]),
        ):
            rows[place, column] = values
        key[place] = parts.key[flat]
    # a field's length in words: a hyphen chain counts its parts
    lengths = np.bincount(
        doc * len(TEXT_FIELDS) + field, weights=width, minlength=papers * len(TEXT_FIELDS)
    )
    return keys, rows, key, lengths.astype(np.int32).reshape(papers, len(TEXT_FIELDS))


def _segments(papers: Sequence[Paper]) -> _Segments:
    texts: list[str] = []
    doc: list[int] = []
    field: list[int] = []
    base: list[int] = []
    gap: list[int] = []
    for number, paper in enumerate(papers):
        texts += (paper.title, paper.abstract)
        doc += (number, number)
        field += (0, 1)
        base += (0, 0)
        gap += (0, 0)
        keywords = paper.hf.ai_keywords if paper.hf else ()
        offset = 0
        for nth, keyword in enumerate(keywords):
            texts.append(keyword)
            doc.append(number)
            field.append(_KEYWORDS)
            base.append(offset)
            gap.append(KEYWORD_GAP * nth)  # words of two keywords never make a phrase
            offset += len(keyword) + 2  # ", "
    lengths = np.fromiter(map(len, texts), dtype=np.int32, count=len(texts)) + 1
    starts = np.cumsum(lengths, dtype=np.int32) - lengths
    return _Segments(
        # a line break between segments: no chain runs across it
        "\n".join(texts),
        starts,
        np.array(doc, dtype=np.int32),
        np.array(field, dtype=np.int32),
        np.array(base, dtype=np.int32),
        np.array(gap, dtype=np.int32),
    )


@dataclass(frozen=True, slots=True)
class _Chains:
    distinct: list[str]  # each chain's text once, in order of first appearance
    numbers: Ints  # per chain found, its number in `distinct`


def _chains(text: str) -> tuple[Ints, Ints, _Chains]:
    """Where the word chains of textmatch.CHAIN_RE are in `text` (starts, ends) and what
    they say. A chain is a run of letters and digits, with single hyphens and apostrophes
    inside it (each between two letters or digits)."""
    # A block of text at a time (cut at line breaks, which no chain crosses): the arrays per
    # character stay small, and so does the peak memory of a day's millions of characters.
    padded = np.zeros(len(text) + 8 * _PACKED_WORDS, dtype=np.uint8)
    # (32 bits per chain, made so block by block: a day has hundreds of thousands of chains,
    # and its text is far shorter than 2**31 characters)
    starts: list[Ints] = []
    ends: list[Ints] = []
    block = 0
    while block < len(text):
        cut = text.find("\n", block + _BLOCK)
        cut = len(text) if cut < 0 else cut
        found_starts, found_ends = _block_chains(text[block:cut], padded[block:cut])
        starts.append((found_starts + block).astype(np.int32))
        ends.append((found_ends + block).astype(np.int32))
        block = cut
    all_starts = np.concatenate(starts) if starts else np.zeros(0, np.int32)
    all_ends = np.concatenate(ends) if ends else np.zeros(0, np.int32)
    del starts, ends
    return all_starts, all_ends, _number_chains(text, padded, all_starts, all_ends)


_BLOCK = 1 << 18  # characters


def _block_chains(
    text: str, ascii_bytes: NDArray[np.uint8]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The chains of one block (starts, ends); its characters written to `ascii_bytes`,
    0x80 for each that is not ASCII."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    ascii_bytes[:] = codes
    letter = _ASCII_LETTER[np.minimum(codes, 128)]
    wide = np.flatnonzero(codes >= 128)
    if wide.size:
        ascii_bytes[wide] = 0x80  # its chain is numbered by a dict (_number_chains)
        distinct, which = np.unique(codes[wide], return_inverse=True)
        is_letter = np.array([bool(_LETTER.match(chr(c))) for c in distinct.tolist()])
        letter[wide] = is_letter[which]
    joiner = (codes == _HYPHEN) | (codes == _APOSTROPHE) | (codes == _QUOTE)
    inside = letter.copy()
    inside[1:-1] |= joiner[1:-1] & letter[:-2] & letter[2:]
    edge = np.zeros(1, dtype=np.int8)  # (int8: a block is a quarter million long)
    edges = np.diff(np.concatenate((edge, inside.view(np.int8), edge)))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


# An ASCII chain's bytes, read 8 at a time as little-endian integers and cut to its length,
# tell it from every other chain: chains up to _PACKED_WORDS * 8 long are numbered so by numpy,
# the rest (longer, or not ASCII) by a dict.
_PACKED_WORDS = 4
_LOW_BYTES = np.array([(1 << (8 * n)) - 1 for n in range(9)], dtype=np.uint64)
_HIGH_BITS = np.uint64(0x8080808080808080)


def _number_chains(text: str, padded: NDArray[np.uint8], starts: Ints, ends: Ints) -> _Chains:
    """Number the chains so that equal chains get equal numbers, densely, without a Python
    string per chain (a day has hundreds of thousands): only one per distinct chain.
    `padded` holds the text's ASCII bytes (0x80 for any other character), then zeros."""
    lengths = ends - starts
    # every place's next 8 bytes as one integer: a strided view, no copy
    windows = np.ndarray((len(text) + 1,), dtype="<u8", buffer=padded, strides=(1,))
    numbers = np.full(starts.size, -1, dtype=np.int32)
    rows = np.flatnonzero(lengths <= 8 * _PACKED_WORDS)  # told apart so far, by `ids`
    ids = np.zeros(rows.size, dtype=np.int64)
    space = 0  # numbers handed out so far (sparse: made dense below)
    for nth in range(_PACKED_WORDS):
        left = lengths[rows] - 8 * nth
        word = windows[starts[rows] + 8 * nth] & _LOW_BYTES[np.minimum(left, 8)]
        ascii_only = (word & _HIGH_BITS) == 0
        rows, ids, word, left = (
            rows[ascii_only],
            ids[ascii_only],
            word[ascii_only],
            left[ascii_only],
        )
        words, word_ids = np.unique(word, return_inverse=True)
        if nth:  # chains alike so far and in this word
            distinct, ids = np.unique(ids * len(words) + word_ids, return_inverse=True)
        else:
            distinct, ids = words, word_ids
        done = left <= 8
        numbers[rows[done]] = space + ids[done]
        space += len(distinct)
        rows, ids = rows[~done], ids[~done]
    packed = np.flatnonzero(numbers >= 0)
    used = np.zeros(space, dtype=bool)
    used[numbers[packed]] = True
    numbers[packed] = (np.cumsum(used) - 1)[numbers[packed]]
    count = int(used.sum())
    example = np.empty(count, dtype=np.int64)
    example[numbers[packed]] = packed  # one occurrence of each (any: they are the same)
    found = [
        text[s:e] for s, e in zip(starts[example].tolist(), ends[example].tolist(), strict=True)
    ]
    # the rest, numbered after the packed ones as they first appear
    other = np.flatnonzero(numbers < 0)
    first: dict[str, int] = {}
    others = [text[s:e] for s, e in zip(starts[other].tolist(), ends[other].tolist(), strict=True)]
    at_first = np.fromiter(
        map(first.setdefault, others, itertools.count()), dtype=np.int64, count=len(others)
    )
    dense = np.zeros(len(others), dtype=np.int64)
    dense[list(first.values())] = np.arange(count, count + len(first))
    numbers[other] = dense[at_first]
    return _Chains([*found, *first], numbers)


@dataclass(frozen=True, slots=True)
class _Parts:
    """The parts of every distinct hyphen chain, flat: a chain's parts start at first[c]."""

    first: NDArray[np.int64]
    key: NDArray[np.int64]
    start: NDArray[np.int64]  # char offsets in the chain
    end: NDArray[np.int64]


def _fold_chains(
    chains: _Chains,
) -> tuple[dict[str, int], NDArray[np.int64], Ints, _Parts]:
    """Number the folded words; per distinct chain, its key (a hyphen chain's is the closed
    compound) and width in words; and the parts of hyphen chains, flat."""
    distinct = chains.distinct
    keys: dict[str, int] = {}
    # An ASCII word folds by lower-casing (NFKD and accents leave it alone): the common case,
    # done in comprehensions; a word with other letters goes through `fold`.
    folded = [c.lower() if c.isascii() else None for c in distinct]
    pieces = [
        (f.split("-") if f is not None else [fold(p) for p in c.split("-")]) if "-" in c else None
        for c, f in zip(distinct, folded, strict=True)
    ]
    chain_key = [
        keys.setdefault(
            (f if f is not None else fold(c))
            if parts is None
            else (f.replace("-", "") if f is not None else fold(c.replace("-", ""))),
            len(keys),
        )
        for c, f, parts in zip(distinct, folded, pieces, strict=True)
    ]
    widths = [1 if parts is None else len(parts) for parts in pieces]
    hyphened = [parts for parts in pieces if parts is not None]
    flat = [part for parts in hyphened for part in parts]
    part_key = np.array([keys.setdefault(part, len(keys)) for part in flat], dtype=np.int64)
    # a part's place in its chain: the surface parts' lengths and a hyphen after each
    surface = [part for c, p in zip(distinct, pieces, strict=True) if p for part in c.split("-")]
    length = np.fromiter(map(len, surface), dtype=np.int64, count=len(surface))
    sizes = np.fromiter(map(len, hyphened), dtype=np.int64, count=len(hyphened))
    firsts = np.cumsum(sizes) - sizes
    step = np.cumsum(length + 1) - (length + 1)
    part_start = step - np.repeat(step[firsts], sizes) if flat else step
    first = np.zeros(len(distinct), dtype=np.int64)
    first[[n for n, p in enumerate(pieces) if p is not None]] = firsts
    parts = _Parts(first, part_key, part_start, part_start + length)
    return keys, np.array(chain_key, dtype=np.int64), np.array(widths, dtype=np.int32), parts


def _positions(doc: Ints, field: Ints, width: NDArray[np.signedinteger[Any]]) -> NDArray[np.int64]:
    """Each chain's word position in its field: the widths of the chains before it there."""
    before: NDArray[np.int64] = np.cumsum(width, dtype=np.int64) - width
    if not before.size:
        return before
    group = doc * len(TEXT_FIELDS) + field
    first = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1])))
    sizes = np.diff(np.concatenate((first, [group.size])))
    result: NDArray[np.int64] = before - np.repeat(before[first], sizes)
    return result


def author_table(papers: Sequence[Paper]) -> dict[str, list[tuple[int, NameKey, str]]]:
    """Surname -> (doc, name, the name as spelled) of every author of `papers`; each
    distinct spelling is read once (a day repeats many names)."""
    keys: dict[str, NameKey | None] = {}
    authors: dict[str, list[tuple[int, NameKey, str]]] = {}
    for doc, paper in enumerate(papers):
        for author in paper.authors:
            if author not in keys:
                keys[author] = name_key(author)
            name = keys[author]
            if name:
                authors.setdefault(name.surname, []).append((doc, name, author))
    return authors


def category_table(papers: Sequence[Paper]) -> dict[str, list[tuple[int, bool, str]]]:
    """Folded category -> (doc, is primary, the category as spelled)."""
    categories: dict[str, list[tuple[int, bool, str]]] = {}
    for doc, paper in enumerate(papers):
        for number, category in enumerate(paper.categories):
            categories.setdefault(category.casefold(), []).append((doc, number == 0, category))
    return categories
