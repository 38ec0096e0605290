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
computed on first use and cached in the index (compactly, as arrays), so ranking costs grow
with the matches of a profile's keywords, not with the number of papers.

`rank_top(index, profile, limit=k)` is what a digest needs: the k best papers explained and
the number that matched. It scores every candidate as a plain float and builds the
explanations (Ranked, Match spans) only for those k; `rank()` is `rank_top` without a
limit, for callers that want every match explained.
"""

from __future__ import annotations

import heapq
import itertools
import math
import operator
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from digest.authornames import NameKey, name_key
from digest.models import Field, Match, Paper, Profile, Ranked, Term
from digest.textmatch import (
    CompiledTerm,
    WordPattern,
    compile_term,
    exact_surface_matches,
    fold,
    occurrences,
    stem,
)

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
_STRIDE = 6  # postings are flat int arrays of (doc, field, position, width, start, end)
_Columns = tuple["array[int]", ...]


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
    if which is not Field.KEYWORDS:
        yield from occurrences(field_text(paper, which))
        return
    if not paper.hf:
        return
    position, offset = 0, 0
    for keyword in paper.hf.ai_keywords:
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


@dataclass(frozen=True, slots=True)
class TermHits:
    """Where one keyword matched, kept compact (a day's look-ups for thousands of profiles
    stay cached): the papers in ascending order with their base scores (weight 1), and
    every matched span as flat (doc, field, start, end) rows sorted by doc, which
    `spans_of` shapes for display only for the papers a digest shows."""

    docs: array[int]
    scores: array[float]
    rows: array[int]  # _ROW ints per span
    row_docs: array[int]  # the doc of each row, to find a paper's rows by bisection

    def score_of(self, doc: int) -> float | None:
        i = bisect_left(self.docs, doc)
        return self.scores[i] if i < len(self.docs) and self.docs[i] == doc else None

    def spans_of(self, doc: int) -> tuple[tuple[Field, tuple[tuple[int, int], ...]], ...]:
        """The highlighted spans in `doc`, per field in display order (title first)."""
        first, last = bisect_left(self.row_docs, doc), bisect_right(self.row_docs, doc)
        rows = self.rows
        by_field: dict[int, list[tuple[int, int]]] = {}
        for r in range(first * _ROW, last * _ROW, _ROW):
            by_field.setdefault(rows[r + 1], []).append((rows[r + 2], rows[r + 3]))
        shown = sorted((_FIELD_RANK[f], tuple(spans)) for f, spans in by_field.items())
        return tuple((_FIELD_BY_RANK[rank], spans) for rank, spans in shown)


_NO_HITS = TermHits(array("i"), array("d"), array("i"), array("i"))


@dataclass(frozen=True, slots=True)
class CategoryHits:
    """Papers in a profile's categories -> (is primary, category), and the bonus each earns."""

    docs: Mapping[int, tuple[bool, str]]
    bonus: Mapping[int, float]


