"""Explain the papers a profile ranked: the keywords each matched and where (the Match
spans a digest highlights), its best topic, and the note on its other reasons (followed
author, category, upvotes, updated version)."""

from __future__ import annotations

import operator
from collections.abc import Mapping, Set
from dataclasses import dataclass

import numpy as np

from digest.models import Field, Match, Paper, Profile, Ranked
from digest.rank.fields import field_text
from digest.rank.index import PaperIndex
from digest.rank.scoring import Pairs, ResolvedTerm

_POINTS = operator.itemgetter(0)


@dataclass(frozen=True, slots=True)
class ExplainContext:
    """What explaining one paper needs, worked out once per profile."""

    index: PaperIndex
    profile: Profile
    terms: list[ResolvedTerm]
    authored: Mapping[int, list[str]]
    in_category: Mapping[int, tuple[bool, str]]
    replaced: Set[str]  # ids of papers that are new versions of ones already sent


def explain_all(
    context: ExplainContext, best: list[tuple[float, int]], pairs: Pairs
) -> tuple[Ranked, ...]:
    """Explain the papers returned. Which keywords each one matched is found among the
    (paper, keyword) pairs of the scoring, for all of them at once; the loop below runs for
    every paper of every digest, so it is kept lean."""
    if not best:
        return ()
    slot_of = {doc: slot for slot, (_score, doc) in enumerate(best)}
    # Per paper shown, the (points, keyword number) of each keyword that found it, in the
    # pairs' (keyword) order; a keyword's topic, text and hits are looked up only when
    # its matches are made.
    found: list[list[tuple[float, int]]] = [[] for _ in best]
    if len(pairs.docs):
        shown = np.zeros(len(context.index.papers), dtype=bool)
        shown[list(slot_of)] = True
        picked = np.flatnonzero(shown[pairs.docs])
        for doc, term_no, points in zip(
            pairs.docs[picked].tolist(),
            pairs.term_no[picked].tolist(),
            pairs.points[picked].tolist(),
            strict=True,
        ):
            found[slot_of[doc]].append((points, term_no))
    terms = context.terms
    papers = context.index.papers
    one_topic = len(context.profile.topics) == 1
    noted = context.authored.keys() | context.in_category.keys()
    always_noted = bool(context.profile.popularity_weight or context.replaced)
    explained = []
    for (score, doc), reasons in zip(best, found, strict=True):
        matches: tuple[Match, ...]
        if len(reasons) == 1:  # the usual case: one keyword, its (remembered) matches as they are
            best_topic, text, hits, _weight = terms[reasons[0][1]]
            matches = hits.matches_in(doc, text, best_topic)
        elif not reasons:
            matches, best_topic = (), ""
        else:
            reasons.sort(key=_POINTS, reverse=True)  # (stable: ties keep keyword order)
            matches = ()
            for _points, term_no in reasons:
                topic, text, hits, _weight = terms[term_no]
                matches += hits.matches_in(doc, text, topic)
            best_topic = terms[reasons[0][1]][0] if one_topic else _best_topic(terms, reasons)
        paper = papers[doc]
        note, is_update = "", False
        if always_noted or doc in noted:
            note, is_update, matches = _other_reasons(context, doc, paper, matches)
        explained.append(Ranked(paper, score, matches, best_topic, is_update, note))
    return tuple(explained)


def _best_topic(terms: list[ResolvedTerm], reasons: list[tuple[float, int]]) -> str:
    by_topic: dict[str, float] = {}
    for points, term_no in reasons:
        topic = terms[term_no][0]
        by_topic[topic] = by_topic.get(topic, 0.0) + points
    return max(by_topic, key=by_topic.__getitem__)


def _other_reasons(
    context: ExplainContext, doc: int, paper: Paper, found: tuple[Match, ...]
) -> tuple[str, bool, tuple[Match, ...]]:
    """The note (followed author, category, upvotes, updated version), whether the paper
    is an update of one already sent, and the matches with the author and category ones."""
    matches = list(found)
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
    return "; ".join(notes), is_update, tuple(matches)
