"""Merging the same paper seen through several sources."""

from __future__ import annotations

import pytest

from digest.collect.merge import merge_papers, merge_two
from digest.models import AnnounceType, HFSignals, Paper

RSS_CROSS = Paper(
    id="2401.01234",
    title="Score matching at scale",
    abstract="Short.",
    authors=("A. One", "B. Two"),
    url="https://arxiv.org/abs/2401.01234",
    version=1,
    categories=("cs.LG", "stat.ML"),
    announce_type=AnnounceType.CROSS,
    sources=("arxiv-stat",),
)
HF = Paper(
    id="2401.01234",
    title="Score matching at scale",
    abstract="A longer abstract from Hugging Face.",
    authors=("A. One", "B. Two"),
    url="https://arxiv.org/abs/2401.01234",
    hf=HFSignals(upvotes=42, url="https://huggingface.co/papers/2401.01234"),
    sources=("hf",),
)
RSS_NEW_V2 = Paper(
    id="2401.01234",
    title="Score matching at scale (v2)",
    abstract="Short.",
    url="https://arxiv.org/abs/2401.01234",
    version=2,
    categories=("cs.LG", "cs.AI"),
    announce_type=AnnounceType.NEW,
    doi="10.1/x",
    journal_ref="J. Stuff 1 (2026)",
    pdf_url="https://arxiv.org/pdf/2401.01234v2",
    sources=("arxiv-cs",),
)
OTHER = Paper(id="doi:10.5/other", title="Another", url="https://journal.example.org/2")


def test_merge_keeps_everything_each_source_knew() -> None:
    (merged,) = merge_papers([RSS_CROSS, HF, RSS_NEW_V2])
    assert merged.categories == ("cs.LG", "stat.ML", "cs.AI")
    assert merged.hf == HF.hf
    assert merged.sources == ("arxiv-stat", "hf", "arxiv-cs")
    assert merged.version == 2
    assert merged.abstract == "A longer abstract from Hugging Face."
    assert merged.doi == "10.1/x" and merged.journal_ref == "J. Stuff 1 (2026)"
    assert merged.url == "https://arxiv.org/abs/2401.01234"
    assert merged.announce_type is AnnounceType.NEW
    assert merged.pdf_url == "https://arxiv.org/pdf/2401.01234v2"


def test_merge_order_is_first_appearance_and_distinct_papers_stay() -> None:
    merged = merge_papers([OTHER, RSS_CROSS, OTHER, HF])
    assert [p.id for p in merged] == ["doi:10.5/other", "2401.01234"]


def test_announce_precedence() -> None:
    def with_type(t: AnnounceType) -> Paper:
        return Paper(id="1", title="t", announce_type=t)

    order = [
        AnnounceType.NEW,
        AnnounceType.CROSS,
        AnnounceType.REPLACE,
        AnnounceType.REPLACE_CROSS,
    ]
    for i, better in enumerate(order):
        for worse in order[i:]:
            assert merge_two(with_type(worse), with_type(better)).announce_type is better
            assert merge_two(with_type(better), with_type(worse)).announce_type is better


def test_categories_come_from_whichever_source_has_them() -> None:
    (merged,) = merge_papers([HF, RSS_CROSS])
    assert merged.categories == ("cs.LG", "stat.ML")
    assert merged.hf is not None and merged.hf.upvotes == 42


def test_merging_different_ids_is_a_bug() -> None:
    with pytest.raises(ValueError):
        merge_two(HF, OTHER)


def test_merge_of_nothing() -> None:
    assert merge_papers([]) == ()
