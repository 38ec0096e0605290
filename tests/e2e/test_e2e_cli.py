"""The `digest` command as a user types it: subscribe, list, preview, run, unsubscribe."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sqlite3
from pathlib import Path

import pytest
from support.http_server import Reply
from support.installation import (
    ALICE,
    ARXIV_API_PATH,
    BOB,
    BOB_WORDS,
    DATA,
    Installation,
    arxiv_ids,
)

from digest.cli import main
from digest.models import SourceState

REPO = Path(__file__).resolve().parents[2]


NOW = dt.datetime(2024, 11, 28, 12, 0, tzinfo=dt.UTC)  # a Thursday: arXiv announces


def digest(installation: Installation, *args: str) -> int:
    return main(["--config", str(installation.config), *args])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dump(database: Path) -> list[str]:
    db = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
    try:
        return list(db.iterdump())
    finally:
        db.close()


def serve_today(installation: Installation) -> None:
    today = NOW.date()
    for offset in (0, 1):
        installation.serve_day(today - dt.timedelta(days=offset), "hf_day1.json", "arxiv_day1.xml")


def test_subscribe_list_and_unsubscribe(
    installation: Installation, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        digest(
            installation,
            "subscribe",
            ALICE,
            "-k",
            "time series",
            "-x",
            "medical",
            "--at",
            "07:30",
            "--tz",
            "Europe/Berlin",
        )
        == 0
    )
    assert "Subscribed alice@example.org" in capsys.readouterr().out
    assert digest(installation, "subscribe", ALICE, "-k", "forecasting") == 0
    assert "Updated alice@example.org" in capsys.readouterr().out
    assert digest(installation, "subscribers") == 0
    listing = capsys.readouterr().out
    assert "alice@example.org" in listing and "forecasting" in listing
    assert digest(installation, "unsubscribe", ALICE) == 0
    assert "Unsubscribed alice@example.org" in capsys.readouterr().out
    assert digest(installation, "subscribers") == 0
    assert "No subscribers yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["subscribe", "not-an-address", "-k", "x"], "not-an-address"),
        (["subscribe", "a@example.org\r\nBcc: b@example.org", "-k", "x"], "a@example.org"),
        (
            ["subscribe", ALICE, "-k", "x", "--tz", "Mars/Olympus"],
            "unknown time zone 'Mars/Olympus'",
        ),
        (["subscribe", ALICE, "-k", "x", "--at", "25:00"], "not a time of day '25:00'"),
        (["subscribe", ALICE], "give a profile"),
        (
            ["subscribe", ALICE, "--profile", str(REPO / "tests" / "data" / "wrong_source.toml")],
            "source 'hf-daily', which the configuration does not have "
            "(configured: huggingface, arxiv)",
        ),
    ],
)
def test_bad_subscriptions_are_refused_with_the_reason(
    installation: Installation, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert digest(installation, *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("digest: error: ")
    assert message in err


def test_malformed_config_names_file_line_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[digest]\ntimezone = "UTC"\nlookback = 3\n', encoding="utf-8")
    assert main(["--config", str(config), "subscribers"]) == 2
    assert f"{config}:3: digest.lookback: unknown key" in capsys.readouterr().err


def test_run_command_sends_and_reports(
    installation: Installation, capsys: pytest.CaptureFixture[str]
) -> None:
    assert digest(installation, "subscribe", BOB, *[a for w in BOB_WORDS for a in ("-k", w)]) == 0
    serve_today(installation)
    assert digest(installation, "run", "--now", NOW.isoformat()) == 0
    out = capsys.readouterr().out
    assert "delivered 1 digests" in out
    (mail,) = installation.smtp.handler.to(BOB)
    assert arxiv_ids(mail)
    assert digest(installation, "status", "--now", NOW.isoformat()) == 0
    status = capsys.readouterr().out
    assert "Pending deliveries: 0; failed: 0" in status
    assert "huggingface: ok" in status


def test_preview_touches_neither_database_nor_mail(
    installation: Installation, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert digest(installation, "subscribe", BOB, *[a for w in BOB_WORDS for a in ("-k", w)]) == 0
    serve_today(installation)
    assert (
        digest(installation, "run", "--now", NOW.isoformat()) == 0
    )  # some history: a ledger, an outbox row, a run
    installation.serve_day(NOW.date(), "hf_day2.json", "arxiv_day2.xml")
    database = installation.database
    before = (sha256(database), dump(database))
    mails_before = len(installation.smtp.handler.received)

    out_dir = tmp_path / "out"
    assert (
        digest(
            installation, "preview", "--email", BOB, "--out", str(out_dir), "--now", NOW.isoformat()
        )
        == 0
    )

    printed = capsys.readouterr().out
    assert "Nothing was sent" in printed
    # The database file keeps its bytes; a reader of a WAL database may leave an empty
    # write-ahead log beside it, never a frame in it.
    assert (sha256(database), dump(database)) == before
    wal = database.with_name(database.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    assert len(installation.smtp.handler.received) == mails_before
    html = (out_dir / "digest.html").read_text(encoding="utf-8")
    text = (out_dir / "digest.txt").read_text(encoding="utf-8")
    assert "<html" in html.lower() and "arxiv.org/abs/" in text
    assert b"multipart/alternative" in (out_dir / "digest.eml").read_bytes()
    # Already-sent papers are not previewed again.
    (sent_mail,) = installation.smtp.handler.to(BOB)
    previewed = set(re.findall(r"arxiv\.org/abs/(\d{4}\.\d{4,5})", text))
    assert previewed and arxiv_ids(sent_mail).isdisjoint(previewed)


def test_readme_first_command_previews_the_shipped_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    out_dir = tmp_path / "preview"
    code = main(
        [
            "preview",
            "--from",
            str(REPO / "examples" / "snapshot"),
            "--keyword",
            "reinforcement learning",
            "--keyword",
            "time series",
            "--exclude",
            "medical",
            "--out",
            str(out_dir),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "huggingface ok (29 papers)" in printed
    assert "arxiv ok" in printed
    assert "matched:" in printed
    assert (out_dir / "digest.eml").exists()
    assert not (tmp_path / "nowhere").exists()  # a preview creates no database


def test_empty_arxiv_feed_on_a_weekend_is_no_announcement(installation: Installation) -> None:
    installation.subscribe(BOB, BOB_WORDS)
    saturday = dt.datetime(2024, 11, 30, 12, 0, tzinfo=dt.UTC)
    for offset in (0, 1):
        day = saturday.date() - dt.timedelta(days=offset)
        installation.serve_day(day, "hf_day1.json", "arxiv_empty.xml")
    report = installation.run(saturday)
    arxiv = next(s for s in report.sources if s.name == "arxiv")
    assert arxiv.state is SourceState.NO_ANNOUNCEMENT
    assert report.ok

    # Missed weekdays are read back from the arXiv API; it has nothing for them either.
    empty_api = (DATA / "arxiv_api_empty.xml").read_bytes()
    installation.http.script(ARXIV_API_PATH + "*", Reply(200, empty_api))
    thursday = dt.datetime(2024, 12, 5, 12, 0, tzinfo=dt.UTC)
    for offset in range(0, 7):
        day = thursday.date() - dt.timedelta(days=offset)
        installation.serve_day(day, "hf_day1.json", "arxiv_empty.xml")
    report = installation.run(thursday)
    arxiv = next(s for s in report.sources if s.name == "arxiv")
    assert arxiv.state is SourceState.EMPTY
