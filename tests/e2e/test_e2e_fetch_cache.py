"""Saving listings for later previews, and conditional GET between runs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from support.http_server import Reply, Seen
from support.installation import ARXIV_PATH, BOB, BOB_WORDS, DATA, Installation

from digest.cli import main
from digest.models import SourceState


def test_fetch_save_then_preview_from_the_saved_listings(
    installation: Installation, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = dt.datetime(2024, 11, 28, 12, 0, tzinfo=dt.UTC)
    for offset in (0, 1):
        installation.serve_day(
            now.date() - dt.timedelta(days=offset), "hf_day1.json", "arxiv_day1.xml"
        )
    saved = tmp_path / "saved"
    config = ["--config", str(installation.config)]
    assert main([*config, "fetch", "--save", str(saved), "--now", now.isoformat()]) == 0
    assert f"Saved 2 listings to {saved}" in capsys.readouterr().out
    manifest = json.loads((saved / "manifest.json").read_text(encoding="utf-8"))
    assert {entry["kind"] for entry in manifest["listings"]} == {"hf_daily", "arxiv_rss"}
    assert (saved / manifest["listings"][1]["file"]).read_bytes() == (
        DATA / "arxiv_day1.xml"
    ).read_bytes()

    installation.http.close()  # the preview must not need the network any more
    out = tmp_path / "preview"
    args = ["preview", "--from", str(saved), "--out", str(out), "--now", now.isoformat()]
    assert main([*config, *args, "-k", "time series"]) == 0
    printed = capsys.readouterr().out
    assert "arxiv ok (45 papers)" in printed
    assert "Time Series" in (out / "digest.txt").read_text(encoding="utf-8")


def test_unchanged_listing_costs_a_304_and_nothing_else(installation: Installation) -> None:
    installation.subscribe(BOB, BOB_WORDS)
    now = dt.datetime(2024, 11, 28, 12, 0, tzinfo=dt.UTC)
    for offset in (0, 1):
        installation.serve_day(
            now.date() - dt.timedelta(days=offset), "hf_day1.json", "arxiv_day1.xml"
        )
    body = (DATA / "arxiv_day1.xml").read_bytes()

    def arxiv(seen: Seen) -> Reply:
        if seen.headers.get("if-none-match") == '"day1"':
            return Reply(304, b"", [("ETag", '"day1"')])
        return Reply(200, body, [("ETag", '"day1"')])

    installation.http.route(ARXIV_PATH, arxiv)
    first = installation.run(now)
    assert first.ok
    second = installation.run(now + dt.timedelta(hours=3))

    requests = installation.http.requests_to(ARXIV_PATH)
    assert len(requests) == 2
    assert requests[1].headers.get("if-none-match") == '"day1"'
    arxiv_outcome = next(s for s in second.sources if s.name == "arxiv")
    assert arxiv_outcome.state is SourceState.NOT_MODIFIED
    assert second.ok and second.deliveries == ()  # nothing new, nothing sent
    assert len(installation.smtp.handler.to(BOB)) == 1
