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
# Both looked up by a code point's low byte, for ASCII ones; the others are set apart after.
_ASCII_LETTER = np.array([bool(_LETTER.match(chr(c))) for c in range(128)] + [False] * 128)
_LOWER_ASCII = np.array([ord(chr(c).lower()) for c in range(128)] + [0x80] * 128, np.uint8)
# Joiners inside a chain, between two letters: hyphen, apostrophe, right single quote.
_HYPHEN, _APOSTROPHE, _QUOTE = ord("-"), ord("'"), ord("’")


@dataclass(frozen=True, slots=True)
class Tokens:
    """What indexing reads from a run of papers.

    `keys` numbers each folded word; `rows` holds every occurrence as a posting row in text
    order (doc, field, position); `order` lists the rows by word number, each word's in
    text order, and word k's are order[bounds[k]:bounds[k + 1]]. `lengths` is each paper's
    words per field (papers x fields). (The rows are not sorted by word themselves: a run
    reads the rows of a few hundred words, and gathering all of them costs more.)"""

    keys: dict[str, int]
    rows: Ints
    order: Ints
    bounds: list[int]
    lengths: Ints

    def rows_of(self, key: str) -> Ints:
        """One word's postings, in place order; KeyError for a word not in the papers."""
        number = self.keys[key]
        return self.rows[self.order[self.bounds[number] : self.bounds[number + 1]]]


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
    keys, rows, order, counts, lengths = _rows(segments, chains, len(papers))
    rows.flags.writeable = False
    order.flags.writeable = False
    bounds = [0, *np.cumsum(counts).tolist()]
    return Tokens(keys=keys, rows=rows, order=order, bounds=bounds, lengths=lengths)


