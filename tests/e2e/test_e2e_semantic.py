"""A real run with the [semantic] extra: papers embedded once into the store, reused next time;
a paper that shares no keyword but says the same thing can reach the digest, and says why."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from support.installation import BOB, Installation, arxiv_ids, matched_lines
from support.stores import opened_store

from digest.cli import main
from digest.rank.hybrid import SIMILAR_NOTE
from digest.rank.semantic import MODEL_KEY

pytestmark = pytest.mark.usefixtures("semantic_extra")

NOW = dt.datetime(2024, 11, 28, 12, 0, tzinfo=dt.UTC)


def embedded(installation: Installation) -> int:
    db = sqlite3.connect(installation.database)
    try:
        query = "SELECT count(*) FROM embeddings WHERE model = ? AND paper_id NOT LIKE 'profile:%'"
        return int(db.execute(query, (MODEL_KEY,)).fetchone()[0])
    finally:
        db.close()


def paper_texts(installation: Installation) -> dict[str, str]:
    """Paper id -> its title and abstract in lower case, as the store keeps them."""
    with opened_store(installation.database, readonly=True) as store:
        recent = store.recent_papers(NOW - dt.timedelta(days=30))
        return {s.paper.id: f"{s.paper.title} {s.paper.abstract}".lower() for s in recent}


def test_semantic_run_embeds_each_paper_once_and_explains_meaning_matches(
    installation: Installation,
) -> None:
    text = installation.config.read_text(encoding="utf-8")
    installation.config.write_text(text.replace("semantic = false", "semantic = true"), "utf-8")
    installation.subscribe(BOB, ("reinforcement learning",))
    for offset in (0, 1):
        day = NOW.date() - dt.timedelta(days=offset)
        installation.serve_day(day, "hf_day1.json", "arxiv_day1.xml")

    report = installation.run(NOW)

    assert report.ok and report.notes == ()  # the extra is there: no "semantic is off" note
    first = embedded(installation)
    assert first == 12 + 45  # every paper of both listings, once
    (mail,) = installation.smtp.handler.to(BOB)
    why = matched_lines(mail)
    texts = paper_texts(installation)
    keyword = {pid for pid, line in why.items() if "reinforcement learning" in line}
    by_meaning = {pid for pid, line in why.items() if line == f"matched: {SIMILAR_NOTE}"}
    assert keyword and all("reinforcement learning" in texts[pid] for pid in keyword)
    # Papers that never say the words reached the digest by meaning alone, and say so.
    assert by_meaning and all("reinforcement learning" not in texts[pid] for pid in by_meaning)
    assert set(why) == arxiv_ids(mail) == keyword | by_meaning

    installation.run(NOW + dt.timedelta(hours=1))
    assert embedded(installation) == first  # the second run embedded nothing new


def test_votes_move_the_ranking_of_the_next_digest(
    installation: Installation, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = installation.config.read_text(encoding="utf-8")
    installation.config.write_text(text.replace("semantic = false", "semantic = true"), "utf-8")
    config = ["--config", str(installation.config)]
    assert main([*config, "subscribe", BOB, "-k", "reinforcement learning", "-k", "agent"]) == 0
    for offset in (0, 1):
        day = NOW.date() - dt.timedelta(days=offset)
        installation.serve_day(day, "hf_day1.json", "arxiv_day1.xml")
    assert main([*config, "run", "--now", NOW.isoformat()]) == 0
    (mail,) = installation.smtp.handler.to(BOB)
    sent = sorted(arxiv_ids(mail))
    assert len(sent) >= 2

    def ranking() -> list[str]:
        capsys.readouterr()
        out = tmp_path / "preview"
        assert (
            main([*config, "preview", "--email", BOB, "--now", NOW.isoformat(), "--out", str(out)])
            == 0
        )
        return [
            line for line in capsys.readouterr().out.splitlines() if line[:4].strip().endswith(".")
        ]

    before = ranking()
    assert main([*config, "feedback", BOB, sent[0], "up"]) == 0
    assert main([*config, "feedback", BOB, sent[1], "down"]) == 0
    after = ranking()

    assert before and after
    assert before != after  # the votes reached the ranking (scores or order changed)
