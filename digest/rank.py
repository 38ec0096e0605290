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
computed on first use and cached in the index, so ranking costs grow with the matches of a
profile's keywords, not with the number of papers.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable, Mapping, Sequence
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
    """Where one keyword matched: per paper its base score (weight 1) and highlight spans."""

    docs: tuple[int, ...]
    scores: tuple[float, ...]
    spans: Mapping[int, tuple[tuple[Field, tuple[tuple[int, int], ...]], ...]]
    base: Mapping[int, float]


_NO_HITS = TermHits((), (), {}, {})


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
        self._term_cache: dict[tuple[str, bool], TermHits] = {}
        self._compiled_cache: dict[CompiledTerm, TermHits] = {}
        self._author_cache: dict[str, dict[int, str]] = {}
        self._category_cache: dict[str, dict[int, tuple[bool, str]]] = {}

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

    def _doc_set(self, pattern: WordPattern) -> set[int]:
        found: set[int] = set()
        for key in self._keys_for(pattern):
            found.update(self._postings[key][0::_STRIDE])
        return found

    def _occurrences_of(
        self, pattern: WordPattern, within: set[int] | None = None
    ) -> list[tuple[int, ...]]:
        """(doc, field, position, width, start, end) of every text word the pattern matches,
        only in the docs `within` if given (jumping to them: postings are sorted by doc)."""
        found: list[tuple[int, ...]] = []
        for key in self._keys_for(pattern):
            flat = self._postings[key]
            columns = [flat[i::_STRIDE] for i in range(_STRIDE)]
            if within is not None and len(within) * 16 < len(columns[0]):
                docs = columns[0]
                rows: Iterable[int] = (
                    j
                    for d in sorted(within)
                    for j in range(bisect_left(docs, d), bisect_right(docs, d))
                )
                hits: Iterable[tuple[int, ...]] = (tuple(c[j] for c in columns) for j in rows)
            else:
                hits = zip(*columns, strict=True)
                if within is not None:
                    hits = (h for h in hits if h[0] in within)
            for hit in hits:
                if pattern.kind == "prefix" and hit[3] > 1:
                    continue  # "quantiz*" should light up "Quantization", not "...-aware"
                if pattern.kind == "exact" and not self._same_case(pattern.value, hit):
                    continue
                found.append(hit)
        return found

    def _same_case(self, wanted: str, hit: tuple[int, ...]) -> bool:
        doc, field_no, _pos, _width, start, end = hit
        surface = field_text(self.papers[doc], TEXT_FIELDS[field_no])[start:end]
        return exact_surface_matches(wanted, surface.replace("-", ""))

    def _match_sequence(self, sequence: tuple[WordPattern, ...]) -> list[tuple[int, ...]]:
        """(doc, field, start char, end char) of each place the word sequence occurs."""
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

    def _match_term(self, compiled: CompiledTerm) -> TermHits:
        per_doc: dict[int, dict[int, list[tuple[int, int]]]] = {}
        for sequence in compiled.alternatives:
            for d, f, start, end in self._match_sequence(sequence):
                fields = per_doc.get(d)
                if fields is None:
                    per_doc[d] = {f: [(start, end)]}
                else:
                    fields.setdefault(f, []).append((start, end))
        if not per_doc:
            return _NO_HITS
        idf = self._term_idf(compiled)
        saturation = idf * (K1 + 1.0)
        # per field number: boost, and the length normalisation as norm = fixed + slope * len
        boost = [FIELD_BOOST[f] for f in TEXT_FIELDS]
        fixed = [1.0 - FIELD_B[f] for f in TEXT_FIELDS]
        slope = [
            FIELD_B[f] / max(self.stats.avg_length.get(f.value, 0.0), 1.0) for f in TEXT_FIELDS
        ]
        docs: list[int] = []
        scores: list[float] = []
        spans: dict[int, tuple[tuple[Field, tuple[tuple[int, int], ...]], ...]] = {}
        for d, fields in per_doc.items():
            tf = 0.0
            lengths = self._lengths[d]
            shown: list[tuple[int, tuple[tuple[int, int], ...]]] = []
            for f, found in fields.items():
                merged = _merge(found) if len(found) > 1 else (found[0],)
                tf += boost[f] * len(merged) / (fixed[f] + slope[f] * lengths[f])
                shown.append((_FIELD_RANK[f], merged))
            docs.append(d)
            scores.append(saturation * tf / (tf + K1))
            if len(shown) > 1:
                shown.sort()
            spans[d] = tuple((_FIELD_BY_RANK[r], merged) for r, merged in shown)
        return TermHits(tuple(docs), tuple(scores), spans, dict(zip(docs, scores, strict=True)))

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


