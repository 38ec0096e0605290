from __future__ import annotations

import dataclasses
import json

import pytest

from digest.config.profiles import profile_from_options
from digest.models import Field, HFSignals, Paper, Profile, Ranked, Term, Topic
from digest.rank.lexical import CorpusStats, build_index, corpus_stats, field_text, rank


def paper(pid: str, title: str, abstract: str = "", **extra: object) -> Paper:
    return Paper(id=pid, title=title, abstract=abstract, **extra)  # type: ignore[arg-type]


FILLER = [
    paper(f"f{i}", f"A study of model number {i}", "We propose a model and evaluate the model.")
    for i in range(20)
]


def ranked_ids(results: tuple[Ranked, ...]) -> list[str]:
    return [r.paper.id for r in results]


def highlighted(result: Ranked, term: str, which: Field) -> list[str]:
    text = field_text(result.paper, which)
    return [
        text[s:e] for m in result.matches if m.term == term and m.field is which for s, e in m.spans
    ]


def test_stemmed_phrase_matches_plural_and_reports_spans() -> None:
    papers = [
        paper(
            "a",
            "Fast Diffusion Models",
            "Diffusion models are slow; we speed up diffusion-model sampling.",
        ),
        paper("b", "Diffusion of heat in models", "Heat diffusion in metal models."),
        *FILLER,
    ]
    results = rank(build_index(papers), profile_from_options(["diffusion model"]))
    assert ranked_ids(results) == ["a"]
    top = results[0]
    assert highlighted(top, "diffusion model", Field.TITLE) == ["Diffusion Models"]
    assert highlighted(top, "diffusion model", Field.ABSTRACT) == [
        "Diffusion models",
        "diffusion-model",
    ]
    assert top.topic == "keywords"
    assert top.matched_terms == ("diffusion model",)


def test_hyphen_space_and_closed_forms_are_one_keyword() -> None:
    papers = [
        paper("a", "State-space models"),
        paper("b", "State space models"),
        paper("c", "Statespace models"),
        paper("d", "Finetuning at scale"),
        paper("e", "Fine tuning at scale"),
        *FILLER,
    ]
    index = build_index(papers)
    assert set(ranked_ids(rank(index, profile_from_options(["state space"])))) == {"a", "b", "c"}
    # a hyphenated word also tries its closed form; spaced words only as the whole keyword
    assert set(ranked_ids(rank(index, profile_from_options(["state-space model"])))) == {
        "a",
        "b",
        "c",
    }
    assert set(ranked_ids(rank(index, profile_from_options(["state space model"])))) == {"a", "b"}
    assert set(ranked_ids(rank(index, profile_from_options(["fine-tuning"])))) == {"d", "e"}
    assert set(ranked_ids(rank(index, profile_from_options(["finetuning"])))) == {"d"}


def test_prefix_wildcard_and_acronym_case() -> None:
    papers = [
        paper("q", "Quantized networks", "Quantization-aware training."),
        paper("l", "LLMs as judges"),
        paper("w", "Fill the gaps", "llm is not a word here but appears in lowercase"),
        *FILLER,
    ]
    index = build_index(papers)
    results = rank(index, profile_from_options(["quantiz*"]))
    assert ranked_ids(results) == ["q"]
    assert highlighted(results[0], "quantiz*", Field.ABSTRACT) == ["Quantization"]
    assert ranked_ids(rank(index, profile_from_options(["LLM"]))) == ["l"]
    assert set(ranked_ids(rank(index, profile_from_options(["llm"])))) == {"l", "w"}


def test_title_beats_abstract_and_rare_beats_common() -> None:
    papers = [
        paper("title", "Sinkhorn iterations", "We study an algorithm."),
        paper("abstract", "An algorithm", "We study Sinkhorn iterations."),
        paper("common", "A model", "model model model"),
        *FILLER,
    ]
    index = build_index(papers)
    results = rank(index, profile_from_options(["sinkhorn", "model"]))
    ids = ranked_ids(results)
    assert ids[:2] == ["title", "abstract"]
    everything = Profile(topics=profile_from_options(["model"]).topics, min_score=0)
    common = rank(index, everything)
    assert results[0].score > results[1].score > 2 * common[0].score
    # a word in every paper scores under the default min_score of 1: it alone selects nothing
    assert common[0].score < 1
    assert rank(index, profile_from_options(["model"])) == ()


