"""The batch tokeniser (numpy over the day's text) finds exactly the words, places, keys and
field lengths that the per-word definition (digest.textmatch.occurrences, field by field)
gives, and the statistics counted from its tokens equal those counted word by word."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.models import HFSignals, Paper
from digest.rank import tokenise as tokenise_module
from digest.rank.corpus import corpus_stats
from digest.rank.lexical import build_index, rank
from digest.rank.tokenise import Tokens, tokenise
from tests.rank.evaluate import load_corpus, load_profiles
from tests.rank.reference_tokens import reference_postings, reference_stats

# Text that stresses the chain rules: hyphens and apostrophes inside, at the ends, doubled;
# accents, Greek, digits, underscores, curly quotes, combining marks, line breaks.
TRICKY = [
    "Pre-training of text-to-3D models: the state-of-the-art's -- limits",
    "Schrödinger's bridges; Hilbert’s 10th problem, 'quoted' words' end-",
    "snake_case and a--b, a-'b, a'-b, -lead, trail-, ’tis, o'clock's",
    "ΛCDM and β-VAE with α=0.5; naïve café résumé, e\u0301clair (decomposed)",
    "LLMs, CNNs and GPT-4o; 3D-aware x2-x3 SE(3)-equivariant",
    "line\nbreak-\nhyphen and tab\tseparated, ½ and ² superscripts, ℝ^n",
]


def paper(n: int, title: str, abstract: str, keywords: tuple[str, ...] = ()) -> Paper:
    return Paper(
        id=f"p{n}",
        title=title,
        abstract=abstract,
        hf=HFSignals(ai_keywords=keywords) if keywords else None,
    )


def assert_same_tokens(tokens: Tokens, papers: list[Paper]) -> None:
    postings, lengths = reference_postings(papers)
    assert set(tokens.keys) == set(postings)
    for key, rows in postings.items():
        assert [tuple(r) for r in tokens.rows_of(key).tolist()] == rows, key
    assert [tuple(r) for r in tokens.lengths.tolist()] == lengths


def tricky_papers() -> list[Paper]:
    return [
        paper(
            n, TRICKY[n], TRICKY[(n + 1) % len(TRICKY)], (TRICKY[(n + 2) % len(TRICKY)], "", "a-b")
        )
        for n in range(len(TRICKY))
    ]


def test_tricky_text_gives_the_words_the_definition_gives() -> None:
    papers = tricky_papers()
    assert_same_tokens(tokenise(papers), papers)
    assert corpus_stats(papers) == reference_stats(papers)


def test_the_judged_corpus_gives_the_same_words_and_statistics() -> None:
    papers = [
        replace(p, hf=HFSignals(ai_keywords=tuple(p.title.split()[:4]))) if n % 3 == 0 else p
        for n, p in enumerate(load_corpus())
    ]
    assert_same_tokens(tokenise(papers), papers)
    assert corpus_stats(papers) == reference_stats(papers)


def test_a_paper_without_words_and_an_empty_day() -> None:
    papers = [paper(0, "", ""), paper(1, "—", "-- ' _"), paper(2, "One", "")]
    assert_same_tokens(tokenise(papers), papers)
    assert corpus_stats(papers) == reference_stats(papers)
    assert corpus_stats([]) == reference_stats([])
    assert rank(build_index([]), load_profiles()["diffusion"]) == ()


ALPHABET = st.sampled_from(list("aZé9-'’_ .,\nβ\u0301ß½"))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(ALPHABET, max_size=30), st.lists(st.text(ALPHABET, max_size=8), max_size=3)
        ),
        min_size=1,
        max_size=4,
    )
)
def test_any_text_gives_the_words_the_definition_gives(fields: list[tuple[str, list[str]]]) -> None:
    papers = [paper(n, text, text[::-1], tuple(kw)) for n, (text, kw) in enumerate(fields)]
    assert_same_tokens(tokenise(papers), papers)
    assert corpus_stats(papers) == reference_stats(papers)


def test_long_words_and_shared_prefixes_keep_their_own_keys() -> None:
    # Short ASCII chains are numbered by their bytes, 8 at a time: words that agree in their
    # first 8, 16 or 24 characters, or differ only in length, must stay apart.
    stem = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
    words = [stem[:n] for n in (7, 8, 9, 15, 16, 17, 24, 25, 32, 33, 36)]
    words += ["abcdefgh-abcdefghi", "ABCDEFGHIJKLMNOPQRSTUVWXYZ's", "abcdéfghijkl", "x" * 40]
    papers = [
        paper(0, " ".join(words), " ".join(reversed(words)), tuple(words[:3])),
        paper(1, words[1].upper(), " ".join(w.capitalize() for w in words)),
    ]
    tokens = tokenise(papers)
    assert_same_tokens(tokens, papers)
    assert {w.lower() for w in words if "-" not in w and "é" not in w} <= set(tokens.keys)
    assert corpus_stats(papers) == reference_stats(papers)


def test_text_read_in_small_blocks_gives_the_same_words(monkeypatch: pytest.MonkeyPatch) -> None:
    # A day's text is read a block at a time, cut at line breaks: blocks of a few
    # characters must find the same chains as one block.
    papers = tricky_papers()
    whole = tokenise(papers)
    for size in (1, 7, 64):
        monkeypatch.setattr(tokenise_module, "_BLOCK", size)
        monkeypatch.setattr(tokenise_module, "_last", None)  # read again, not the last result
        assert_same_tokens(tokenise(papers), papers)
    assert tokenise(papers).keys == whole.keys


def test_the_same_texts_again_share_their_tokens() -> None:
    papers = tricky_papers()
    first = tokenise(papers)
    again = tokenise([replace(p, id=p.id + "-copy") for p in papers])  # same texts
    assert again is first
    changed = tokenise([*papers[:-1], replace(papers[-1], abstract="other words")])
    assert changed is not first
    assert "other" in changed.keys and "other" not in first.keys


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, (1 << 40) - 1), max_size=300))
def test_chain_numbers_are_the_ranks_of_the_distinct_values(values: list[int]) -> None:
    # Chains are numbered by sorting each value with its place in one 64-bit integer, or by
    # np.unique when the two do not fit in 64 bits (a very long day): the same numbers.
    array = np.array(values, dtype=np.int64)
    distinct = sorted(set(values))
    for bits in (40, 64):  # 64: no room for the places, np.unique's path
        inverse, places = tokenise_module._dense_numbers(array, bits)
        assert inverse.tolist() == [distinct.index(v) for v in values]
        assert [values[p] for p in places.tolist()] == distinct
