"""rank_top(limit=k) is rank()[:k] plus the count of matches, for less work."""

from __future__ import annotations

from dataclasses import replace

import pytest

from digest.config.profiles import profile_from_options
from digest.models import HFSignals, Paper, Profile, Term, Topic
from digest.rank.lexical import build_index, rank, rank_top
from tests.rank.evaluate import load_corpus, load_profiles


def test_top_k_is_the_head_of_rank_for_every_judged_profile() -> None:
    papers = load_corpus()
    profiles = load_profiles()
    assert len(profiles) >= 6
    # separate indexes: rank_top's look-ups are made first, not reused from rank()'s
    top_index, full_index = build_index(papers), build_index(papers)
    cut = 0
    for name, profile in profiles.items():
        tops = {k: rank_top(top_index, profile, limit=k) for k in (25, 5, 1, 0)}
        everything = rank(full_index, profile)
        cut += len(everything) > 25
        for limit, result in tops.items():
            assert result.ranked == everything[:limit], name  # order, scores, explanations
            assert result.matched == len(everything), name
    assert cut >= 5  # most profiles match more than the top 25: the cut is exercised


def test_top_k_with_low_min_score_eligible_and_updates() -> None:
    papers = load_corpus()
    index = build_index(papers)
    ids = [p.id for p in papers]
    eligible = set(ids[::2])
    updated = set(ids[:40:3])
    for name, profile in load_profiles().items():
        for variant in (
            replace(profile, min_score=0.0),
            replace(profile, min_score=0.0, include_updates=True),
            replace(profile, popularity_weight=1.0),
        ):
            everything = rank(index, variant, eligible=eligible, updated=updated)
            result = rank_top(index, variant, limit=7, eligible=eligible, updated=updated)
            assert result.ranked == everything[:7], name
            assert result.matched == len(everything), name


def test_ties_after_rounding_go_by_paper_id_across_the_cut() -> None:
    # Twelve papers of identical text score the same: the top 5 are the lowest ids, even
    # though they were indexed in the opposite order.
    papers = [
        Paper(id=f"p{i:02d}", title="Sinkhorn iterations", abstract="Sinkhorn.")
        for i in reversed(range(12))
    ]
    filler = [Paper(id=f"f{i}", title=f"Unrelated {i}", abstract="Words.") for i in range(20)]
    index = build_index([*papers, *filler])
    result = rank_top(index, profile_from_options(["sinkhorn"]), limit=5)
    assert [r.paper.id for r in result.ranked] == ["p00", "p01", "p02", "p03", "p04"]
    assert result.matched == 12


def test_category_only_profile_counts_every_paper_in_its_categories() -> None:
    papers = [
        Paper(
            id=f"c{i}", title=f"Paper {i}", categories=("cs.LG",) if i % 2 else ("cs.CL", "cs.LG")
        )
        for i in range(30)
    ]
    index = build_index(papers)
    profile = Profile(categories=("cs.LG",), min_score=0.5)  # cross-lists score 0.5
    result = rank_top(index, profile, limit=3)
    assert result.matched == 30
    assert result.ranked == rank(index, profile)[:3]
    assert [r.paper.id for r in result.ranked] == ["c1", "c11", "c13"]  # primary, then by id
    assert all(r.score == 1.0 for r in result.ranked)


def test_popularity_lift_counts_before_the_cut() -> None:
    hot = HFSignals(upvotes=300, ai_keywords=())
    papers = [
        Paper(id="hot", title="A method", abstract="Sinkhorn appears once here.", hf=hot),
        Paper(id="cold", title="Sinkhorn iterations", abstract="Sinkhorn again."),
        *[Paper(id=f"f{i}", title=f"Unrelated {i}") for i in range(20)],
    ]
    index = build_index(papers)
    profile = Profile(topics=(Topic("t", (Term("sinkhorn"),)),), popularity_weight=2.0)
    result = rank_top(index, profile, limit=1)
    assert [r.paper.id for r in result.ranked] == ["hot"]
    assert result.matched == 2


def test_negative_limit_is_refused() -> None:
    index = build_index(load_corpus())
    with pytest.raises(ValueError, match="limit"):
        rank_top(index, profile_from_options(["diffusion"]), limit=-1)
