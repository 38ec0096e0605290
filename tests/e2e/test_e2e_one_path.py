"""Preview, run and retry are one path through the stages: what a preview shows is what the
run sends, the profile's sources count in both, retry sends like run, and a bug in composing
one digest costs only that digest and leaves its traceback in the log."""

from __future__ import annotations

import re
import shutil
from contextlib import closing
from pathlib import Path

import pytest
from support.installation import (
    ALICE,
    ALICE_WORDS,
    BOB,
    BOB_WORDS,
    DATA,
    Installation,
    arxiv_ids,
    installed,
)
from test_e2e_cli import NOW, digest, serve_today

from digest.compose.render import DEFAULT_TEMPLATE_DIR
from digest.store import open_store

HF_IDS = {
    paper["paper"]["id"] for paper in __import__("json").loads((DATA / "hf_day1.json").read_text())
}
BROAD = ("model", "learning", "language", "data", "training")


def profile_file(tmp_path: Path, sources: list[str]) -> Path:
    path = tmp_path / f"profile-{'-'.join(sources)}.toml"
    keywords = ", ".join(f'"{word}"' for word in BROAD)
    path.write_text(
        f"min_score = 0\nmax_papers = 100\nsources = {sources!r}\n"
        f"[topics.broad]\nkeywords = [{keywords}]\n".replace("'", '"'),
        encoding="utf-8",
    )
    return path


def previewed_ids(out_dir: Path) -> set[str]:
    text = (out_dir / "digest.txt").read_text(encoding="utf-8")
    return set(re.findall(r"arxiv\.org/abs/(\d{4}\.\d{4,5})", text))


def test_preview_honours_the_profiles_sources_and_shows_what_the_run_sends(
    installation: Installation, tmp_path: Path
) -> None:
    arxiv_only = profile_file(tmp_path, ["arxiv"])
    assert digest(installation, "subscribe", BOB, "--profile", str(arxiv_only)) == 0
    serve_today(installation)

    assert (
        digest(
            installation,
            "preview",
            "--now",
            NOW.isoformat(),
            "--email",
            BOB,
            "--out",
            str(tmp_path / "p"),
        )
        == 0
    )
    assert digest(installation, "run", "--now", NOW.isoformat()) == 0

    shown = previewed_ids(tmp_path / "p")
    (mail,) = installation.smtp.handler.to(BOB)
    assert shown and shown == arxiv_ids(mail)
    assert shown.isdisjoint(HF_IDS)  # the Hugging Face listing is not this profile's


def test_a_profile_reading_only_hugging_face_previews_only_its_papers(
    installation: Installation, tmp_path: Path
) -> None:
    hf_only = profile_file(tmp_path, ["huggingface"])
    serve_today(installation)
    out = tmp_path / "p"
    assert (
        digest(
            installation,
            "preview",
            "--now",
            NOW.isoformat(),
            "--profile",
            str(hf_only),
            "--out",
            str(out),
        )
        == 0
    )
    shown = previewed_ids(out)
    assert shown and shown <= HF_IDS


def test_retry_sends_over_the_configured_connections(tmp_path: Path) -> None:
    with installed(tmp_path, extra="connections = 3\n") as installation:
        smtp = installation.smtp
        people = [f"reader{n}@example.org" for n in range(9)]
        for person in people:
            words = [a for w in BOB_WORDS for a in ("-k", w)]
            assert digest(installation, "subscribe", person, *words) == 0
        serve_today(installation)
        # Every delivery fails for good (550), then the mailbox comes back and retry runs.
        smtp.handler.reject.update({person: "550 5.1.1 mailbox unavailable" for person in people})
        assert digest(installation, "run", "--now", NOW.isoformat()) == 1
        assert smtp.handler.received == []
        smtp.handler.reject.clear()

        assert digest(installation, "retry") == 0

        assert sorted(smtp.handler.recipients()) == sorted(people)
        assert smtp.handler.connections() == 3


def test_a_bug_while_composing_one_digest_fails_it_alone_with_its_traceback(
    installation: Installation, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(DEFAULT_TEMPLATE_DIR, templates)
    text = templates / "digest.txt.j2"
    # A template bug that strikes one reader's digest only.
    text.write_text(
        '{% if recipient == "' + BOB + '" %}{{ 1 // 0 }}{% endif %}' + text.read_text("utf-8"),
        encoding="utf-8",
    )
    config = installation.config.read_text(encoding="utf-8")
    installation.config.write_text(
        config.replace("[digest]\n", f'[digest]\ntemplates_dir = "{templates}"\n', 1),
        encoding="utf-8",
    )
    for who, words in ((ALICE, ALICE_WORDS), (BOB, BOB_WORDS)):
        assert digest(installation, "subscribe", who, *[a for w in words for a in ("-k", w)]) == 0
    serve_today(installation)
    capsys.readouterr()

    assert digest(installation, "run", "--now", NOW.isoformat()) == 1

    printed = capsys.readouterr()
    assert installation.smtp.handler.to(ALICE) and not installation.smtp.handler.to(BOB)
    assert f"error: {BOB}: ZeroDivisionError" in printed.out and "a bug" in printed.out
    assert "Traceback (most recent call last)" in printed.err
    assert "digest.txt.j2" in printed.err  # where it happened, not just what
    with closing(open_store(installation.database)) as store:
        (run,) = store.recent_runs(1)
        assert any(BOB in error for error in run.report.errors)
        bob = store.subscriber(BOB)
        assert bob is not None and bob.id is not None
        assert store.outbox_for(bob.id, NOW.date()) is None