def test_exclusions_remove_papers() -> None:
    papers = [
        paper("a", "Diffusion models for medical imaging"),
        paper("b", "Diffusion models for audio"),
        *FILLER,
    ]
    profile = profile_from_options(["diffusion model"], exclude=["medical imag*"])
    assert ranked_ids(rank(build_index(papers), profile)) == ["b"]


def test_followed_author_matches_variants_and_explains() -> None:
    papers = [
        paper("a", "Unrelated", authors=("Y. Song", "A. N. Other")),
        paper("b", "Unrelated too", authors=("Yáng Sòng",)),
        paper("c", "Also unrelated", authors=("Yi Song",)),
        paper("d", "Something", authors=("Song, Yang",)),
        *FILLER,
    ]
    index = build_index(papers)
    results = rank(index, profile_from_options([], authors=["Yang Song"]))
    assert set(ranked_ids(results)) == {"a", "b", "d"}
    first = next(r for r in results if r.paper.id == "a")
    assert first.note == "followed author: Y. Song"
    assert highlighted(first, "Y. Song", Field.AUTHORS) == ["Y. Song"]
    by_initial = rank(index, profile_from_options([], authors=["Y. Song"]))
    assert set(ranked_ids(by_initial)) == {"a", "b", "c", "d"}


def test_categories_boost_select_and_require() -> None:
    papers = [
        paper("lg", "Sparse attention", categories=("cs.LG",)),
        paper("cl", "Sparse attention again", categories=("cs.CL", "cs.LG")),
        paper("ph", "Sparse attention for physics", categories=("physics.comp-ph",)),
        paper("quiet", "Nothing to see", categories=("cs.LG",)),
        *FILLER,
    ]
    index = build_index(papers)
    boosted = rank(index, profile_from_options(["sparse attention"], categories=["cs.LG"]))
    ids = ranked_ids(boosted)
    assert ids[0] == "lg" and set(ids) == {"lg", "cl", "ph"}  # boost, not selection
    assert "category: cs.LG (cross-list)" in next(r.note for r in boosted if r.paper.id == "cl")
    selected = rank(index, profile_from_options([], categories=["cs"]))
    assert set(ranked_ids(selected)) == {"lg", "cl", "quiet"}
    required = Profile(
        topics=(Topic("t", (Term("sparse attention"),)),),
        categories=("cs.LG",),
        require_categories=True,
    )
    assert set(ranked_ids(rank(index, required))) == {"lg", "cl"}


def test_min_score_eligible_and_updates() -> None:
    papers = [
        paper("strong", "Sinkhorn Sinkhorn", "Sinkhorn algorithm."),
        paper("weak", "Other", "one mention of Sinkhorn"),
        paper("old", "Sinkhorn revisited"),
        *FILLER,
    ]
    index = build_index(papers)
    base = profile_from_options(["sinkhorn"])
    scores = {r.paper.id: r.score for r in rank(index, base)}
    assert scores["strong"] > scores["old"] > scores["weak"]
    cut = Profile(topics=base.topics, min_score=scores["strong"])
    assert ranked_ids(rank(index, cut)) == ["strong"]
    assert ranked_ids(rank(index, base, eligible={"weak", "nope"})) == ["weak"]
    assert "old" not in ranked_ids(rank(index, base, updated={"old"}))
    with_updates = Profile(topics=base.topics, include_updates=True)
    old = next(r for r in rank(index, with_updates, updated={"old"}) if r.paper.id == "old")
    assert old.updated and "updated version" in old.note


def test_popularity_blend_and_hf_keywords_field() -> None:
    hot = HFSignals(upvotes=200, ai_keywords=("flow matching", "optimal transport"))
    papers = [
        paper("hot", "A new generative method", hf=hot),
        paper("cold", "Flow matching", "Flow matching again."),
        *FILLER,
    ]
    index = build_index(papers)
    plain = rank(index, profile_from_options(["flow matching"]))
    assert ranked_ids(plain) == ["cold", "hot"]
    assert highlighted(plain[1], "flow matching", Field.KEYWORDS) == ["flow matching"]
    popular = Profile(
        topics=plain and profile_from_options(["flow matching"]).topics, popularity_weight=2.0
    )
    lifted = rank(index, popular)
    assert ranked_ids(lifted) == ["hot", "cold"]
    assert "200 upvotes" in lifted[0].note


