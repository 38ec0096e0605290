"""The day's papers as an inverted index: what each keyword, author and category matches.

The index is built once per run and shared by every subscriber; what a keyword matches is
computed on first use and cached in the index as numpy arrays (the papers it hits, their
scores, the matched spans), so ranking costs grow with the matches of a profile's keywords,
not with the number of papers.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Collection, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from digest.models import Field, Paper, Term
from digest.rank.authornames import NameKey, name_key
from digest.rank.corpus import CorpusStats, stats_of_tokens
from digest.rank.fields import TEXT_FIELDS, field_text
from digest.rank.hits import NO_HITS, CategoryHits, Floats, Ints, TermHits, c_ints
from digest.rank.tokenise import (
    DOC,
    END,
    FIELD,
    POSITION,
    START,
    STRIDE,
    WIDTH,
    Tokens,
    author_table,
    category_table,
    tokenise,
)
from digest.rank.weights import CATEGORY_BONUS, CROSS_LIST_FACTOR, FIELD_B, FIELD_BOOST, K1
from digest.textmatch import (
    CompiledTerm,
    WordPattern,
    compile_term,
    exact_surface_matches,
    fold,
    inflections,
    stem,
)

_TRUE = np.ones(1, dtype=bool)
# A phrase may run across a coordination of this many words ("language and image generation")
MAX_COORDINATED = 3
CONJUNCTIONS = ("and", "or")


@dataclass(frozen=True, slots=True, eq=False)
class _Occurrences:
    """The text words one word pattern matches: rows (doc, field, position, width, start,
    end) sorted by place, and each row's `_place` number for bisection."""

    rows: Ints
    places: NDArray[np.int64]


_NO_ROWS: Ints = np.empty((0, STRIDE), dtype=np.int32)


