"""Dates: a snapshot's preview carries the snapshot's day; --now re-runs a given day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from support.installation import BOB, BOB_WORDS, Installation, arxiv_ids
from test_e2e_cli import REPO, digest

from digest.cli import main

SNAPSHOT = REPO / "examples" / "snapshot"


def test_a_preview_of_an_old_snapshot_is_dated_by_the_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    out = tmp_path / "out"
    assert main(["preview", "--from", str(SNAPSHOT), "-k", "time series", "--out", str(out)]) == 0
    assert "Thu 28 Nov 2024" in capsys.readouterr().out  # the arXiv listing's day
    assert "Thursday 28 November 2024" in (out / "digest.txt").read_text(encoding="utf-8")

    later = tmp_path / "later"
    argv = ["preview", "--from", str(SNAPSHOT), "-k", "time series", "--out", str(later)]
    assert main([*argv, "--now", "2024-12-02"]) == 0
    assert "Mon 02 Dec 2024" in capsys.readouterr().out


def test_run_now_re_runs_a_given_day(installation: Installation) -> None:
    day = dt.date(2024, 11, 28)
    for offset in (0, 1):  # the day and the one before (Hugging Face is read per day)
        installation.serve_day(day - dt.timedelta(days=offset), "hf_day1.json", "arxiv_day1.xml")
    assert digest(installation, "subscribe", BOB, *[a for w in BOB_WORDS for a in ("-k", w)]) == 0

    assert digest(installation, "run", "--now", "2024-11-28T09:00") == 0

    (mail,) = installation.smtp.handler.to(BOB)
    assert arxiv_ids(mail)
    assert "Thu 28 Nov" in mail.message["Subject"]
    assert mail.message["Date"].datetime.date() == day
    # The same day again: the digest is there already, nothing is sent twice.
    assert digest(installation, "run", "--now", "2024-11-28T10:00") == 0
    assert len(installation.smtp.handler.to(BOB)) == 1


def test_a_bad_now_is_one_clear_error(
    installation: Installation, capsys: pytest.CaptureFixture[str]
) -> None:
    assert digest(installation, "run", "--now", "yesterday") == 2
    assert "--now: not a date or moment 'yesterday'" in capsys.readouterr().err
