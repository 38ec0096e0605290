"""Score the day's papers against a profile, and say why each one scored.

How a score is made (scores are absolute, so a `min_score` means the same every day):

- Each keyword contributes ``weight * idf * tf' * (K1 + 1) / (tf' + K1)`` (BM25F), where
  ``tf'`` adds up its occurrences per field, boosted (title > HF keywords > abstract) and
  normalised by field length against the background average. ``idf`` comes from the
  background corpus (a rolling window of recent papers) so that "model" weighs little and
  "Schrödinger bridge" a lot; without a background the day's papers are used.
  Roughly: a distinctive word once in the abstract is worth 3-4, in the title 8-10; a word
  found in most papers ("model") well under 1. A `min_score` of 2-3 keeps passing mentions out.
- A followed author adds AUTHOR_BONUS: their papers reach the digest on their own.
- Profile categories add CATEGORY_BONUS (half for a cross-list) to papers that matched a
  keyword or author; a profile without keywords selects papers by category alone.
  With `require_categories`, papers outside those categories are dropped.
- Hugging Face upvotes add ``popularity_weight * ln(1 + upvotes)`` to papers that matched.
- Any exclusion phrase in the title, abstract or HF keywords removes the paper.

The index is built once per run and shared by every subscriber; what a keyword matches is
computed on first use and cached in the index as numpy arrays (the papers it hits, their
scores, the matched spans). A profile is then scored by concatenating its keywords' arrays
and summing per paper, so ranking costs grow with the matches of a profile's keywords, not
with the number of papers, and run in numpy rather than the interpreter.

`rank_top(index, profile, limit=k)` is what a digest needs: the k best papers explained and
the number that matched. It scores every candidate as a plain float and builds the
explanations (Ranked, Match spans) only for those k; `rank()` is `rank_top` without a
limit, for callers that want every match explained.
"""

from __future__ import annotations

import math
import operator
from array import array
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from digest.models import Field, Match, Paper, Profile, Ranked, Term
from digest.rank.authornames import NameKey, name_key
from digest.textmatch import (
    CompiledTerm,
    WordPattern,
    compile_term,
    exact_surface_matches,
    fold,
    occurrences,
    stem,
)
from digest.util.forkmap import Failed, start_workers

K1 = 2.0  # saturation: chosen on the evaluation set (1.2-3.0 all within 0.02 nDCG)
# Field boost and length-normalisation strength (b): titles are short and say what a paper
# is about; AI keywords are a curated summary; abstracts are long and wander.
TEXT_FIELDS: tuple[Field, ...] = (Field.TITLE, Field.ABSTRACT, Field.KEYWORDS)
FIELD_BOOST: Mapping[Field, float] = MappingProxyType(
    {Field.TITLE: 3.0, Field.ABSTRACT: 1.0, Field.KEYWORDS: 1.5}
)
FIELD_B: Mapping[Field, float] = MappingProxyType(
    {Field.TITLE: 0.3, Field.ABSTRACT: 0.75, Field.KEYWORDS: 0.3}
)
AUTHOR_BONUS = 8.0
CATEGORY_BONUS = 1.0
CROSS_LIST_FACTOR = 0.5
# Words of different HF keywords must not form a phrase together.
_KEYWORD_GAP = 2
# Postings are flat C-int arrays of (doc, field, position, width, start, end) rows, read in
# place as numpy int32 matrices.
_STRIDE = 6
_DOC, _FIELD, _POSITION, _WIDTH, _START, _END = range(_STRIDE)
assert array("i").itemsize == 4, "postings are read as int32"
Ints = NDArray[np.int32]
Floats = NDArray[np.float64]
_NO_INTS: Ints = np.empty(0, dtype=np.int32)
_NO_FLOATS: Floats = np.empty(0, dtype=np.float64)
_POINTS = operator.itemgetter(0)
_TRUE = np.ones(1, dtype=bool)


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


def _field_occurrences(paper: Paper, which: Field) -> Iterable[tuple[str, int, int, int, int]]:
    # the tokeniser's own generator for plain fields: indexing walks a million of these
    if which is not Field.KEYWORDS:
        return occurrences(field_text(paper, which))
    return _keyword_occurrences(paper.hf.ai_keywords if paper.hf else ())


def _keyword_occurrences(keywords: Sequence[str]) -> Iterable[tuple[str, int, int, int, int]]:
    position, offset = 0, 0
    for keyword in keywords:
        last = position
        for key, pos, width, start, end in occurrences(keyword, position):
            last = max(last, pos + width)
            yield key, pos, width, start + offset, end + offset
        position = last + _KEYWORD_GAP
        offset += len(keyword) + 2  # ", "


