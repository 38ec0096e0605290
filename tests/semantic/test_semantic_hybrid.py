"""Fusion of keyword scores with similarity: the rules, on small papers and made-up scores.

No model here: SemanticScores is a plain mapping of paper id to cosine similarity, so the
fusion is tested with chosen numbers. These tests run with or without the semantic extra.
"""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from dataclasses import replace

import pytest

from digest.models import AnnounceType, HFSignals, Paper, Profile, Term, Topic
from digest.rank.hybrid import DEFAULT_BLEND, SIMILAR_NOTE, Blend, hybrid_rank, keyword_matched
from digest.rank.lexical import build_index, rank
from digest.rank.semantic import (
    REQUIRED_MODULES,
    SemanticScores,
    available,
    paper_text,
    profile_key,
    profile_text,
)

PAPERS = (
    Paper(
        id="2401.00001",
        title="Fast samplers for diffusion models",
        abstract="We speed up sampling of diffusion models with a higher-order ODE solver.",
        categories=("cs.LG",),
    ),
    Paper(
        id="2401.00002",
        title="Heat diffusion on graphs",
        abstract="We study heat diffusion and the graph Laplacian for node classification.",
        categories=("cs.LG",),
    ),
    Paper(
        id="2401.00003",
        title="Score-based generative modelling in few steps",
        abstract="Denoising generative models that need only four network evaluations.",
        categories=("stat.ML", "cs.LG"),
    ),
    Paper(
        id="2401.00004",
        title="Galaxy rotation curves without dark matter",
        abstract="Modified gravity fits the rotation curves of spiral galaxies.",
        categories=("astro-ph.GA",),
    ),
    Paper(
        id="2401.00005",
        title="Generative image models for medical scans",
        abstract="Denoising generative models synthesise medical images for training.",
        categories=("eess.IV",),
    ),
    Paper(
        id="2401.00006",
        title="Flow matching in latent space",
        abstract="Straight probability paths make generative image models fast to sample.",
        authors=("Ada Lovelace",),
        categories=("cs.CV",),
        hf=HFSignals(upvotes=20),
    ),
)
INDEX = build_index(PAPERS)