def test_best_topic_is_reported() -> None:
    papers = [paper("a", "Quantized diffusion models", "We quantize diffusion models."), *FILLER]
    profile = Profile(
        topics=(
            Topic("gen", (Term("diffusion model", 0.2),)),
            Topic("eff", (Term("quantiz*", 3.0),)),
        )
    )
    (result,) = rank(build_index(papers), profile)
    assert result.topic == "eff"
    assert next(m.topic for m in result.matches) == "eff"


def test_scores_are_comparable_across_days_with_a_background() -> None:
    background = corpus_stats([*FILLER, paper("x", "Sinkhorn", "Sinkhorn distance")])
    target = paper("t", "Sinkhorn iterations", "Fast Sinkhorn.")
    day1 = build_index([target, *FILLER[:3]], background=background)
    day2 = build_index(
        [target, *[paper(f"s{i}", "Sinkhorn", "Sinkhorn") for i in range(30)]],
        background=background,
    )
    profile = profile_from_options(["sinkhorn"])
    score1 = next(r.score for r in rank(day1, profile) if r.paper.id == "t")
    score2 = next(r.score for r in rank(day2, profile) if r.paper.id == "t")
    assert score1 == score2


def test_corpus_stats_round_trip_through_json() -> None:
    stats = corpus_stats(FILLER)
    again = CorpusStats.from_dict(json.loads(json.dumps(stats.to_dict())))
    assert again == stats
    assert stats.documents == 20
    assert stats.idf("model") < stats.idf("unseen")


def test_duplicate_keywords_do_not_count_twice() -> None:
    papers = [paper("a", "Galaxies", "galaxy formation"), *FILLER]
    index = build_index(papers)
    once = rank(index, profile_from_options(["galaxy"]))[0].score
    twice = rank(index, profile_from_options(["galaxy", "galaxies"]))[0].score
    assert once == twice


def test_nothing_matches_nothing_returned() -> None:
    assert rank(build_index(FILLER), profile_from_options(["hyperbolic"])) == ()
    assert rank(build_index([]), profile_from_options(["x"])) == ()


@pytest.mark.parametrize("keyword", ["SE(3)", "ΛCDM", "Schrödinger bridge"])
def test_unusual_keywords_find_their_paper(keyword: str) -> None:
    papers = [
        paper("se3", "Iterative SE(3)-Transformers"),
        paper("lcdm", "Hierarchical topology in ΛCDM cosmologies"),
        paper("sb", "Light Schrodinger Bridge"),
        *FILLER,
    ]
    expected = {"SE(3)": "se3", "ΛCDM": "lcdm", "Schrödinger bridge": "sb"}[keyword]
    assert ranked_ids(rank(build_index(papers), profile_from_options([keyword]))) == [expected]


@pytest.mark.parametrize(
    ("keyword", "abstract", "matches"),
    [
        ("large language model", "We study large language and image generation models.", True),
        ("large language model", "A large vision language model for charts.", True),
        ("large language model", "Large language models are evaluated.", True),
        ("reward model", "Against reward hacking and model collapse in training.", False),
        ("reward model", "Reward shaping, then a new model of the critic.", False),
        ("policy optimization", "Policy gradient optimization with trust regions.", True),
    ],
)
def test_phrases_cross_a_coordination_or_one_word_but_no_more(
    keyword: str, abstract: str, matches: bool
) -> None:
    papers = [paper("2411.00001", "A study", abstract), paper("2411.00002", "Other", "Unrelated.")]
    # min_score 0: this asks whether the phrase matches at all, not how much it weighs.
    profile = dataclasses.replace(profile_from_options([keyword]), min_score=0)
    ranked = rank(build_index(papers), profile)
    assert [r.paper.id for r in ranked] == (["2411.00001"] if matches else [])