# --- Background statistics ----------------------------------------------------------------


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
    doc_freq: dict[str, int] = {}
    totals = dict.fromkeys(TEXT_FIELDS, 0)
    documents = 0
    for paper in papers:
        documents += 1
        stems: set[str] = set()
        for which in TEXT_FIELDS:
            for key, _pos, width, _start, _end in _field_occurrences(paper, which):
                stems.add(stem(key))
                totals[which] += width == 1
        for s in stems:
            doc_freq[s] = doc_freq.get(s, 0) + 1
    avg = {f.value: totals[f] / documents if documents else 0.0 for f in TEXT_FIELDS}
    return CorpusStats(documents, doc_freq, avg)


# --- The index ----------------------------------------------------------------------------

# A paper's highlighted spans for one keyword: per field, in display order (title first).
FieldSpans = tuple[tuple[Field, tuple[tuple[int, int], ...]], ...]


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
    rows: array[int]  # _ROW ints per span: doc, field number, start char, end char
    row_docs: array[int]  # the doc of each row, to find a paper's rows by bisection
    _shown: dict[tuple[int, str, str], tuple[Match, ...]] = field(default_factory=dict, repr=False)

    def spans_of(self, doc: int) -> FieldSpans:
        """The highlighted spans in `doc`, per field in display order (title first)."""
        first, last = bisect_left(self.row_docs, doc), bisect_right(self.row_docs, doc)
        rows = self.rows
        by_field: dict[int, list[tuple[int, int]]] = {}
        for r in range(first * _ROW, last * _ROW, _ROW):
            by_field.setdefault(rows[r + 1], []).append((rows[r + 2], rows[r + 3]))
        ordered = sorted((_FIELD_RANK[f], tuple(spans)) for f, spans in by_field.items())
        return tuple((_FIELD_BY_RANK[rank], spans) for rank, spans in ordered)

    def matches_in(self, doc: int, text: str, topic: str) -> tuple[Match, ...]:
        """The Matches to show for `doc`, one per field; remembered, since a popular paper is
        shown to many subscribers who share a keyword."""
        key = (doc, text, topic)
        shown = self._shown.get(key)
        if shown is None:
            spans = self.spans_of(doc)
            shown = self._shown[key] = tuple(Match(text, f, topic, s) for f, s in spans)
        return shown


_NO_HITS = TermHits(_NO_INTS, _NO_FLOATS, array("i"), array("i"))
_ROW = 4


@dataclass(frozen=True, slots=True, eq=False)
class _Occurrences:
    """The text words one word pattern matches: rows (doc, field, position, width, start,
    end) sorted by place, and each row's `_place` number for bisection."""

    rows: Ints
    places: NDArray[np.int64]


_NO_ROWS: Ints = np.empty((0, _STRIDE), dtype=np.int32)


@dataclass(frozen=True, slots=True, eq=False)
class CategoryHits:
    """Papers in a profile's categories -> (is primary, category), and the bonus each earns
    (also as sorted arrays, for scoring)."""

    docs: Mapping[int, tuple[bool, str]]
    bonus_docs: Ints
    bonus: Floats


@dataclass(slots=True)
class _Tokens:
    """What indexing reads from a run of papers: the postings of every word (flat rows of
    (doc, field, position, width, start, end)), each paper's field lengths in words, and
    its authors and categories for look-up."""

    postings: dict[str, array[int]] = field(default_factory=dict)
    lengths: list[tuple[int, int, int]] = field(default_factory=list)
    authors: dict[str, list[tuple[int, NameKey, str]]] = field(default_factory=dict)
    categories: dict[str, list[tuple[int, bool, str]]] = field(default_factory=dict)

    def extend(self, later: _Tokens) -> None:
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


def _tokenise(papers: Sequence[Paper], first_doc: int) -> _Tokens:
    """Tokens of `papers`, numbered from `first_doc`. The index's hot loop: a million
    words a day, so it reaches for the posting lists directly."""
    postings: defaultdict[str, array[int]] = defaultdict(_new_posting)
    tokens = _Tokens()
    for doc, paper in enumerate(papers, start=first_doc):
        lengths = []
        for field_no, which in enumerate(TEXT_FIELDS):
            words = 0
            for key, pos, width, start, end in _field_occurrences(paper, which):
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


# Splitting the tokenising across processes pays for the result's trip back only from
# about this many papers.
_PARALLEL_FROM = 1000