class PaperIndex:
    """An inverted index over one run's papers. Build with `build_index`; read-only after.

    The only state that changes is the caches of keyword and author look-ups, which are
    pure functions of the index: sharing one index across all subscribers is what makes
    ranking thousands of profiles cheap.
    """

    def __init__(
        self,
        papers: Sequence[Paper],
        stats: CorpusStats,
        *,
        tokens: Tokens | None = None,
        field_boost: Mapping[Field, float] = FIELD_BOOST,
    ) -> None:
        self.papers: tuple[Paper, ...] = tuple(papers)
        self.stats = stats
        self._field_boost = field_boost
        self.ordinal: dict[str, int] = {p.id: i for i, p in enumerate(self.papers)}
        self.tokens = tokens if tokens is not None else tokenise(self.papers)
        self._postings = self.tokens.keys  # word -> its number: `in` asks if a word is there
        # authors and categories are tabled on the first look-up (many runs make none)
        self._authors_table: dict[str, list[tuple[int, NameKey, str]]] | None = None
        self._categories_table: dict[str, list[tuple[int, bool, str]]] | None = None
        self._keys_sorted: list[str] | None = None  # for prefixes, sorted on first use
        self._term_cache: dict[tuple[str, bool], TermHits] = {}
        self._prefix_keys: dict[str, list[str]] = {}
        self._occurrence_cache: dict[WordPattern, Ints] = {}
        self._follower_cache: dict[WordPattern, _Occurrences] = {}
        self._conjunction_places: NDArray[np.int64] | None = None
        self._among_ids: frozenset[str] | None = None  # see `among`
        self._among_mask: NDArray[np.bool_] | None = None
        self._compiled_cache: dict[tuple[object, ...], TermHits] = {}
        self._author_cache: dict[str, dict[int, str]] = {}
        self._category_cache: dict[str, dict[int, tuple[bool, str]]] = {}
        self._categories_cache: dict[tuple[str, ...], CategoryHits] = {}
        # What every keyword look-up needs per paper, worked out once: per field its boost
        # over its length normalisation, as a (field, paper) matrix ...
        lengths = self.tokens.lengths.T.astype(np.float64)
        self._field_weight: Floats = np.stack(
            [self._field_weights(n, f, lengths[n]) for n, f in enumerate(TEXT_FIELDS)]
        )
        # ... and the paper ids, their sort order (ties in score go by id), and ln(1 + upvotes)
        self.ids: tuple[str, ...] = tuple(p.id for p in self.papers)
        id_order = sorted(range(len(self.ids)), key=self.ids.__getitem__)
        self.id_rank: list[int] = [0] * len(self.ids)  # doc -> its place in id order
        for position, doc in enumerate(id_order):
            self.id_rank[doc] = position
        self.log_upvotes: Floats = np.array(
            [math.log1p(p.hf.upvotes) if p.hf and p.hf.upvotes > 0 else 0.0 for p in self.papers],
            dtype=np.float64,
        )

    def _field_weights(self, number: int, which: Field, lengths: Floats) -> Floats:
        """What one occurrence in this field counts towards tf', paper by paper."""
        fixed = 1.0 - FIELD_B[which]
        slope = FIELD_B[which] / max(self.stats.avg_length.get(which.value, 0.0), 1.0)
        weights: Floats = self._field_boost[which] / (fixed + slope * lengths)
        return weights

    # --- keywords -------------------------------------------------------------------------

    def term_hits(self, term: Term) -> TermHits:
        cache_key = (term.text, term.case_sensitive)
        hits = self._term_cache.get(cache_key)
        if hits is None:
            compiled = compile_term(term.text, term.case_sensitive)
            # "galaxy" and "galaxies" compile alike: share one result, so rank() can tell
            # and so do "galaxy" and "galaxies": the same words of the day's text
            signature = self._signature(compiled)
            hits = self._compiled_cache.get(signature)
            if hits is None:
                hits = self._compiled_cache[signature] = self._match_term(compiled)
            self._term_cache[cache_key] = hits
        return hits

    def _signature(self, compiled: CompiledTerm) -> tuple[object, ...]:
        """What a compiled term matches in this index: the text words of each pattern."""
        return tuple(
            tuple(
                (p.kind, p.value if p.kind == "exact" else tuple(self._keys_for(p)))
                for p in sequence
            )
            for sequence in compiled.alternatives
        )

    def _keys_for(self, pattern: WordPattern) -> list[str]:
        if pattern.kind == "word":
            postings = self._postings
            return sorted(k for k in inflections(pattern.value) if k in postings)
        if pattern.kind == "prefix":
            found = self._prefix_keys.get(pattern.value)
            if found is None:
                if self._keys_sorted is None:
                    self._keys_sorted = sorted(self._postings)
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
        return self.stats.idf(stem(pattern.value))

    def _term_idf(self, compiled: CompiledTerm) -> float:
        # A phrase is rarer than its rarest word, but not as rare as all its words at once.
        idfs = sorted((self._pattern_idf(p) for p in compiled.alternatives[0]), reverse=True)
        return idfs[0] + 0.5 * sum(idfs[1:])

    def _posting(self, key: str) -> Ints:
        """One key's postings as a (rows, 6) matrix, read in place (no copy)."""
        return self.tokens.rows_of(key)

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
            rows = rows[rows[:, WIDTH] == 1]
        elif pattern.kind == "exact":
            same = [self._same_case(pattern.value, row) for row in rows.tolist()]
            rows = rows[np.array(same, dtype=bool)]
        return rows

    def _followers(self, pattern: WordPattern) -> _Occurrences:
        """The pattern's occurrences sorted by place, to continue a phrase with."""
        found = self._follower_cache.get(pattern)
        if found is None:
            rows = self._occurrences_of(pattern)
            places = _place(rows[:, DOC], rows[:, FIELD], rows[:, POSITION])
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
            return first[:, [DOC, FIELD, START, END]]
        # Extend partial matches word by word: a partial match is (doc, field, start char)
        # of its first word and the position and end char of its last word.
        doc, field_no, start = first[:, DOC], first[:, FIELD], first[:, START]
        last_end, after = first[:, END], first[:, POSITION] + first[:, WIDTH]
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
            which, nxt = self._across_gaps(following, doc, field_no, after, which, nxt)
            rows = following.rows[nxt]
            doc, field_no, start = doc[which], field_no[which], start[which]
            last_end, after = rows[:, END], rows[:, POSITION] + rows[:, WIDTH]
        return np.stack([doc, field_no, start, last_end], axis=1).astype(np.int32, copy=False)

    def _across_gaps(
        self,
        following: _Occurrences,
        doc: Ints,
        field_no: Ints,
        after: NDArray[Any],
        which: NDArray[np.intp],
        nxt: NDArray[np.intp],
    ) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """Continue the partial matches the next word did not follow at once: across one
        word ("large vision language model"), or across a coordination of up to
        MAX_COORDINATED words ("large language and image generation models")."""
        # (a mask, not setdiff1d/isin: numpy's unique behind those imports numpy.ma)
        taken = np.zeros(len(doc), dtype=bool)
        taken[which] = True
        left = np.flatnonzero(~taken)
        if not left.size or not following.places.size:
            return which, nxt
        # A longer gap must open with the conjunction: "large language [and image generation]
        # models", not "reward [hacking and] model".
        conjunction = self._conjunction_at(doc[left], field_no[left], after[left])
        for gap in range(1, MAX_COORDINATED + 1):
            tried = left if gap == 1 else left[conjunction]
            if not tried.size:
                continue
            wanted = _place(doc[tried], field_no[tried], after[tried] + gap)
            at = np.minimum(np.searchsorted(following.places, wanted), len(following.places) - 1)
            found = following.places[at] == wanted
            which = np.concatenate((which, tried[found]))
            nxt = np.concatenate((nxt, at[found]))
            taken[tried[found]] = True
            keep = ~taken[left]
            left, conjunction = left[keep], conjunction[keep]
            if not left.size:
                break
        order = np.argsort(which, kind="stable")
        return which[order], nxt[order]

    def _conjunction_at(
        self, doc: Ints, field_no: Ints, position: NDArray[Any]
    ) -> NDArray[np.bool_]:
        places = self._conjunction_places
        if places is None:
            keys = [k for k in CONJUNCTIONS if k in self._postings]
            rows = np.concatenate([self._posting(k) for k in keys]) if keys else _NO_ROWS
            places = np.sort(_place(rows[:, DOC], rows[:, FIELD], rows[:, POSITION]))
            self._conjunction_places = places
        if not places.size:
            return np.zeros(len(doc), dtype=bool)
        wanted = _place(doc, field_no, position)
        at = np.minimum(np.searchsorted(places, wanted), len(places) - 1)
        found: NDArray[np.bool_] = places[at] == wanted
        return found

    def _match_term(self, compiled: CompiledTerm) -> TermHits:
        found = [self._match_sequence(sequence) for sequence in compiled.alternatives]
        found = [rows for rows in found if rows.size]  # a closed form often finds nothing
        if not found:
            return NO_HITS
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
            rows=c_ints(rows),
            row_docs=c_ints(row_docs),
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
        allowed, paper_ids = as_set(ids), self.ids
        return np.array([paper_ids[d] in allowed for d in docs.tolist()], dtype=bool)

    # --- authors and categories -----------------------------------------------------------

    def author_docs(self, author: str) -> dict[int, str]:
        """Papers by this followed author -> the name as the paper spells it."""
        cached = self._author_cache.get(author)
        if cached is None:
            cached = {}
            wanted = name_key(author)
            if wanted:
                if self._authors_table is None:
                    self._authors_table = author_table(self.papers)
                for doc, key, spelled in self._authors_table.get(wanted.surname, ()):
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
        if self._categories_table is None:
            self._categories_table = category_table(self.papers)
        for category, rows in self._categories_table.items():
            if category == wanted or category.startswith(wanted + "."):
                for doc, primary, spelled in rows:
                    if primary or doc not in found:
                        found[doc] = (primary, spelled)
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
    papers: Sequence[Paper],
    *,
    background: CorpusStats | None = None,
    field_boost: Mapping[Field, float] = FIELD_BOOST,
) -> PaperIndex:
    """Index the day's papers once; `background` gives IDF (else the day's papers do, from
    the same tokens). `field_boost` is for the evaluation only (what the ranker is worth
    without its title weighting)."""
    tokens = tokenise(papers)
    stats = background if background and background.documents else stats_of_tokens(tokens)
    return PaperIndex(papers, stats, tokens=tokens, field_boost=field_boost)


def as_set(ids: Collection[str]) -> Set[str]:
    """`ids` as a set, copied only if it is not one already."""
    return ids if isinstance(ids, Set) else frozenset(ids)