class PaperIndex:
    """An inverted index over one run's papers. Build with `build_index`; read-only after.

    The only state that changes is the caches of keyword and author look-ups, which are
    pure functions of the index: sharing one index across all subscribers is what makes
    ranking thousands of profiles cheap.
    """

    def __init__(self, papers: Sequence[Paper], stats: CorpusStats) -> None:
        self.papers: tuple[Paper, ...] = tuple(papers)
        self.stats = stats
        self.ordinal: dict[str, int] = {p.id: i for i, p in enumerate(self.papers)}
        self._postings: dict[str, array[int]] = {}
        self._lengths: list[tuple[int, int, int]] = []
        self._authors: dict[str, list[tuple[int, NameKey, str]]] = {}
        self._categories: dict[str, list[tuple[int, bool, str]]] = {}
        for doc, paper in enumerate(self.papers):
            self._add(doc, paper)
        self._keys_sorted = sorted(self._postings)
        self._keys_by_stem: dict[str, list[str]] = {}
        for key in self._keys_sorted:
            self._keys_by_stem.setdefault(stem(key), []).append(key)
        self._columns_cache: dict[str, _Columns] = {}
        self._term_cache: dict[tuple[str, bool], TermHits] = {}
        self._compiled_cache: dict[CompiledTerm, TermHits] = {}
        self._author_cache: dict[str, dict[int, str]] = {}
        self._category_cache: dict[str, dict[int, tuple[bool, str]]] = {}
        self._categories_cache: dict[tuple[str, ...], CategoryHits] = {}
        # What every keyword look-up and every profile needs per paper, worked out once:
        # per field its boost, and per paper and field the length normalisation ...
        self._boost = [FIELD_BOOST[f] for f in TEXT_FIELDS]
        self._norm = tuple(self._length_norms(n, f) for n, f in enumerate(TEXT_FIELDS))
        # ... and the paper ids, their sort order (ties in score go by id), and ln(1 + upvotes)
        self.ids: tuple[str, ...] = tuple(p.id for p in self.papers)
        id_order = sorted(range(len(self.ids)), key=self.ids.__getitem__)
        self._id_rank = [0] * len(self.ids)
        for position, doc in enumerate(id_order):
            self._id_rank[doc] = position
        self._log_upvotes = [
            math.log1p(p.hf.upvotes) if p.hf and p.hf.upvotes > 0 else 0.0 for p in self.papers
        ]
        self._upvoted = frozenset(d for d, lift in enumerate(self._log_upvotes) if lift > 0)

    def _add(self, doc: int, paper: Paper) -> None:
        lengths = []
        for field_no, which in enumerate(TEXT_FIELDS):
            words = 0
            for key, pos, width, start, end in _field_occurrences(paper, which):
                posting = self._postings.get(key)
                if posting is None:
                    posting = self._postings[key] = array("i")
                posting.extend((doc, field_no, pos, width, start, end))
                words += width == 1
            lengths.append(words)
        self._lengths.append((lengths[0], lengths[1], lengths[2]))
        for author in paper.authors:
            name = name_key(author)
            if name:
                self._authors.setdefault(name.surname, []).append((doc, name, author))
        for number, category in enumerate(paper.categories):
            self._categories.setdefault(category.casefold(), []).append(
                (doc, number == 0, category)
            )

    def _length_norms(self, number: int, which: Field) -> list[float]:
        fixed = 1.0 - FIELD_B[which]
        slope = FIELD_B[which] / max(self.stats.avg_length.get(which.value, 0.0), 1.0)
        return [fixed + slope * lengths[number] for lengths in self._lengths]

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
            keys = self._keys_sorted
            i = bisect_left(keys, pattern.value)
            found = []
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

    def _columns(self, key: str) -> _Columns:
        """The postings of one key split into columns (doc, field, position, width, start,
        end); split on first use and kept, since popular words recur in many keywords."""
        columns = self._columns_cache.get(key)
        if columns is None:
            flat = self._postings[key]
            columns = self._columns_cache[key] = tuple(flat[i::_STRIDE] for i in range(_STRIDE))
        return columns

    def _doc_set(self, pattern: WordPattern) -> set[int]:
        found: set[int] = set()
        for key in self._keys_for(pattern):
            found.update(self._columns(key)[0])
        return found

    def _occurrences_of(
        self, pattern: WordPattern, within: set[int] | None = None
    ) -> list[tuple[int, ...]]:
        """(doc, field, position, width, start, end) of every text word the pattern matches,
        only in the docs `within` if given (jumping to them: postings are sorted by doc)."""
        found: list[tuple[int, ...]] = []
        for key in self._keys_for(pattern):
            columns = self._columns(key)
            docs = columns[0]
            hits: Iterable[tuple[int, ...]]
            if within is None:
                hits = zip(*columns, strict=True)
            elif len(within) * 16 < len(docs):
                rows = [
                    j
                    for d in sorted(within)
                    for j in range(bisect_left(docs, d), bisect_right(docs, d))
                ]
                hits = [tuple(c[j] for c in columns) for j in rows]
            else:
                hits = itertools.compress(
                    zip(*columns, strict=True), map(within.__contains__, docs)
                )
            if pattern.kind == "stem":
                found.extend(hits)
            elif pattern.kind == "prefix":
                # "quantiz*" should light up "Quantization", not "...-aware"
                found.extend(h for h in hits if h[3] == 1)
            else:
                found.extend(h for h in hits if self._same_case(pattern.value, h))
        return found

    def _same_case(self, wanted: str, hit: tuple[int, ...]) -> bool:
        doc, field_no, _pos, _width, start, end = hit
        surface = field_text(self.papers[doc], TEXT_FIELDS[field_no])[start:end]
        return exact_surface_matches(wanted, surface.replace("-", ""))

    def _match_sequence(self, sequence: tuple[WordPattern, ...]) -> list[tuple[int, ...]]:
        """(doc, field, start char, end char) of each place the word sequence occurs."""
        if len(sequence) == 1 and sequence[0].kind == "stem":
            # the commonest case, a plain word: its postings as they are
            found: list[tuple[int, ...]] = []
            for key in self._keys_for(sequence[0]):
                docs, fields, _pos, _width, starts, ends = self._columns(key)
                found.extend(zip(docs, fields, starts, ends, strict=True))
            return found
        within: set[int] | None = None
        if len(sequence) > 1:
            # only papers holding every word can hold the phrase; often there are none
            sets = sorted((self._doc_set(p) for p in sequence), key=len)
            within = sets[0].intersection(*sets[1:])
            if not within:
                return []
        # partial matches: (doc, field, next word position, start char, end char)
        partial = [
            (d, f, p + w, s, e) for d, f, p, w, s, e in self._occurrences_of(sequence[0], within)
        ]
        for pattern in sequence[1:]:
            if not partial:
                return []
            following: dict[tuple[int, int, int], list[tuple[int, int]]] = {}
            for d, f, p, w, _s, e in self._occurrences_of(pattern, within):
                following.setdefault((d, f, p), []).append((w, e))
            partial = [
                (d, f, nxt + w, s0, e)
                for d, f, nxt, s0, _e in partial
                for w, e in following.get((d, f, nxt), ())
            ]
        return [(d, f, s0, e) for d, f, _nxt, s0, e in partial]

    def _is_one_word(self, compiled: CompiledTerm) -> bool:
        """True if the term matches one spelling of one word: its matches are the rows of
        a single posting list, already sorted and never overlapping."""
        (first, *others) = compiled.alternatives
        return not others and len(first) == 1 and len(self._keys_for(first[0])) == 1

    def _match_term(self, compiled: CompiledTerm) -> TermHits:
        rows: list[tuple[int, ...]] = []
        for sequence in compiled.alternatives:
            rows.extend(self._match_sequence(sequence))
        if not rows:
            return _NO_HITS
        if not self._is_one_word(compiled):
            # a phrase and its closed form, or two spellings, may have matched the same words
            rows.sort()
            rows = _merge_rows(rows)
        saturation = self._term_idf(compiled) * (K1 + 1.0)
        boost, norm = self._boost, self._norm
        tf: dict[int, float] = {}
        get = tf.get
        for (d, f), count in Counter(map(_DOC_FIELD, rows)).items():
            tf[d] = get(d, 0.0) + boost[f] * count / norm[f][d]
        return TermHits(
            docs=array("i", tf),
            scores=array("d", [saturation * t / (t + K1) for t in tf.values()]),
            rows=array("i", itertools.chain.from_iterable(rows)),
            row_docs=array("i", map(_DOC, rows)),
        )

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
            bonus = {
                doc: CATEGORY_BONUS * (1.0 if primary else CROSS_LIST_FACTOR)
                for doc, (primary, _) in docs.items()
            }
            cached = self._categories_cache[entries] = CategoryHits(docs, bonus)
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