def _rows(
    segments: _Segments, found: tuple[Ints, Ints, _Chains], papers: int
) -> tuple[dict[str, int], Ints, Ints, NDArray[np.int64], Ints]:
    """The words' numbers, their posting rows in text order, the rows' order by word (each
    word's in place order), how many rows each word has, and the field lengths (papers x
    fields), from the chains `found` in the segments' text."""
    starts, ends, chains = found
    keys, chain_key, chain_width, parts = _fold_chains(chains)
    # One row per chain: the word, or for a hyphen chain the closed compound ("pretraining"),
    # and for a hyphen chain also a row per part ("pre", "training") right after it. In
    # that text order, which is place order (doc, field, position), the rows' words ...
    width = chain_width[chains.numbers]
    hyphened = np.flatnonzero(width > 1)
    emitted = np.where(width > 1, width + 1, 1).astype(np.int32)
    at = np.cumsum(emitted, dtype=np.int32) - emitted  # where each chain's own row goes
    key = np.empty(int(emitted.sum()), dtype=np.int32)
    key[at] = chain_key[chains.numbers]
    owner = np.repeat(hyphened, width[hyphened])  # per part: its chain
    sizes = width[hyphened]
    nth = np.arange(owner.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    flat = parts.first[chains.numbers[owner]] + nth
    place = at[owner] + 1 + nth
    key[place] = parts.key[flat]
    # ... sorted stably (on 16-bit numbers when they fit: numpy sorts those by radix) give
    # the rows' order by word.
    by_word = np.argsort(key.astype(np.uint16) if len(keys) <= 1 << 16 else key, kind="stable")
    order: Ints = by_word.astype(np.int32)
    counts: NDArray[np.int64] = np.bincount(key, minlength=len(keys))
    del key
    # each chain's segment: segments and chains are both in text order
    firsts = np.searchsorted(starts, segments.starts)
    per_segment = np.diff(firsts, append=starts.size)
    seg = np.repeat(np.arange(per_segment.size, dtype=np.int32), per_segment)
    doc, field = segments.doc[seg], segments.field[seg]
    position, lengths = _positions(doc, field, width, papers)
    position += segments.gap[seg]
    start = starts - segments.starts[seg] + segments.base[seg]
    # Column by column, each written in order (one contiguous array a pass): rows are the
    # transpose, a view.
    columns = np.empty((STRIDE, order.size), dtype=np.int32)
    for column, values, part_values in (
        (DOC, doc, doc[owner]),
        (FIELD, field, field[owner]),
        (POSITION, position, position[owner] + nth),
        (WIDTH, width, 1),
        (START, start, start[owner] + parts.start[flat]),
        (END, ends - segments.starts[seg] + segments.base[seg], start[owner] + parts.end[flat]),
    ):
        columns[column, at] = values
        columns[column, place] = part_values
    return keys, columns.T, order, counts, lengths


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
    distinct: list[str]  # each chain's text once
    numbers: Ints  # per chain found, its number in `distinct`
    lowered: int = 0  # the first `lowered` of `distinct` are ASCII, lower-cased already


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


_LOOK_UP_BLOCK = 1 << 18  # bytes looked up at once


def _look_up(
    table: NDArray[Any], index: NDArray[np.uint8], out: NDArray[Any] | None = None
) -> NDArray[Any]:
    """table[index] for a table of 256 entries, into `out` if given. np.take is faster than
    indexing with an array, but widens the index to 64 bits first: a block at a time keeps
    that copy small (8 bytes a character otherwise: tens of MB for a day's text)."""
    found = np.empty(index.shape, dtype=table.dtype) if out is None else out
    for at in range(0, index.size, _LOOK_UP_BLOCK):
        cut = slice(at, at + _LOOK_UP_BLOCK)
        np.take(table, index[cut], out=found[cut], mode="clip")  # (never clips: uint8)
    return found


def _block_chains(
    text: str, ascii_bytes: NDArray[np.uint8]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The chains of one block (starts, ends); its characters written to `ascii_bytes`
    lower-cased, 0x80 for each that is not ASCII."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    low = codes.astype(np.uint8)
    # lower-cased: an ASCII word's folded form (chains are numbered by it), 0x80 for the
    # others, whose chains are numbered by a dict (_number_chains)
    _look_up(_LOWER_ASCII, low, out=ascii_bytes)
    letter = _look_up(_ASCII_LETTER, low)
    wide = np.flatnonzero(codes >= 128)
    if wide.size:
        ascii_bytes[wide] = 0x80
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


# The bytes of a lower-cased ASCII chain are letters, digits, "-" and "'" (39 symbols with the
# padding 0): 8 of them as one number below 39**8 < 2**43.
_BASE39_BITS = 43
_DIGIT = np.zeros(256, dtype=np.uint8)
_DIGIT[[0, *b"-'0123456789abcdefghijklmnopqrstuvwxyz"]] = np.arange(39, dtype=np.uint8)


def _base39(words: NDArray[np.uint64]) -> NDArray[np.int64]:
    """Each word of 8 chain bytes as one number below 2**43, distinct for distinct words."""
    digits = _look_up(_DIGIT, words.view(np.uint8)).reshape(-1, 8)
    number = digits[:, 7].astype(np.int64)
    for column in range(6, -1, -1):
        number *= 39
        number += digits[:, column]
    return number


def _dense_numbers(values: NDArray[np.int64], bits: int) -> tuple[NDArray[np.int64], Ints]:
    """Each of `values` (all below 2**bits) numbered by its rank among the distinct values,
    and one place of each distinct value, in rank order: np.unique's inverse and index
    without its argsort. Each value is sorted with its place in one 64-bit number, which
    numpy sorts several times faster than it argsorts."""
    place_bits = max(values.size - 1, 1).bit_length()
    if bits + place_bits > 64:
        _, index, inverse = np.unique(values, return_index=True, return_inverse=True)
        return inverse.astype(np.int64), index.astype(np.int32)
    # (in place where numpy allows: a day has hundreds of thousands of chains)
    shift = np.uint64(place_bits)
    packed = values.astype(np.uint64)
    packed <<= shift
    packed |= np.arange(values.size, dtype=np.uint64)
    packed.sort()
    value = packed >> shift
    new = np.empty(values.size, dtype=bool)
    new[:1] = True
    np.not_equal(value[1:], value[:-1], out=new[1:])
    del value
    rank = np.cumsum(new, dtype=np.int64)
    rank -= 1
    packed &= np.uint64((1 << place_bits) - 1)
    place = packed.view(np.int64)
    inverse = np.empty(values.size, dtype=np.int64)
    inverse[place] = rank
    del rank
    return inverse, place[new].astype(np.int32)


def _number_chains(text: str, padded: NDArray[np.uint8], starts: Ints, ends: Ints) -> _Chains:
    """Number the chains so that equal chains get equal numbers, densely, without a Python
    string per chain (a day has hundreds of thousands): only one per distinct chain.
    `padded` holds the text's ASCII bytes lower-cased (0x80 for any other character), then
    zeros: ASCII chains are numbered by their folded form, the others by their text."""
    lengths = ends - starts
    # every place's next 8 bytes as one integer: a strided view, no copy
    windows = np.ndarray((len(text) + 1,), dtype="<u8", buffer=padded, strides=(1,))
    numbers = np.full(starts.size, -1, dtype=np.int32)
    rows = np.flatnonzero(lengths <= 8 * _PACKED_WORDS)  # told apart so far, by `ids`
    ids = np.zeros(rows.size, dtype=np.int64)
    examples: list[NDArray[np.int64]] = []  # one chain of each number handed out
    space = 0  # numbers handed out so far
    for nth in range(_PACKED_WORDS):
        left = lengths[rows] - 8 * nth
        word = windows[starts[rows] + 8 * nth] & np.take(_LOW_BYTES, np.minimum(left, 8))
        ascii_only = (word & _HIGH_BITS) == 0
        rows, ids, word, left = (
            rows[ascii_only],
            ids[ascii_only],
            word[ascii_only],
            left[ascii_only],
        )
        code = _base39(word)
        if nth:  # chains alike so far and in this word
            word_ids, word_places = _dense_numbers(code, _BASE39_BITS)
            code = ids * len(word_places) + word_ids
        # chains that go on into the next word rank after those that end here, so the
        # ending ones are numbered 0, 1, ... among themselves
        going_on = left > 8
        bits = int(code.max(initial=0)).bit_length()
        ids, places = _dense_numbers(code | (going_on.astype(np.int64) << bits), bits + 1)
        ending = int(np.count_nonzero(~going_on[places]))
        numbers[rows[~going_on]] = space + ids[~going_on]
        examples.append(rows[places[:ending]])
        space += ending
        rows, ids = rows[going_on], ids[going_on] - ending
    count = space
    example = np.concatenate(examples)
    found = _ascii_words(padded, starts[example], ends[example])
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
    return _Chains([*found, *first], numbers, len(found))


def _ascii_words(padded: NDArray[np.uint8], starts: Ints, ends: Ints) -> list[str]:
    """The (ASCII, lower-cased) chains at `starts`:`ends` of `padded`, read as one string
    split at spaces: faster than a slice of the day's text per chain."""
    lengths = (ends - starts).astype(np.int64)
    offset = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    joined = np.full(len(offset) + len(lengths), ord(" "), dtype=np.uint8)
    joined[np.repeat(np.cumsum(lengths + 1) - (lengths + 1), lengths) + offset] = padded[
        np.repeat(starts.astype(np.int64), lengths) + offset
    ]
    return joined.tobytes().decode("ascii").split(" ")[: len(lengths)]


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
    lowered = distinct[: chains.lowered]  # their own folded forms (NFKD leaves ASCII alone)
    others = distinct[chains.lowered :]
    # An ASCII word folds by lower-casing; a word with other letters goes through `fold`.
    folded = [c.lower() if c.isascii() else None for c in others]
    other_keys = [
        (f if f is not None else fold(c))
        if "-" not in c
        else (f.replace("-", "") if f is not None else fold(c.replace("-", "")))
        for c, f in zip(others, folded, strict=True)
    ]
    # a chain's key is its folded form without hyphens ("pre-training" -> "pretraining"),
    # numbered in the order of the chains (then the parts'), each key once
    chain_keys = [c.replace("-", "") for c in lowered]
    chain_keys += other_keys
    keys = {key: number for number, key in enumerate(dict.fromkeys(chain_keys))}
    chain_key = np.fromiter(map(keys.__getitem__, chain_keys), np.int64, len(chain_keys))
    # hyphen chains: their numbers, surface parts and folded parts, in chain order
    hyphened = [n for n, c in enumerate(distinct) if "-" in c]
    surface = [distinct[n].split("-") for n in hyphened]
    pieces = [
        parts if n < chains.lowered else _folded_parts(parts)
        for n, parts in zip(hyphened, surface, strict=True)
    ]
    sizes = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
    widths = np.ones(len(distinct), dtype=np.int32)
    widths[hyphened] = sizes
    flat = [part for parts in pieces for part in parts]
    part_key = np.array([keys.setdefault(part, len(keys)) for part in flat], dtype=np.int64)
    # a part's place in its chain: the surface parts' lengths and a hyphen after each
    length = np.fromiter(
        (len(part) for parts in surface for part in parts), dtype=np.int64, count=len(flat)
    )
    firsts = np.cumsum(sizes) - sizes
    step = np.cumsum(length + 1) - (length + 1)
    part_start = step - np.repeat(step[firsts], sizes) if flat else step
    first = np.zeros(len(distinct), dtype=np.int64)
    first[hyphened] = firsts
    parts = _Parts(first, part_key, part_start, part_start + length)
    return keys, chain_key, widths, parts


def _folded_parts(parts: list[str]) -> list[str]:
    """The folded parts of a hyphen chain not lower-cased already (an ASCII chain folds by
    lower-casing)."""
    if "".join(parts).isascii():
        return [p.lower() for p in parts]
    return [fold(p) for p in parts]


def _positions(
    doc: Ints, field: Ints, width: NDArray[np.signedinteger[Any]], papers: int
) -> tuple[NDArray[np.int64], Ints]:
    """Each chain's word position in its field (the widths of the chains before it there),
    and each field's length in words (papers x fields): a hyphen chain counts its parts."""
    total = np.cumsum(width, dtype=np.int64)
    before: NDArray[np.int64] = total - width
    lengths = np.zeros(papers * len(TEXT_FIELDS), dtype=np.int32)
    if before.size:
        group = doc * len(TEXT_FIELDS) + field  # a field's chains are neighbours
        first = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1])))
        sizes = np.diff(np.concatenate((first, [group.size])))
        before -= np.repeat(before[first], sizes)
        lengths[group[first]] = total[first + sizes - 1] - total[first] + width[first]
    return before, lengths.reshape(papers, len(TEXT_FIELDS))


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
