"""Fusion of keyword scores with similarity: the rules, on small papers and made-up scores.

No model here: SemanticScores is a plain mapping of paper id to cosine similarity, so the
fusion is tested with chosen numbers. These tests run with or without the semantic extra.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from digest.models import AnnounceType, Field, HFSignals, Paper, Profile, Term, Topic
from digest.rank.hybrid import DEFAULT_BLEND, SIMILAR_NOTE, Blend, hybrid_rank, keyword_matched
from digest.rank.lexical import build_index, rank
from digest.rank.semantic import SemanticScores, available, paper_text, profile_key, profile_text

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


# --- points ---------------------------------------------------------------------------------


def test_points_rise_linearly_between_low_and_high_and_saturate() -> None:
    blend = Blend(weight=8.0, low=0.25, high=0.55)
    assert blend.points(None) == 0.0
    assert blend.points(0.1) == 0.0
    assert blend.points(0.25) == 0.0
    assert blend.points(0.40) == pytest.approx(4.0)
    assert blend.points(0.55) == pytest.approx(8.0)
    assert blend.points(0.95) == pytest.approx(8.0)


# --- without semantic scores ----------------------------------------------------------------


def test_without_semantic_scores_the_result_is_exactly_the_keyword_ranking() -> None:
    p = profile(exclude=("heat diffusion",))
    assert hybrid_rank(INDEX, p, PAPERS, semantic=None) == rank(INDEX, p)


# --- blending -------------------------------------------------------------------------------


def test_similarity_adds_points_to_keyword_matches_on_the_absolute_scale() -> None:
    p = profile()
    lexical = {r.paper.id: r.score for r in rank(INDEX, replace(p, min_score=0.0))}
    ranked = hybrid_rank(INDEX, p, PAPERS, semantic=scores(p1=0.70))
    first = by_id(ranked, "1")
    assert first.score == pytest.approx(lexical["2401.00001"] + DEFAULT_BLEND.weight)  # type: ignore[attr-defined]
    assert first.matches == rank(INDEX, p)[0].matches  # type: ignore[attr-defined]


def test_a_homonym_is_overtaken_by_a_paper_about_the_subject() -> None:
    # The homonym has the keyword in its title, so the keyword ranker puts it first.
    papers = (
        Paper(
            id="2402.00001",
            title="A heat diffusion model for graphs",
            abstract="Heat kernels on graph Laplacians for node classification.",
        ),
        Paper(
            id="2402.00002",
            title="Sampling in four steps",
            abstract="A distilled diffusion model sampler for image generation.",
        ),
    )
    index = build_index(papers)
    p = Profile(topics=(Topic("main", (Term("diffusion model"),)),), min_score=0.0)
    assert ids(rank(index, p)) == ["1", "2"]
    meaning = SemanticScores({"2402.00001": 0.15, "2402.00002": 0.62})
    assert ids(hybrid_rank(index, p, papers, semantic=meaning)) == ["2", "1"]


def test_min_score_applies_after_the_blend() -> None:
    p = profile(min_score=30.0)
    assert rank(INDEX, p) == ()
    ranked = hybrid_rank(INDEX, p, PAPERS, semantic=scores(p1=0.70))
    lexical = rank(INDEX, replace(p, min_score=0.0))[0].score
    assert (lexical + DEFAULT_BLEND.weight >= 30.0) == (ids(ranked) == ["1"])
    assert hybrid_rank(INDEX, p, PAPERS, semantic=scores(p1=0.2)) == ()


# --- entering by meaning alone --------------------------------------------------------------


def test_a_paper_without_keyword_match_enters_only_above_the_entry_similarity() -> None:
    p = profile()
    assert "3" not in ids(rank(INDEX, p))
    below = hybrid_rank(INDEX, p, PAPERS, semantic=scores(p3=DEFAULT_BLEND.entry - 0.01))
    assert "3" not in ids(below)
    above = hybrid_rank(INDEX, p, PAPERS, semantic=scores(p3=0.60))
    entered = by_id(above, "3")
    assert not keyword_matched(entered)  # type: ignore[arg-type]
    assert entered.note == SIMILAR_NOTE  # type: ignore[attr-defined]
    assert entered.score == pytest.approx(DEFAULT_BLEND.points(0.60))  # type: ignore[attr-defined]
    assert entered.matches == ()  # type: ignore[attr-defined]


def test_exclusions_stay_hard_for_papers_entering_by_meaning() -> None:
    p = profile(exclude=("medical",))
    ranked = hybrid_rank(INDEX, p, PAPERS, semantic=scores(p3=0.6, p5=0.9))
    assert "5" not in ids(ranked)
    assert "3" in ids(ranked)


def test_required_categories_apply_and_followed_categories_add_their_bonus() -> None:
    p = profile(categories=("stat.ML",))
    ranked = hybrid_rank(INDEX, p, PAPERS, semantic=scores(p3=0.6, p5=0.6))
    three, five = by_id(ranked, "3"), by_id(ranked, "5")
    assert three.score > five.score  # type: ignore[attr-defined]
    assert "category: stat.ML" in three.note  # type: ignore[attr-defined]
    assert [m.field for m in three.matches] == [Field.CATEGORIES]  # type: ignore[attr-defined]
    only = hybrid_rank(
        INDEX, replace(p, require_categories=True), PAPERS, semantic=scores(p3=0.6, p5=0.6)
    )
    assert ids(only) == ["3"]


def test_meaning_alone_lets_in_at_most_the_closest_few() -> None:
    similar = scores(p2=0.5, p3=0.9, p4=0.7, p5=0.6, p6=0.8)
    ranked = hybrid_rank(INDEX, profile(), PAPERS, semantic=similar, blend=Blend(most_by_meaning=2))
    by_meaning = [r.paper.id[-1] for r in ranked if not keyword_matched(r)]
    assert sorted(by_meaning) == ["3", "6"]


def test_eligibility_and_updates_are_respected_for_papers_entering_by_meaning() -> None:
    similar = scores(p3=0.6, p5=0.6)
    eligible = {"2401.00001", "2401.00005"}
    chosen = hybrid_rank(INDEX, profile(), PAPERS, semantic=similar, eligible=eligible)
    assert sorted(ids(chosen)) == ["1", "5"]
    updated = {"2401.00003"}
    kept_out = hybrid_rank(INDEX, profile(), PAPERS, semantic=similar, updated=updated)
    assert "3" not in ids(kept_out)
    wanted = hybrid_rank(
        INDEX, profile(include_updates=True), PAPERS, semantic=similar, updated=updated
    )
    three = by_id(wanted, "3")
    assert three.updated  # type: ignore[attr-defined]
    assert "updated version" in three.note  # type: ignore[attr-defined]


def test_popularity_lifts_a_paper_entering_by_meaning_and_says_so() -> None:
    p = profile(popularity_weight=1.0)
    ranked = hybrid_rank(INDEX, p, PAPERS, semantic=scores(p6=0.6))
    six = by_id(ranked, "6")
    assert six.score > DEFAULT_BLEND.points(0.6)  # type: ignore[attr-defined]
    assert six.note == f"{SIMILAR_NOTE}; 20 upvotes on Hugging Face"  # type: ignore[attr-defined]


def test_a_followed_author_paper_says_when_its_subject_fits_too() -> None:
    p = profile(authors=("Ada Lovelace",))
    close = by_id(hybrid_rank(INDEX, p, PAPERS, semantic=scores(p6=0.6)), "6")
    assert close.note == f"{SIMILAR_NOTE}; followed author: Ada Lovelace"  # type: ignore[attr-defined]
    far = by_id(hybrid_rank(INDEX, p, PAPERS, semantic=scores(p6=0.2)), "6")
    assert far.note == "followed author: Ada Lovelace"  # type: ignore[attr-defined]


def test_replacements_announced_as_such_are_not_special_for_the_blend() -> None:
    # announce type is the selector's business: hybrid_rank only follows `updated`
    papers = (replace(PAPERS[2], announce_type=AnnounceType.REPLACE),)
    index = build_index(papers)
    ranked = hybrid_rank(index, profile(), papers, semantic=SemanticScores({papers[0].id: 0.6}))
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


def test_available_is_a_plain_answer() -> None:
    assert available() in (True, False)