def _tokenise_all(papers: Sequence[Paper], workers: int) -> _Tokens:
    """Tokens of all papers; with several workers, each tokenises a run of them (this
    process one, forked processes the others) and the runs are joined in order, so postings
    stay sorted by doc."""
    if workers <= 1 or len(papers) < _PARALLEL_FROM:
        return _tokenise(papers, 0)
    size = -(-len(papers) // workers)
    starts = list(range(0, len(papers), size))

    def run_from(first: int) -> _Tokens:
        return _tokenise(papers[first : first + size], first)

    # the other runs go to forked workers; this process does the first one meanwhile
    later = start_workers(run_from, starts[1:], len(starts) - 1)
    tokens = run_from(0)
    parts: list[_Tokens | None] = [None] * (len(starts) - 1)
    for outcome in later:
        if isinstance(outcome, Failed):  # e.g. a worker killed: do it here instead
            parts[outcome.position] = run_from(starts[1 + outcome.position])
        else:
            parts[outcome.position] = outcome.result
    for part in parts:
        assert part is not None
        tokens.extend(part)
    return tokens


class PaperIndex:
    """An inverted index over one run's papers. Build with `build_index`; read-only after.

    The only state that changes is the caches of keyword and author look-ups, which are
    pure functions of the index: sharing one index across all subscribers is what makes
    ranking thousands of profiles cheap.
    """

    def __init__(self, papers: Sequence[Paper], stats: CorpusStats, *, workers: int = 1) -> None:
        self.papers: tuple[Paper, ...] = tuple(papers)
        self.stats = stats
        self.ordinal: dict[str, int] = {p.id: i for i, p in enumerate(self.papers)}
        tokens = _tokenise_all(self.papers, workers)
        self._postings = tokens.postings
        self._lengths = tokens.lengths
        self._authors = tokens.authors
        self._categories = tokens.categories
        self._keys_sorted = sorted(self._postings)
        self._keys_by_stem: dict[str, list[str]] = {}
        for key in self._keys_sorted:
            self._keys_by_stem.setdefault(stem(key), []).append(key)
        self._term_cache: dict[tuple[str, bool], TermHits] = {}
        self._prefix_keys: dict[str, list[str]] = {}
        self._occurrence_cache: dict[WordPattern, Ints] = {}
        self._follower_cache: dict[WordPattern, _Occurrences] = {}
        self._among_ids: frozenset[str] | None = None  # see `among`
        self._among_mask: NDArray[np.bool_] | None = None
        self._compiled_cache: dict[CompiledTerm, TermHits] = {}
        self._author_cache: dict[str, dict[int, str]] = {}
        self._category_cache: dict[str, dict[int, tuple[bool, str]]] = {}
        self._categories_cache: dict[tuple[str, ...], CategoryHits] = {}
        # What every keyword look-up needs per paper, worked out once: per field its boost
        # over its length normalisation, as a (field, paper) matrix ...
        lengths = np.array(self._lengths, dtype=np.float64).reshape(-1, len(TEXT_FIELDS)).T
        self._field_weight: Floats = np.stack(
            [self._field_weights(n, f, lengths[n]) for n, f in enumerate(TEXT_FIELDS)]
        )
        # ... and the paper ids, their sort order (ties in score go by id), and ln(1 + upvotes)
        self.ids: tuple[str, ...] = tuple(p.id for p in self.papers)
        id_order = sorted(range(len(self.ids)), key=self.ids.__getitem__)
        self._id_rank = [0] * len(self.ids)
        for position, doc in enumerate(id_order):
            self._id_rank[doc] = position
        self._log_upvotes: Floats = np.array(
            [math.log1p(p.hf.upvotes) if p.hf and p.hf.upvotes > 0 else 0.0 for p in self.papers],
            dtype=np.float64,
        )

    def _field_weights(self, number: int, which: Field, lengths: Floats) -> Floats:
        """What one occurrence in this field counts towards tf', paper by paper."""
        fixed = 1.0 - FIELD_B[which]
        slope = FIELD_B[which] / max(self.stats.avg_length.get(which.value, 0.0), 1.0)
        weights: Floats = FIELD_BOOST[which] / (fixed + slope * lengths)
        return weights

    # --- keywords -------------------------------------------------------------------------

    def term_hits(self, term: Term) -> TermHits:
        cache_key = (term.text, term.case_sensitive)
        hits = self._term_cache.get(cache_key)
        if hits is None:
            compiled = compile_term(term.text, term.case_sensitive)
            # "galaxy" and "galaxies" compile alike: share one result, so rank() can tell
            hits = self._compiled_cache.get(compiled)
            if hits is None:
                hits = self._compiled_cache[compiled] = self._match_term(compiled)
            self._term_cache[cache_key] = hits
        return hits

    def _keys_for(self, pattern: WordPattern) -> list[str]:
        if pattern.kind == "stem":
            return self._keys_by_stem.get(pattern.value, [])
        if pattern.kind == "prefix":
            found = self._prefix_keys.get(pattern.value)
            if found is None:
                keys = self._keys_sorted
                i = bisect_left(keys, pattern.value)
                found = self._prefix_keys[pattern.value] = []
                while i < len(keys) and keys[i].startswith(pattern.value):
                    found.append(keys[i])
                    i += 1
            return found
        folded = fold(pattern.value)
        return [k for k in (folded, folded + "s") if k in self._postings]

    def _pattern_idf(self, pattern: WordPattern) -> float:
        if pattern.kind == "prefix":
            stems = {stem(k) for k in self._keys_for(pattern)} or {pattern.value}
            return min(self.stats.idf(s) for s in stems)
        if pattern.kind == "exact":
            return self.stats.idf(stem(fold(pattern.value)))
        return self.stats.idf(pattern.value)

    def _term_idf(self, compiled: CompiledTerm) -> float:
        # A phrase is rarer than its rarest word, but not as rare as all its words at once.
        idfs = sorted((self._pattern_idf(p) for p in compiled.alternatives[0]), reverse=True)
        return idfs[0] + 0.5 * sum(idfs[1:])

    def _posting(self, key: str) -> Ints:
        """One key's postings as a (rows, 6) matrix, read in place (no copy)."""
        return np.frombuffer(self._postings[key], dtype=np.int32).reshape(-1, _STRIDE)

    def _occurrences_of(self, pattern: WordPattern) -> Ints:
        """Rows (doc, field, position, width, start, end) of every text word the pattern
        matches; worked out once per pattern, since popular words recur in many keywords
        ("model" in a hundred phrases)."""
        found = self._occurrence_cache.get(pattern)
        if found is None:
            found = self._occurrence_cache[pattern] = self._find_occurrences(pattern)
        return found

    def _find_occurrences(self, pattern: WordPattern) -> Ints:
        keys = self._keys_for(pattern)
        if not keys:
            return _NO_ROWS
        if len(keys) == 1:
            rows = self._posting(keys[0])
        else:
            rows = np.concatenate([self._posting(key) for key in keys])
        if pattern.kind == "prefix":
            # "quantiz*" should light up "Quantization", not "...-aware"
            rows = rows[rows[:, _WIDTH] == 1]
        elif pattern.kind == "exact":
            same = [self._same_case(pattern.value, row) for row in rows.tolist()]
            rows = rows[np.array(same, dtype=bool)]
        return rows

    def _followers(self, pattern: WordPattern) -> _Occurrences:
        """The pattern's occurrences sorted by place, to continue a phrase with."""
        found = self._follower_cache.get(pattern)
        if found is None:
            rows = self._occurrences_of(pattern)
            places = _place(rows[:, _DOC], rows[:, _FIELD], rows[:, _POSITION])
            if len(self._keys_for(pattern)) > 1:  # one posting list is in place order already
                order = np.argsort(places, kind="stable")
                rows, places = rows[order], places[order]
            found = self._follower_cache[pattern] = _Occurrences(rows, places)
        return found

    def _same_case(self, wanted: str, row: list[int]) -> bool:
        doc, field_no, _pos, _width, start, end = row
        surface = field_text(self.papers[doc], TEXT_FIELDS[field_no])[start:end]
        return exact_surface_matches(wanted, surface.replace("-", ""))

    def _match_sequence(self, sequence: tuple[WordPattern, ...]) -> Ints:
        """Rows (doc, field, start char, end char) of each place the word sequence occurs,
        in place order."""
        first = self._occurrences_of(sequence[0])
        if len(sequence) == 1:
            return first[:, [_DOC, _FIELD, _START, _END]]
        # Extend partial matches word by word: a partial match is (doc, field, start char)
        # of its first word and the position and end char of its last word.
        doc, field_no, start = first[:, _DOC], first[:, _FIELD], first[:, _START]
        last_end, after = first[:, _END], first[:, _POSITION] + first[:, _WIDTH]
        for pattern in sequence[1:]:
            if not doc.size:
                break
            following = self._followers(pattern)
            wanted = _place(doc, field_no, after)
            low = np.searchsorted(following.places, wanted, "left")
            count = np.searchsorted(following.places, wanted, "right") - low
            if count.max(initial=0) <= 1:  # the usual case: at most one word at a place
                which = np.flatnonzero(count)
                nxt = low[which]
            else:  # several words at one place: each continues the partial match
                which = np.repeat(np.arange(len(wanted)), count)
                nth = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
                nxt = np.repeat(low, count) + nth
            rows = following.rows[nxt]
            doc, field_no, start = doc[which], field_no[which], start[which]
            last_end, after = rows[:, _END], rows[:, _POSITION] + rows[:, _WIDTH]
        return np.stack([doc, field_no, start, last_end], axis=1).astype(np.int32, copy=False)

    def _match_term(self, compiled: CompiledTerm) -> TermHits:
        found = [self._match_sequence(sequence) for sequence in compiled.alternatives]
        found = [rows for rows in found if rows.size]  # a closed form often finds nothing
        if not found:
            return _NO_HITS
        rows = found[0] if len(found) == 1 else np.concatenate(found)
        if not self._is_one_word(compiled):
            # several spellings, or a phrase and its closed form: sort by doc, field, start,
            # end (lexsort's last key sorts first), and join spans that matched the same words
            rows = _merge_overlaps(
                rows[np.lexsort((rows[:, 3], rows[:, 2], rows[:, 1], rows[:, 0]))]
            )
        row_docs = np.ascontiguousarray(rows[:, 0])
        # tf' per paper: each occurrence counts its field's boost over the length norm
        weights = self._field_weight[rows[:, 1], row_docs]
        firsts = np.flatnonzero(np.concatenate((_TRUE, row_docs[1:] != row_docs[:-1])))
        tf = np.add.reduceat(weights, firsts)
        saturation = self._term_idf(compiled) * (K1 + 1.0)
        return TermHits(
            docs=row_docs[firsts],
            scores=saturation * tf / (tf + K1),
            rows=_c_ints(rows),
            row_docs=_c_ints(row_docs),
        )

    def _is_one_word(self, compiled: CompiledTerm) -> bool:
        """True if the term matches one spelling of one word: its matches are the rows of
        a single posting list, already sorted and never overlapping."""
        (first, *others) = compiled.alternatives
        return not others and len(first) == 1 and len(self._keys_for(first[0])) == 1

    # --- the papers a caller allows ------------------------------------------------------

    def among(self, ids: Collection[str], docs: Ints) -> NDArray[np.bool_]:
        """Which of `docs` have their id in `ids`. A caller ranking many profiles against
        one frozenset (the same object, so it cannot have changed) gets a mask over all
        papers, built on its second use; other collections are checked paper by paper,
        only for `docs`."""
        if isinstance(ids, frozenset) and ids is self._among_ids:
            if self._among_mask is None:
                ordinal = self.ordinal
                self._among_mask = np.zeros(len(self.papers), dtype=bool)
                self._among_mask[[ordinal[i] for i in ids if i in ordinal]] = True
            return self._among_mask[docs]
        if isinstance(ids, frozenset):
            self._among_ids, self._among_mask = ids, None
        allowed, paper_ids = _as_set(ids), self.ids
        return np.array([paper_ids[d] in allowed for d in docs.tolist()], dtype=bool)

    # --- authors and categories -----------------------------------------------------------

    def author_docs(self, author: str) -> dict[int, str]:
        """Papers by this followed author -> the name as the paper spells it."""
        cached = self._author_cache.get(author)
        if cached is None:
            cached = {}
            wanted = name_key(author)
            if wanted:
                for doc, key, spelled in self._authors.get(wanted.surname, ()):
                    if wanted.compatible(key):
                        cached.setdefault(doc, spelled)
            self._author_cache[author] = cached
        return cached

    def category_docs(self, entry: str) -> dict[int, tuple[bool, str]]:
        """Papers in a category ("cs.LG") or archive ("astro-ph") -> (is primary, category)."""
        cached = self._category_cache.get(entry)
        if cached is None:
            cached = self._category_cache[entry] = self._find_category(entry)
        return cached

    def profile_categories(self, entries: tuple[str, ...]) -> CategoryHits:
        """Papers in any of a profile's categories, merged as `rank` reads them (a primary
        listing wins over a cross-list); cached per list, as many subscribers share one."""
        cached = self._categories_cache.get(entries)
        if cached is None:
            docs: dict[int, tuple[bool, str]] = {}
            for entry in entries:
                for doc, (primary, spelled) in self.category_docs(entry).items():
                    if primary or doc not in docs:
                        docs[doc] = (primary, spelled)
            ordered = sorted(docs)
            bonus = [CATEGORY_BONUS * (1.0 if docs[d][0] else CROSS_LIST_FACTOR) for d in ordered]
            cached = self._categories_cache[entries] = CategoryHits(
                docs, np.array(ordered, dtype=np.int32), np.array(bonus, dtype=np.float64)
            )
        return cached

    def _find_category(self, entry: str) -> dict[int, tuple[bool, str]]:
        wanted = entry.casefold()
        found: dict[int, tuple[bool, str]] = {}
        for category, rows in self._categories.items():
            if category == wanted or category.startswith(wanted + "."):
                for doc, primary, spelled in rows:
                    if primary or doc not in found:
                        found[doc] = (primary, spelled)
        return found


# Matches are shown title first, then HF keywords, then abstract.
_FIELD_RANK = {0: 0, 2: 1, 1: 2}  # field number -> display rank
_FIELD_BY_RANK = (Field.TITLE, Field.KEYWORDS, Field.ABSTRACT)


def _new_posting() -> array[int]:
    return array("i")


def _c_ints(values: Ints) -> array[int]:
    found = array("i")
    found.frombytes(np.ascontiguousarray(values, dtype=np.int32).tobytes())
    return found


def _place(doc: Ints, field_no: Ints, position: NDArray[Any]) -> NDArray[np.int64]:
    """One sortable number per (doc, field, word position)."""
    place: NDArray[np.int64] = (doc.astype(np.int64) << 32) | (field_no.astype(np.int64) << 28)
    return place | position.astype(np.int64)


def _merge_overlaps(rows: Ints) -> Ints:
    """Sorted (doc, field, start, end) rows with overlapping spans of a field joined."""
    same_place = (rows[1:, 0] == rows[:-1, 0]) & (rows[1:, 1] == rows[:-1, 1])
    if not np.any(same_place & (rows[1:, 2] < rows[:-1, 3])):
        return rows  # sorted by start, no span reaching into the next: nothing overlaps
    merged: list[list[int]] = []
    last_doc = last_field = last_end = -1
    for row in rows.tolist():
        doc, field_no, start, end = row
        if start < last_end and doc == last_doc and field_no == last_field:
            if end > last_end:
                merged[-1][3] = last_end = end
            continue
        merged.append(row)
        last_doc, last_field, last_end = doc, field_no, end
    return np.array(merged, dtype=np.int32).reshape(-1, 4)


def build_index(
    papers: Sequence[Paper], *, background: CorpusStats | None = None, workers: int = 1
) -> PaperIndex:
    """Index the day's papers once; `background` gives IDF (else the day's papers do).
    `workers` > 1 tokenises the papers in that many forked processes."""
    stats = background if background and background.documents else corpus_stats(papers)
    return PaperIndex(papers, stats, workers=workers)


# --- Ranking ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RankResult:
    """The best papers for a profile, explained, and how many papers matched in all."""

    ranked: tuple[Ranked, ...]
    matched: int


def rank(
    index: PaperIndex,
    profile: Profile,
    *,
    eligible: Collection[str] | None = None,
    updated: Collection[str] = (),
) -> tuple[Ranked, ...]:
    """Papers for this profile, best first, each with the reasons it scored."""
    everything = len(index.papers)
    return rank_top(index, profile, limit=everything, eligible=eligible, updated=updated).ranked


def rank_top(
    index: PaperIndex,
    profile: Profile,
    *,
    limit: int,
    eligible: Collection[str] | None = None,
    updated: Collection[str] = (),
) -> RankResult:
    """The `limit` best papers for this profile (exactly `rank(...)[:limit]`), and the
    number of papers that matched. Every candidate is scored in numpy; only the papers
    returned are explained, which is most of the cost of a long result."""
    if limit < 0:
        raise ValueError(f"limit must be 0 or more, not {limit}")
    replaced = _as_set(updated)
    terms = _resolve_terms(index, profile)
    authored: dict[int, list[str]] = {}
    for author in profile.authors:
        for doc, spelled in index.author_docs(author).items():
            authored.setdefault(doc, []).append(spelled)
    in_category = index.profile_categories(profile.categories)

    pairs = _NO_PAIRS
    if not terms and not profile.authors:
        # a profile without keywords selects by category
        docs, scores = in_category.bonus_docs, in_category.bonus.copy()
    else:
        docs, scores, pairs = _summed_scores(terms, authored, len(index.papers))
        _add_where_present(docs, scores, in_category.bonus_docs, in_category.bonus)
    if profile.popularity_weight:
        scores += profile.popularity_weight * index._log_upvotes[docs] * (scores > 0)
    keep = scores >= profile.min_score - 0.001  # most scored papers fall short: one sweep
    docs, scores = docs[keep], scores[keep]

    unwanted = [index.term_hits(Term(text)).docs for text in profile.exclude]
    if replaced and not profile.include_updates:
        ordinal = index.ordinal
        unwanted.append(np.array([ordinal[i] for i in replaced if i in ordinal], dtype=np.int32))
    if profile.require_categories:
        outside = np.ones(len(index.papers), dtype=bool)
        outside[in_category.bonus_docs] = False
        keep = ~outside[docs]
    else:
        keep = np.ones(len(docs), dtype=bool)
    if unwanted:
        dropped = np.zeros(len(index.papers), dtype=bool)
        for found in unwanted:
            dropped[found] = True
        keep &= ~dropped[docs]
    if eligible is not None:
        keep &= index.among(eligible, docs)
    docs, scores = docs[keep], scores[keep]

    matched, best = _select(index, docs, scores, profile.min_score, limit)
    context = _Context(index, profile, terms, authored, in_category.docs, replaced)
    return RankResult(_explain_all(context, best, pairs), matched)


@dataclass(frozen=True, slots=True, eq=False)
class _Pairs:
    """Every (paper, keyword) pair a profile's keywords found: the paper, the keyword's
    place in the resolved terms, and the points it scored there."""

    docs: Ints
    term_no: NDArray[np.intp]
    points: Floats


_NO_PAIRS = _Pairs(_NO_INTS, np.empty(0, dtype=np.intp), _NO_FLOATS)


def _summed_scores(
    terms: list[_ResolvedTerm], authored: Mapping[int, list[str]], papers: int
) -> tuple[Ints, Floats, _Pairs]:
    """Each paper any keyword or followed author found, ascending, with the sum of the
    keywords' weighted scores and the author bonus; and the pairs that made the sums.

    The sum goes through a dense array of the day's papers (one bincount, microseconds for
    thousands of papers): far cheaper than grouping the pairs by sorting them."""
    found = [hits.docs for _topic, _text, hits, _weight in terms]
    points = [hits.scores * w if w != 1.0 else hits.scores for _t, _x, hits, w in terms]
    if not found and not authored:
        return _NO_INTS, _NO_FLOATS.copy(), _NO_PAIRS
    sizes = [len(docs) for docs in found]
    pairs = _NO_PAIRS
    if found:
        pairs = _Pairs(
            np.concatenate(found), np.repeat(np.arange(len(found)), sizes), np.concatenate(points)
        )
    if authored:
        found.append(np.fromiter(authored, dtype=np.int32, count=len(authored)))
        points.append(np.full(len(authored), AUTHOR_BONUS))
    elif len(terms) == 1:
        return found[0], points[0].copy(), pairs
    summed = np.bincount(np.concatenate(found), np.concatenate(points), minlength=papers)
    docs = np.flatnonzero(summed)
    return docs.astype(np.int32), summed[docs].astype(np.float64, copy=False), pairs


def _add_where_present(docs: Ints, scores: Floats, extra_docs: Ints, extra: Floats) -> None:
    """scores += extra, for the papers of `docs` that are also in `extra_docs` (both
    ascending)."""
    if not len(extra_docs) or not len(docs):
        return
    at = np.minimum(np.searchsorted(extra_docs, docs), len(extra_docs) - 1)
    present = extra_docs[at] == docs
    scores[present] += extra[at[present]]


# round(x, 4) moves a score by at most half of 0.0001, and rounding never reorders scores:
# only scores within this of a boundary need rounding to know which side they fall on.
_ROUNDING_SLACK = 0.0001


def _select(
    index: PaperIndex, docs: Ints, scores: Floats, min_score: float, limit: int
) -> tuple[int, list[tuple[float, int]]]:
    """How many candidates pass min_score, and the best `limit` as (score, doc), ranked by
    the rounded score shown, then paper id. Rounding is slow (a decimal conversion), so only
    the scores near min_score or near the last place of the top `limit` are rounded."""
    floor = max(min_score, 0.0) + _ROUNDING_SLACK
    near = np.flatnonzero(scores < floor)
    if near.size:
        fails = [
            i
            for i, s in zip(near.tolist(), scores[near].tolist(), strict=True)
            if (shown := round(s, 4)) <= 0 or shown < min_score
        ]
        if fails:
            keep = np.ones(len(docs), dtype=bool)
            keep[fails] = False
            docs, scores = docs[keep], scores[keep]
    matched = len(docs)
    if limit == 0 or not matched:
        return matched, []
    if limit < matched:
        # anything that rounds level with the last of the top `limit` may win it on its id
        edge = np.partition(scores, matched - limit)[matched - limit] - _ROUNDING_SLACK
        contenders = scores >= edge
        docs, scores = docs[contenders], scores[contenders]
    id_rank = index._id_rank
    ordered = sorted(
        (-round(s, 4), id_rank[d], d) for d, s in zip(docs.tolist(), scores.tolist(), strict=True)
    )
    return matched, [(-negative, doc) for negative, _, doc in ordered[:limit]]


def _as_set(ids: Collection[str]) -> Set[str]:
    return ids if isinstance(ids, Set) else frozenset(ids)


_ResolvedTerm = tuple[str, str, TermHits, float]  # topic, keyword text, hits, weight


def _resolve_terms(index: PaperIndex, profile: Profile) -> list[_ResolvedTerm]:
    """Each distinct keyword once, at its highest weight, under its first topic: writing
    both "galaxy" and "galaxies" must not count the same words twice."""
    resolved: dict[int, _ResolvedTerm] = {}
    for topic in profile.topics:
        for term in topic.terms:
            hits = index.term_hits(term)
            known = resolved.get(id(hits))
            if known is None:
                resolved[id(hits)] = (topic.name, term.text, hits, term.weight)
            elif known[3] < term.weight:
                resolved[id(hits)] = (known[0], known[1], hits, term.weight)
    return list(resolved.values())


@dataclass(frozen=True, slots=True)
class _Context:
    """What explaining one paper needs, worked out once per profile."""

    index: PaperIndex
    profile: Profile
    terms: list[_ResolvedTerm]
    authored: Mapping[int, list[str]]
    in_category: Mapping[int, tuple[bool, str]]
    replaced: Set[str]  # ids of papers that are new versions of ones already sent


_Found = tuple[float, str, str, TermHits]  # contribution, topic, keyword text, hits


def _explain_all(
    context: _Context, best: list[tuple[float, int]], pairs: _Pairs
) -> tuple[Ranked, ...]:
    """Explain the papers returned. Which keywords each one matched is found among the
    (paper, keyword) pairs of the scoring, for all of them at once; the loop below runs for
    every paper of every digest, so it is kept lean."""
    if not best:
        return ()
    slot_of = {doc: slot for slot, (_score, doc) in enumerate(best)}
    found: list[list[_Found]] = [[] for _ in best]
    if len(pairs.docs):
        shown = np.zeros(len(context.index.papers), dtype=bool)
        shown[list(slot_of)] = True
        picked = np.flatnonzero(shown[pairs.docs])
        terms = context.terms
        for doc, term_no, points in zip(
            pairs.docs[picked].tolist(),
            pairs.term_no[picked].tolist(),
            pairs.points[picked].tolist(),
            strict=True,
        ):
            topic, text, hits, _weight = terms[term_no]
            found[slot_of[doc]].append((points, topic, text, hits))
    papers = context.index.papers
    one_topic = len(context.profile.topics) == 1
    noted = context.authored.keys() | context.in_category.keys()
    always_noted = bool(context.profile.popularity_weight or context.replaced)
    explained = []
    for (score, doc), reasons in zip(best, found, strict=True):
        if len(reasons) > 1:
            reasons.sort(key=_POINTS, reverse=True)  # (stable: ties keep keyword order)
        matches = [
            match
            for _points, topic, text, hits in reasons
            for match in hits.matches_in(doc, text, topic)
        ]
        if one_topic or len(reasons) < 2:
            best_topic = reasons[0][1] if reasons else ""
        else:
            best_topic = _best_topic(reasons)
        paper = papers[doc]
        note, is_update = "", False
        if always_noted or doc in noted:
            note, is_update = _other_reasons(context, doc, paper, matches)
        explained.append(Ranked(paper, score, tuple(matches), best_topic, is_update, note))
    return tuple(explained)


def _best_topic(reasons: list[_Found]) -> str:
    by_topic: dict[str, float] = {}
    for points, topic, _text, _hits in reasons:
        by_topic[topic] = by_topic.get(topic, 0.0) + points
    return max(by_topic, key=by_topic.__getitem__)


def _other_reasons(
    context: _Context, doc: int, paper: Paper, matches: list[Match]
) -> tuple[str, bool]:
    """Adds the author and category matches; returns the note (followed author, category,
    upvotes, updated version) and whether the paper is an update of one already sent."""
    notes: list[str] = []
    if doc in context.authored:
        authors_text = field_text(paper, Field.AUTHORS)
        for spelled in dict.fromkeys(context.authored[doc]):
            at = authors_text.find(spelled)
            spans = ((at, at + len(spelled)),) if at >= 0 else ()
            matches.append(Match(spelled, Field.AUTHORS, "", spans))
            notes.append(f"followed author: {spelled}")
    if doc in context.in_category:
        primary, spelled = context.in_category[doc]
        at = field_text(paper, Field.CATEGORIES).find(spelled)
        matches.append(Match(spelled, Field.CATEGORIES, "", ((at, at + len(spelled)),)))
        notes.append(f"category: {spelled}" + ("" if primary else " (cross-list)"))
    if context.profile.popularity_weight and paper.hf and paper.hf.upvotes > 0:
        notes.append(f"{paper.hf.upvotes} upvotes on Hugging Face")
    is_update = paper.id in context.replaced
    if is_update:
        notes.append("updated version of a paper you were sent")
    return "; ".join(notes), is_update
