"""The pure parts of fetch: Retry-After parsing, error snippets, settings and host intervals."""

from __future__ import annotations

from typing import Any

import pytest
from support.http_server import TEST_USER_AGENT

from digest.collect.fetch import FetchResult, body_snippet
from digest.collect.http_headers import parse_retry_after
from digest.config.settings import FetchSettings
from digest.models import Validators

SERVER_DATE = "Wed, 01 May 2024 20:00:00 GMT"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("Wed, 01 May 2024 20:02:00 GMT", 120.0),
        ("Wed, 01 May 2024 19:59:00 GMT", 0.0),  # a date in the past means "now"
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, SERVER_DATE) == expected


def test_retry_after_date_without_a_server_date_uses_our_clock() -> None:
    now = 1_714_593_600.0  # 2024-05-01 20:00:00 UTC
    assert parse_retry_after("Wed, 01 May 2024 20:00:45 GMT", None, now=lambda: now) == 45.0


def test_body_snippet_strips_markup_and_collapses_whitespace() -> None:
    body = b"<?xml version='1.0'?>\n<error>\n  <!-- note -->\n  <msg>Bad   query</msg>\n</error>"
    assert body_snippet(body) == "Bad query"


def test_body_snippet_survives_bad_utf8_and_is_bounded() -> None:
    snippet = body_snippet(b"\xff\xfe oops " * 100, limit=40)
    assert len(snippet) == 40
    assert snippet.endswith("…")
    assert "oops" in snippet


def test_host_intervals_cover_subdomains_of_a_listed_domain() -> None:
    settings = FetchSettings(
        user_agent=TEST_USER_AGENT,
        default_interval=1.0,
        host_intervals={"arxiv.org": 3.0, "rss.arxiv.org": 5.0},
    )
    assert settings.interval_for("arxiv.org") == 3.0
    assert settings.interval_for("export.arxiv.org") == 3.0
    assert settings.interval_for("RSS.arxiv.org") == 5.0
    assert settings.interval_for("huggingface.co") == 1.0
    assert settings.interval_for("notarxiv.org") == 1.0


@pytest.mark.parametrize(
    "bad",
    [
        {"user_agent": "  "},
        {"timeout": 0},
        {"max_bytes": 0},
        {"max_attempts": 0},
        {"backoff_base": -1},
        {"host_intervals": {"arxiv.org": -3.0}},
    ],
)
def test_settings_refuse_nonsense(bad: dict[str, Any]) -> None:
    options: dict[str, Any] = {"user_agent": TEST_USER_AGENT, **bad}
    with pytest.raises(ValueError):
        FetchSettings(**options)


def test_not_modified_is_true_only_for_304() -> None:
    fresh = FetchResult("https://x.org/", 200, b"x", Validators(), "text/plain")
    same = FetchResult("https://x.org/", 304, b"", Validators(etag='"e"'), None)
    assert not fresh.not_modified
    assert same.not_modified