def profile(**changes: object) -> Profile:
    base = Profile(
        topics=(Topic("main", (Term("diffusion model"), Term("sampler"))),),
        description="Fast sampling of diffusion and score-based generative models.",
        min_score=1.0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def scores(**by_suffix: float) -> SemanticScores:
    """Similarities by the last digit of the paper id; unlisted papers get 0.1."""
    return SemanticScores({p.id: by_suffix.get(f"p{p.id[-1]}", 0.1) for p in PAPERS})


def ids(ranked: tuple[object, ...]) -> list[str]:
    return [r.paper.id[-1] for r in ranked]  # type: ignore[attr-defined]


def by_id(ranked: tuple[object, ...], suffix: str) -> object:
    return next(r for r in ranked if r.paper.id.endswith(suffix))  # type: ignore[attr-defined]


# --- the blend ------------------------------------------------------------------------------


def test_without_semantic_scores_the_result_is_exactly_the_keyword_ranking() -> None:
    p = profile(exclude=("heat diffusion",))
    assert hybrid_rank(INDEX, p, PAPERS, semantic=None) == rank(INDEX, p)


def z(values: list[float]) -> list[float]:
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return [(v - mean) / spread for v in values]


def test_the_score_is_z_of_the_keyword_evidence_plus_z_of_the_similarity() -> None:
    p = profile()
    meaning = scores(p1=0.7, p2=0.2, p3=0.6, p4=0.05, p5=0.3, p6=0.5)
    lexical = {r.paper.id: r.score for r in rank(INDEX, replace(p, min_score=0.0))}
    ids_all = [q.id for q in PAPERS]
    zl = z([math.log1p(lexical.get(i, 0.0)) for i in ids_all])
    zs = z([meaning.similarity[i] for i in ids_all])
    rows = zip(ids_all, zl, zs, strict=True)
    expected = {i: round(a + DEFAULT_BLEND.meaning * b, 4) for i, a, b in rows}
    ranked = hybrid_rank(INDEX, p, PAPERS, semantic=meaning)
    assert ranked, "something is listed"
    for r in ranked:
        assert r.score == pytest.approx(expected[r.paper.id], abs=1e-4)
    first = by_id(ranked, "1")
    assert first.matches == rank(INDEX, p)[0].matches  # type: ignore[attr-defined]


def test_a_keyword_match_far_from_the_subject_sinks_below_a_paper_about_it() -> None:
    p = profile()
    # paper 2 ("heat diffusion") matches nothing of the profile in words; paper 1 does:
    # give the keyword match a low similarity and a meaning-only paper a high one
    ranked = hybrid_rank(INDEX, p, PAPERS, semantic=scores(p1=0.05, p3=0.9, p6=0.2))
    assert ids(ranked)[0] == "3"
    assert by_id(ranked, "3").note == SIMILAR_NOTE  # type: ignore[attr-defined]
    assert not keyword_matched(by_id(ranked, "3"))  # type: ignore[arg-type]


def test_a_paper_without_keyword_evidence_enters_only_when_close_in_meaning() -> None:
    p = profile()
    ranked = hybrid_rank(INDEX, p, PAPERS, semantic=scores(p1=0.6, p3=0.6))
    assert "4" not in ids(ranked) and "3" in ids(ranked)
    strict = hybrid_rank(INDEX, p, PAPERS, semantic=scores(p1=0.6, p3=0.6), blend=Blend(entry=5))
    assert "3" not in ids(strict)


def test_exclusions_weigh_by_place_and_count() -> None:
    # "medical" is in paper 5's title: out. "node" once in paper 2's abstract: only damped.
    p = profile(exclude=("medical",))
    ranked = hybrid_rank(INDEX, p, PAPERS, semantic=scores(p3=0.6, p5=0.9))
    assert "5" not in ids(ranked)
    assert "3" in ids(ranked)
    passing = Profile(topics=(Topic("t", (Term("heat diffusion"),)),), exclude=("graph Laplacian",))
    assert ids(rank(INDEX, passing)) == ["2"]
    plain = rank(INDEX, replace(passing, exclude=()))[0].score
    assert rank(INDEX, passing)[0].score == pytest.approx(plain * 0.5, abs=1e-3)
    twice = replace(passing, exclude=("graph",))  # "graphs" in the title: out
    assert rank(INDEX, twice) == ()


def test_required_categories_eligibility_and_updates_hold_for_meaning() -> None:
    similar = scores(p3=0.6, p5=0.6)
    only = hybrid_rank(
        INDEX, profile(categories=("stat.ML",), require_categories=True), PAPERS, semantic=similar
    )
    assert set(ids(only)) <= {"3"}
    eligible = {"2401.00001", "2401.00005"}
    chosen = hybrid_rank(INDEX, profile(), PAPERS, semantic=similar, eligible=eligible)
    assert set(ids(chosen)) <= {"1", "5"}
    updated = {"2401.00003"}
    kept_out = hybrid_rank(INDEX, profile(), PAPERS, semantic=similar, updated=updated)
    assert "3" not in ids(kept_out)
    wanted = hybrid_rank(
        INDEX, profile(include_updates=True), PAPERS, semantic=similar, updated=updated
    )
    three = by_id(wanted, "3")
    assert three.updated  # type: ignore[attr-defined]
    assert "updated version" in three.note  # type: ignore[attr-defined]


def test_a_followed_author_paper_says_when_its_subject_fits_too() -> None:
    p = profile(authors=("Ada Lovelace",))
    close = by_id(hybrid_rank(INDEX, p, PAPERS, semantic=scores(p6=0.9)), "6")
    assert close.note == f"{SIMILAR_NOTE}; followed author: Ada Lovelace"  # type: ignore[attr-defined]
    far = by_id(hybrid_rank(INDEX, p, PAPERS, semantic=scores(p6=0.1, p1=0.9)), "6")
    assert far.note == "followed author: Ada Lovelace"  # type: ignore[attr-defined]


def test_replacements_announced_as_such_are_not_special_for_the_blend() -> None:
    # announce type is the selector's business: hybrid_rank only follows `updated`
    papers = (replace(PAPERS[2], announce_type=AnnounceType.REPLACE), PAPERS[3])
    index = build_index(papers)
    meaning = SemanticScores({papers[0].id: 0.6, papers[1].id: 0.1})
    ranked = hybrid_rank(index, profile(), papers, semantic=meaning)
    assert ids(ranked) == ["3"]


# --- what is embedded -----------------------------------------------------------------------


def test_profile_text_is_keywords_then_description_without_weights_or_wildcard_stems() -> None:
    p = Profile(
        topics=(
            Topic("a", (Term("equivarian*", 2.0), Term("equivariant"), Term("quantiz*"))),
            Topic("b", (Term('"Lie group"'), Term("equivariant"))),
        ),
        exclude=("replica symmetry",),
        authors=("Ada Lovelace",),
        description="  Symmetry in\nneural networks. ",
    )
    assert profile_text(p) == "equivariant; quantiz; Lie group. Symmetry in neural networks."
    assert profile_text(Profile(authors=("Ada Lovelace",))) == ""
    assert profile_text(Profile(description="Only words.")) == "Only words."


def test_profile_key_changes_exactly_when_the_embedded_text_does() -> None:
    p = profile()
    assert profile_key(profile_text(p)) == profile_key(profile_text(replace(p, min_score=5.0)))
    assert profile_key(profile_text(p)) != profile_key(profile_text(replace(p, description="")))
    assert profile_key("x").startswith("profile:")


def test_paper_text_is_title_then_abstract() -> None:
    assert paper_text(PAPERS[0]).startswith("Fast samplers for diffusion models. We speed up")
    assert paper_text(Paper(id="x", title="What?  Now", abstract="")) == "What? Now"
    assert paper_text(Paper(id="x", title="Q?", abstract="A.")) == "Q? A."


@pytest.mark.parametrize("missing", REQUIRED_MODULES)
def test_available_is_false_when_any_part_of_the_extra_is_missing(
    missing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # what the import system says of a gap
    assert importlib.util.find_spec(missing) is None
    assert available() is False


AVAILABLE_THEN_IMPORTS = """
import importlib, sys
from digest.rank.semantic import REQUIRED_MODULES, available
answer = available()
loaded = [m for m in REQUIRED_MODULES[1:] if m in sys.modules]
try:
    for name in REQUIRED_MODULES:
        importlib.import_module(name)
    importable = True
except ImportError:
    importable = False
print(answer, importable, loaded)
"""


def test_available_says_whether_the_extra_imports_and_loads_none_of_it() -> None:
    # In a fresh interpreter: asking must not import torch or the model (seconds, memory);
    # its answer is whether every part of the extra then really imports.
    done = subprocess.run(
        [sys.executable, "-c", AVAILABLE_THEN_IMPORTS], capture_output=True, text=True, check=True
    )
    answer, importable, loaded = done.stdout.strip().split(" ", 2)
    assert answer == importable
    assert loaded == "[]"
