"""Length caps on a paper's title, authors and abstract, applied to every parser's papers."""

from __future__ import annotations

import json
import logging

import pytest

from digest.collect.merge import merge_two
from digest.collect.normalise import (
    ABSTRACT_CHARS,
    AI_KEYWORDS,
    AUTHOR_NAME_CHARS,
    AUTHOR_NAMES,
    SIDE_TEXT_CHARS,
    TITLE_CHARS,
    canonical_id,
    cap_fields,
    cut_text,
)
from digest.collect.sources import PARSERS
from digest.models import HFSignals, Paper
from digest.store.codec import paper_from_json, paper_to_json


def test_a_paper_within_the_caps_is_returned_as_it_is() -> None:
    paper = Paper("2401.00001", "A title", "An abstract.", ("Ada Lovelace",))
    assert cap_fields(paper) == (paper, ())


def test_each_field_over_its_cap_is_cut_with_an_ellipsis_and_named() -> None:
    words = "diffusion " * 10_000
    paper = Paper(
        "2401.00001",
        words,
        words * 2,
        (*(f"Author Number{i}" for i in range(AUTHOR_NAMES + 7)), "x" * 300),
    )
    capped, notes = cap_fields(paper)
    assert capped.shortened == ("title", "authors", "abstract")
    assert len(capped.title) <= TITLE_CHARS and capped.title.endswith("diffusion…")
    assert len(capped.abstract) <= ABSTRACT_CHARS and capped.abstract.endswith("…")
    assert len(capped.authors) == AUTHOR_NAMES
    assert capped.authors[:3] == paper.authors[:3]
    assert notes == (
        f"title: 100,000 or more -> {TITLE_CHARS} characters",
        f"authors: {AUTHOR_NAMES + 8} -> {AUTHOR_NAMES} names",
        f"abstract: 200,000 or more -> {ABSTRACT_CHARS:,} characters",
    )
    # a single overlong name is cut on its own
    one, _ = cap_fields(Paper("2401.00002", "t", authors=("A " + "b" * 300,)))
    assert one.shortened == ("authors",) and len(one.authors[0]) <= AUTHOR_NAME_CHARS


def test_a_giant_word_is_cut_inside_it() -> None:
    assert cut_text("x" * 1000, 10) == "x" * 9 + "…"
    assert cut_text("short", 10) == "short"


def test_the_mark_survives_the_store_and_merging() -> None:
    capped, _ = cap_fields(Paper("2401.00001", "t" * 2000, "An abstract."))
    assert paper_from_json(paper_to_json(capped)) == capped
    # The HF record's title (not cut) is newer: the merged paper's title is not marked.
    other = Paper("2401.00001", "A fine title", "An abstract.", version=2)
    assert merge_two(capped, other).shortened == ()
    assert merge_two(other, capped).shortened == ()
    older = Paper("2401.00001", "", "An abstract.")
    assert merge_two(older, capped).shortened == ("title",)


def test_every_parser_caps_its_papers_and_logs_the_item(
    caplog: pytest.LogCaptureFixture,
) -> None:
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>A journal</title>'
        "<item><title>" + "Long " * 2000 + "</title><link>https://example.org/p/1</link>"
        "<description>Short.</description></item>"
        "<item><title>A normal paper</title><link>https://example.org/p/2</link>"
        "<description>Also short.</description></item></channel></rss>"
    ).encode()
    with caplog.at_level(logging.WARNING, logger="digest.sources"):
        long, normal = PARSERS["feed"](feed, "https://example.org/feed.xml")
    assert long.shortened == ("title",) and len(long.title) <= TITLE_CHARS
    assert normal.title == "A normal paper" and normal.shortened == ()
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith(f"https://example.org/feed.xml: item {long.id} ('Long Long")
    assert f"title: 9,999 -> {TITLE_CHARS} characters" in line


def test_a_link_with_a_broken_port_still_gets_an_id() -> None:
    # Found by tests/sources/test_sources_robustness.py: urlsplit's port raised ValueError
    # and the whole feed failed on one bad link.
    first = canonical_id(link="https://example.org:00:00Z</a/paper")
    assert first.startswith("url:") and first == canonical_id(
        link="https://EXAMPLE.org:00:00Z</a/paper"
    )


def test_fields_the_email_does_not_show_are_capped_with_a_note_but_no_mark() -> None:
    huge = "word " * 100_000
    paper = Paper(
        "2401.00001",
        "A title",
        comments=huge,
        journal_ref="J. " * 1000,
        pdf_url="https://arxiv.org/pdf/" + "x" * 5000,
        hf=HFSignals(
            ai_summary=huge,
            ai_keywords=tuple(f"kw{i}" for i in range(AI_KEYWORDS + 30)),
            github_repo="https://github.com/a/b",
        ),
    )
    capped, notes = cap_fields(paper)
    assert capped.shortened == ()
    assert capped.comments is not None and len(capped.comments) <= SIDE_TEXT_CHARS
    assert capped.comments.endswith("word…")
    assert capped.journal_ref is not None and len(capped.journal_ref) <= SIDE_TEXT_CHARS
    assert capped.pdf_url is None  # a cut link would be a broken one
    assert capped.hf is not None and capped.hf.github_repo == "https://github.com/a/b"
    assert capped.hf.ai_summary is not None and len(capped.hf.ai_summary) <= SIDE_TEXT_CHARS
    assert capped.hf.ai_keywords == paper.hf.ai_keywords[:AI_KEYWORDS]  # type: ignore[union-attr]
    assert notes == (
        f"comments: 500,000 or more -> {SIDE_TEXT_CHARS:,} characters",
        f"journal reference: 3,000 -> {SIDE_TEXT_CHARS:,} characters",
        "PDF link: a link of 5,022 characters, dropped",
        f"AI keywords: {AI_KEYWORDS + 30} -> {AI_KEYWORDS}",
        f"AI summary: 500,000 or more -> {SIDE_TEXT_CHARS:,} characters",
    )
    within = Paper("2401.00002", "t", comments="5 pages", hf=HFSignals(ai_summary="Short."))
    assert cap_fields(within) == (within, ())


def test_a_hugging_face_item_with_a_giant_summary_is_stored_cut_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    item = {
        "paper": {
            "id": "2411.18571",
            "title": "A paper",
            "summary": "An abstract.",
            "authors": [{"name": "Ada Lovelace"}],
            "ai_summary": "summary " * 50_000,
        },
        "title": "A paper",
    }
    with caplog.at_level(logging.WARNING, logger="digest.sources"):
        (paper,) = PARSERS["hf_daily"](json.dumps([item]).encode(), "https://hf.example/papers")
    assert paper.hf is not None and paper.hf.ai_summary is not None
    assert len(paper.hf.ai_summary) <= SIDE_TEXT_CHARS and paper.shortened == ()
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("https://hf.example/papers: item 2411.18571 ('A paper')")
    assert "AI summary: 399,999 or more -> 2,000 characters" in line