_ROW = 4  # a matched span: doc, field number, start char, end char
_DOC = operator.itemgetter(0)
_DOC_FIELD = operator.itemgetter(0, 1)


def _merge_rows(rows: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Sorted (doc, field, start, end) rows with overlapping spans of a field joined."""
    merged: list[tuple[int, ...]] = []
    last_doc = last_field = last_end = -1
    for row in rows:
        doc, field_no, start, end = row
        if start < last_end and doc == last_doc and field_no == last_field:
            if end > last_end:
                merged[-1] = (doc, field_no, merged[-1][2], end)
                last_end = end
            continue
        merged.append(row)
        last_doc, last_field, last_end = doc, field_no, end
    return merged


def build_index(papers: Sequence[Paper], *, background: CorpusStats | None = None) -> PaperIndex:
    """Index the day's papers once; `background` gives IDF (else the day's papers do)."""
    stats = background if background and background.documents else corpus_stats(papers)
    return PaperIndex(papers, stats)


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
    number of papers that matched. Every candidate is scored as a plain float; only the
    papers returned are explained, which is most of the cost of a long result."""
    if limit < 0:
        raise ValueError(f"limit must be 0 or more, not {limit}")
    eligible = _as_set(eligible) if eligible is not None else None
    replaced = _as_set(updated)
    terms = _resolve_terms(index, profile)
    scores = _keyword_scores(terms)
    get = scores.get

    authored: dict[int, list[str]] = {}
    for author in profile.authors:
        for doc, spelled in index.author_docs(author).items():
            authored.setdefault(doc, []).append(spelled)
    for doc in authored:
        scores[doc] = get(doc, 0.0) + AUTHOR_BONUS

    in_category = index.profile_categories(profile.categories)
    if not terms and not profile.authors:
        scores = dict(in_category.bonus)  # a profile without keywords selects by category
    else:
        bonus = in_category.bonus
        for doc in scores.keys() & bonus.keys():
            scores[doc] += bonus[doc]

    candidates = _above_cut(index, profile, scores)
    excluded: set[int] = set()
    for text in profile.exclude:
        excluded.update(index.term_hits(Term(text)).docs)
    for doc in candidates.keys() & excluded:
        del candidates[doc]
    if eligible is not None:
        ids = index.ids
        candidates = {d: s for d, s in candidates.items() if ids[d] in eligible}
    if replaced and not profile.include_updates:
        ordinal = index.ordinal
        for doc in candidates.keys() & {ordinal[i] for i in replaced if i in ordinal}:
            del candidates[doc]
    if profile.require_categories:
        for doc in candidates.keys() - in_category.docs.keys():
            del candidates[doc]

    matched, best = _select(index, candidates, profile.min_score, limit)
    context = _Context(index, profile, terms, authored, in_category.docs, replaced)
    ranked = tuple(_explain(context, doc, score) for score, doc in best)
    return RankResult(ranked, matched)