def _merge(spans: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Sorted, non-overlapping spans (a phrase and its closed form may both have matched)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)


def build_index(papers: Sequence[Paper], *, background: CorpusStats | None = None) -> PaperIndex:
    """Index the day's papers once; `background` gives IDF (else the day's papers do)."""
    stats = background if background and background.documents else corpus_stats(papers)
    return PaperIndex(papers, stats)


# --- Ranking ------------------------------------------------------------------------------


def rank(
    index: PaperIndex,
    profile: Profile,
    *,
    eligible: Collection[str] | None = None,
    updated: Collection[str] = (),
) -> tuple[Ranked, ...]:
    """Papers for this profile, best first, each with the reasons it scored."""
    terms = _resolve_terms(index, profile)
    scores: dict[int, float] = {}
    get = scores.get
    for _topic, _text, hits, weight in terms:
        for doc, base in zip(hits.docs, hits.scores, strict=True):
            scores[doc] = get(doc, 0.0) + weight * base

    authored: dict[int, list[str]] = {}
    for author in profile.authors:
        for doc, spelled in index.author_docs(author).items():
            authored.setdefault(doc, []).append(spelled)
    for doc in authored:
        scores[doc] = get(doc, 0.0) + AUTHOR_BONUS

    in_category: dict[int, tuple[bool, str]] = {}
    for entry in profile.categories:
        for doc, (primary, spelled) in index.category_docs(entry).items():
            if primary or doc not in in_category:
                in_category[doc] = (primary, spelled)
    selects_by_category = not terms and not profile.authors
    for doc, (primary, _) in in_category.items():
        if selects_by_category or doc in scores:
            bonus = CATEGORY_BONUS * (1.0 if primary else CROSS_LIST_FACTOR)
            scores[doc] = get(doc, 0.0) + bonus

    excluded: set[int] = set()
    for text in profile.exclude:
        excluded.update(index.term_hits(Term(text)).docs)
    allowed = None
    if eligible is not None:
        allowed = {index.ordinal[i] for i in eligible if i in index.ordinal}
    replaced = {index.ordinal[i] for i in updated if i in index.ordinal}

    context = _Context(index, profile, terms, authored, in_category, replaced)
    results: list[Ranked] = []
    for doc, score in scores.items():
        if doc in excluded or (allowed is not None and doc not in allowed):
            continue
        if doc in replaced and not profile.include_updates:
            continue
        if profile.require_categories and doc not in in_category:
            continue
        if profile.popularity_weight:
            paper = index.papers[doc]
            upvotes = paper.hf.upvotes if paper.hf else 0
            if upvotes > 0 and score > 0:
                score += profile.popularity_weight * math.log1p(upvotes)
        if score < profile.min_score - 0.001:
            continue  # clearly out: skip the rounding below, most papers leave here
        score = round(score, 4)  # the score shown is the score compared
        if score <= 0 or score < profile.min_score:
            continue
        results.append(_explain(context, doc, score))
    results.sort(key=lambda r: (-r.score, r.paper.id))
    return tuple(results)


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
    replaced: set[int]


def _explain(context: _Context, doc: int, score: float) -> Ranked:
    # Called for every paper above min_score, so kept lean: most profiles have one topic.
    profile = context.profile
    paper = context.index.papers[doc]
    found = []
    for topic, text, hits, weight in context.terms:
        base = hits.base.get(doc)
        if base is not None:
            found.append((weight * base, topic, text, hits.spans[doc]))
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
    is_update = doc in context.replaced
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
