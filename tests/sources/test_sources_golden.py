"""Every fixture through its parser, compared with the expected papers next to it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"

RSS = "https://rss.arxiv.org/rss/"
API = "https://export.arxiv.org/api/query"
# fixture file -> (source kind, the URL it was fetched from)
CASES: dict[str, tuple[str, str]] = {
    "arxiv_rss_allarchives_2024-11-28_trimmed.xml": ("arxiv_rss", RSS + "astro-ph+cs+math"),
    "arxiv_rss_new_empty_feed.xml": ("arxiv_rss", RSS + "test"),
    "arxiv_rss_new_error_feed.xml": ("arxiv_rss", RSS + "astroph"),
    "arxiv_rss_cs.AI_2026-04-27_EXCERPT_3items.xml": ("arxiv_rss", RSS + "cs.AI"),
    "arxiv_rss_replace_cross_CONSTRUCTED.xml": ("arxiv_rss", RSS + "cs.LG"),
    "arxiv_api_error_idlist_abc_2026-04-12_newformat.xml": ("arxiv_api", API + "?id_list=abc"),
    "arxiv_api_idlist_0000.0000_notfound_2026-04-12_newformat.xml": ("arxiv_api", API),
    "arxiv_api_idlist_0808.05394_1707.08567_2026-04-12_newformat.xml": ("arxiv_api", API),
    "arxiv_api_idlist_1111.2011v2_2016_oldformat.xml": ("arxiv_api", API),
    "arxiv_api_query_all_testing_2026-04-12_newformat_trimmed.xml": ("arxiv_api", API),
    "arxiv_api_query_au_del_maestro_2016-10-09_oldformat.xml": ("arxiv_api", API),
    "arxiv_api_query_cat_cs.AI_LG_CL_2026-08-02_newformat_trimmed.xml": ("arxiv_api", API),
    "arxiv_api_query_transformer_cs.LG_2026-06-14_newformat.xml": ("arxiv_api", API),
    "arxiv_list_cs.CL_recent_2026-07-28_trimmed.html": (
        "arxiv_list",
        "https://arxiv.org/list/cs.CL/recent",
    ),
    "arxiv_list_cs.CL_new_CONSTRUCTED.html": ("arxiv_list", "https://arxiv.org/list/cs.CL/new"),
    "arxiv_list_cs.CL_new_no_updates_CONSTRUCTED.html": (
        "arxiv_list",
        "https://arxiv.org/list/cs.CL/new",
    ),
    "hf_api_daily_papers_2024-10-25_trimmed.json": (
        "hf_daily",
        "https://huggingface.co/api/daily_papers?date=2024-10-25",
    ),
    "hf_api_daily_papers_2026-05-08_trimmed.json": (
        "hf_daily",
        "https://huggingface.co/api/daily_papers?date=2026-05-08",
    ),
    "hf_api_daily_papers_2026-06-12_trimmed.json": (
        "hf_daily",
        "https://huggingface.co/api/daily_papers?date=2026-06-12",
    ),
    "hf_api_daily_papers_2026-07-31_trimmed.json": (
        "hf_daily",
        "https://huggingface.co/api/daily_papers?date=2026-07-31",
    ),
    "hf_papers_page_2026-05-08_CONSTRUCTED.html": (
        "hf_page",
        "https://huggingface.co/papers?date=2026-05-08",
    ),
    "feed_journal_rss1_CONSTRUCTED.xml": ("feed", "https://journal.example.org/current.rss"),
    "feed_journal_atom_CONSTRUCTED.xml": ("feed", "https://letters.example.org/feed"),
}
# Real captures read through the generic feedparser-based parser as well.
FEED_CASES = {
    "arxiv_rss_cs.AI_2026-04-27_EXCERPT_3items.xml": RSS + "cs.AI",
    "arxiv_api_query_transformer_cs.LG_2026-06-14_newformat.xml": API,
}


def test_every_fixture_has_a_case() -> None:
    on_disk = {p.name for p in FIXTURES.iterdir() if not p.name.endswith(".golden.json")}
    assert on_disk == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(
    name: str,
    parse_fixture: Callable[[str, str, str], dict[str, Any]],
    check_golden: Callable[[str, dict[str, Any]], None],
) -> None:
    kind, url = CASES[name]
    check_golden(name, parse_fixture(kind, name, url))


@pytest.mark.parametrize("name", sorted(FEED_CASES))
def test_golden_generic_feed(
    name: str,
    parse_fixture: Callable[[str, str, str], dict[str, Any]],
    check_golden: Callable[[str, dict[str, Any]], None],
) -> None:
    result = parse_fixture("feed", name, FEED_CASES[name])
    check_golden(name + ".feed", result)