def _above_cut(index: PaperIndex, profile: Profile, scores: dict[int, float]) -> dict[int, float]:
    """The papers whose score (with the popularity lift) could reach min_score: usually
    most scored papers fall short, so they leave here in one sweep."""
    weight = profile.popularity_weight
    if weight:
        lift = index._log_upvotes
        for doc in scores.keys() & index._upvoted:
            score = scores[doc]
            if score > 0:
                scores[doc] = score + weight * lift[doc]
    cut = profile.min_score - 0.001
    return {d: s for d, s in scores.items() if s >= cut}


# round(x, 4) moves a score by at most half of 0.0001, and rounding never reorders scores:
# only scores within this of a boundary need rounding to know which side they fall on.
_ROUNDING_SLACK = 0.0001


def _select(
    index: PaperIndex, candidates: dict[int, float], min_score: float, limit: int
) -> tuple[int, list[tuple[float, int]]]:
    """How many candidates pass min_score, and the best `limit` as (score, doc), ranked by
    the rounded score shown, then paper id. Rounding is slow (a decimal conversion), so only
    the scores near min_score or near the last place of the top `limit` are rounded."""
    floor = max(min_score, 0.0) + _ROUNDING_SLACK
    for doc in [d for d, s in candidates.items() if s < floor]:
        shown = round(candidates[doc], 4)
        if shown <= 0 or shown < min_score:
            del candidates[doc]
    matched = len(candidates)
    if limit == 0 or not candidates:
        return matched, []
    contenders: Iterable[tuple[int, float]] = candidates.items()
    if limit < matched:
        # anything that rounds level with the last of the top `limit` may win it on its id
        edge = heapq.nlargest(limit, candidates.values())[-1] - _ROUNDING_SLACK
        contenders = [(d, s) for d, s in contenders if s >= edge]
    id_rank = index._id_rank
    ordered = sorted((-round(s, 4), id_rank[d], d) for d, s in contenders)
    return matched, [(-negative, doc) for negative, _, doc in ordered[:limit]]


