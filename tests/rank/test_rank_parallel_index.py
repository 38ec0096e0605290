"""An index tokenised in forked workers ranks exactly like one built in a single process."""

from __future__ import annotations

from dataclasses import replace

from digest.models import Paper
from digest.rank.lexical import build_index, corpus_stats, rank
from tests.rank.evaluate import load_corpus, load_profiles


def many_papers() -> list[Paper]:
    """Enough papers for the build to split (over a thousand): the corpus four times, each
    copy with its own ids."""
    corpus = load_corpus()
    return [replace(paper, id=f"{copy}{paper.id}") for copy in "abcd" for paper in corpus]


def test_forked_tokenising_builds_the_same_index() -> None:
    papers = many_papers()
    assert len(papers) > 1000
    background = corpus_stats(papers)

    alone = build_index(papers, background=background)
    split = build_index(papers, background=background, workers=3)

    assert split._postings == alone._postings  # every word, in doc order
    assert split._lengths == alone._lengths
    assert split._authors == alone._authors and split._categories == alone._categories
    for name, profile in load_profiles().items():
        assert rank(split, profile) == rank(alone, profile), name
