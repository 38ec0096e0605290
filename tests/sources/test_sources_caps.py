"""Length caps on a paper's title, authors and abstract, applied to every parser's papers."""

from __future__ import annotations

import logging

import pytest

from digest.collect.merge import merge_two
from digest.collect.normalise import (
    ABSTRACT_CHARS,
    AUTHOR_NAME_CHARS,
    AUTHOR_NAMES,
    TITLE_CHARS,
    canonical_id,
    cap_fields,
    cut_text,
)
from digest.collect.sources import PARSERS
from digest.models import Paper
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