def _as_set(ids: Collection[str]) -> Set[str]:
    return ids if isinstance(ids, Set) else frozenset(ids)


def _keyword_scores(terms: list[_ResolvedTerm]) -> dict[int, float]:
    """Sum of each keyword's weighted score per paper. Built from whole keywords at a time
    (dict building and merging run in C); only papers two keywords share are added here."""
    scores: dict[int, float] = {}
    for _topic, _text, hits, weight in terms:
        weighted = (
            hits.scores
            if weight == 1.0
            else map(operator.mul, itertools.repeat(weight), hits.scores)
        )
        found = dict(zip(hits.docs, weighted, strict=True))
        if scores:
            for doc in found.keys() & scores.keys():
                found[doc] = scores[doc] + found[doc]
            scores.update(found)
        else:
            scores = found
    return scores


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


def _by_contribution(entry: tuple[float, str, str, object]) -> float:
    return -entry[0]


@dataclass(frozen=True, slots=True)
class _Context:
    """What explaining one paper needs, worked out once per profile."""

    index: PaperIndex
    profile: Profile
    terms: list[_ResolvedTerm]
    authored: Mapping[int, list[str]]
    in_category: Mapping[int, tuple[bool, str]]
    replaced: Set[str]  # ids of papers that are new versions of ones already sent


def _explain(context: _Context, doc: int, score: float) -> Ranked:
    # Called for every paper a digest shows, so kept lean: most profiles have one topic.
    profile = context.profile
    paper = context.index.papers[doc]
    found = []
    for topic, text, hits, weight in context.terms:
        docs = hits.docs
        i = bisect_left(docs, doc)  # (TermHits.score_of, inlined)
        if i < len(docs) and docs[i] == doc:
            found.append((weight * hits.scores[i], topic, text, hits.spans_of(doc)))
    if len(found) > 1:
        found.sort(key=_by_contribution)
    matches = [
        Match(text, which, topic, spans)
        for _, topic, text, fields in found
        for which, spans in fields
    ]
    if len(profile.topics) == 1 or not found:
        best_topic = found[0][1] if found else ""
    else:
        by_topic: dict[str, float] = {}
        for contribution, topic, _text, _fields in found:
            by_topic[topic] = by_topic.get(topic, 0.0) + contribution
        best_topic = max(by_topic, key=by_topic.__getitem__)
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
    if profile.popularity_weight and paper.hf and paper.hf.upvotes > 0:
        notes.append(f"{paper.hf.upvotes} upvotes on Hugging Face")
    is_update = paper.id in context.replaced
    if is_update:
        notes.append("updated version of a paper you were sent")
    return Ranked(
        paper=paper,
        score=score,
        matches=tuple(matches),
        topic=best_topic,
        updated=is_update,
        note="; ".join(notes),
    )
