"""The stage modules other code imports from keep handing on their entry points, wherever
the code behind them lives (jobs/, cli.py, bench/ and tools/ import from these)."""

from __future__ import annotations

import importlib

import pytest

ENTRY_POINTS = {
    "digest.rank.lexical": {
        "build_index",
        "corpus_stats",
        "rank",
        "rank_top",
        "PaperIndex",
        "RankResult",
        "CorpusStats",
        "field_text",
    },
    "digest.compose.render": {
        "make_environment",
        "render_digest",
        "DEFAULT_TEMPLATE_DIR",
        "PaperCache",
    },
    "digest.collect.fetch": {
        "Fetcher",
        "FetchResult",
        "FetchStatusError",
        "parse_retry_after",
        "body_snippet",
    },
}


@pytest.mark.parametrize("module_name", sorted(ENTRY_POINTS))
def test_a_module_exports_its_entry_points(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = set(module.__all__)
    assert ENTRY_POINTS[module_name] <= exported
    assert all(hasattr(module, name) for name in exported)
