"""The vectorised blend (hybrid_top / hybrid_rank) gives exactly what the blend did one
paper at a time (tests/semantic/reference_hybrid.py): same papers, order, scores, matches and
notes, for every judged interest and for profiles with exclusions, eligibility, updates,
categories and votes' notes.

The judged set's committed paper vectors stand in for a day's; profile vectors are centroids
of papers and random directions (their values do not matter for sameness, only that they
spread the similarities as real ones do).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from digest.config.profiles import profile_from_options
from digest.models import HFSignals, Paper, Profile, Term, Topic
from digest.rank.hybrid import Blend, hybrid_rank, hybrid_top
from digest.rank.lexical import PaperIndex, build_index
from digest.rank.semantic import SemanticScores, SimilarityRows
from tests.rank.judged import load_corpus, load_interests
from tests.rank.judged.evaluate import VECTORS

from .reference_hybrid import reference_hybrid_rank

CATEGORIES = ("cs.LG", "stat.ML", "cs.CV", "astro-ph.CO")


def _day() -> tuple[tuple[Paper, ...], PaperIndex, tuple[str, ...], np.ndarray]:
    corpus = load_corpus()
    papers = tuple(
        Paper(
            id=p.id,
            title=p.title,
            abstract=p.abstract,
            authors=("Ada Lovelace",) if n % 17 == 0 else (),
            categories=(CATEGORIES[n % 4], CATEGORIES[(n + 1) % 4]),
            hf=HFSignals(upvotes=n % 40) if n % 5 == 0 else None,
        )
        for n, p in enumerate(corpus)
    )
    with np.load(VECTORS) as data:
        by_id = dict(zip((str(i) for i in data["ids"]), data["vectors"], strict=True))
    ids = tuple(p.id for p in papers)
    return papers, build_index(papers), ids, np.stack([by_id[i] for i in ids])


PAPERS, INDEX, IDS, MATRIX = _day()
POSITION = {i: n for n, i in enumerate(IDS)}


def similarity(vector: np.ndarray) -> SemanticScores:
    unit = (vector / np.linalg.norm(vector)).astype(np.float32)
    return SemanticScores(SimilarityRows(IDS, POSITION, (MATRIX @ unit).astype(np.float64)))


def profiles() -> list[tuple[str, Profile, SemanticScores]]:
    rng = np.random.default_rng(15)
    made = []
    for interest in load_interests():
        full = replace(profile_from_options(interest.keywords), description=interest.description)
        short = profile_from_options(interest.short)
        rows = rng.choice(len(IDS), size=5, replace=False)
        toward = similarity(MATRIX[rows].mean(axis=0))
        made.append((f"{interest.name} full", full, toward))
        made.append((f"{interest.name} short", short, similarity(rng.standard_normal(384))))
    first = made[0][1]
    made.append(("exclude", replace(first, exclude=("sampling", "image")), made[0][2]))
    made.append(("categories", replace(first, categories=("cs.LG",)), made[0][2]))
    made.append(
        ("require", replace(first, categories=("stat",), require_categories=True), made[0][2])
    )
    made.append(("author", replace(first, authors=("Ada Lovelace",)), made[0][2]))
    made.append(("popular", replace(first, popularity_weight=0.5), made[0][2]))
    made.append(("min_score 3", replace(first, min_score=3.0), made[0][2]))
    made.append(("no keywords", Profile(categories=("cs.CV",)), made[1][2]))
    only = Profile(topics=(Topic("t", (Term("diffusion"),)),))
    made.append(("one keyword", only, made[2][2]))
    return made


CASES = profiles()
ELIGIBLE = frozenset(IDS[::3])
UPDATED = IDS[1::7]


@pytest.mark.parametrize(("name", "profile", "scores"), CASES, ids=[c[0] for c in CASES])
def test_the_blend_on_arrays_is_the_blend_paper_by_paper(
    name: str, profile: Profile, scores: SemanticScores
) -> None:
    del name
    liked = {IDS[n]: 0.7 for n in range(0, len(IDS), 11)}
    variants: list[dict[str, object]] = [
        {},
        {"eligible": ELIGIBLE, "updated": UPDATED, "liked": liked},
        {"updated": UPDATED, "blend": Blend(meaning=2.0, entry=0.0, floor=-1.0)},
    ]
    for options in variants:
        wanted = reference_hybrid_rank(INDEX, profile, PAPERS, semantic=scores, **options)  # type: ignore[arg-type]
        assert wanted, "a case that lists nothing proves nothing"
        assert hybrid_rank(INDEX, profile, PAPERS, semantic=scores, **options) == wanted  # type: ignore[arg-type]
        for limit in (0, 1, 10, 25):
            top = hybrid_top(INDEX, profile, PAPERS, semantic=scores, limit=limit, **options)  # type: ignore[arg-type]
            assert top.ranked == wanted[:limit]
            assert top.matched == len(wanted)


def test_includes_updates_when_the_profile_wants_them() -> None:
    name, first, scores = CASES[0]
    wanting = replace(first, include_updates=True)
    wanted = reference_hybrid_rank(INDEX, wanting, PAPERS, semantic=scores, updated=UPDATED)
    assert any(r.updated for r in wanted), name
    assert hybrid_rank(INDEX, wanting, PAPERS, semantic=scores, updated=UPDATED) == wanted


def test_plain_mapping_scores_give_the_same_as_rows() -> None:
    _name, first, scores = CASES[0]
    plain = SemanticScores(dict(scores.similarity.items()))
    assert hybrid_rank(INDEX, first, PAPERS, semantic=plain) == hybrid_rank(
        INDEX, first, PAPERS, semantic=scores
    )
