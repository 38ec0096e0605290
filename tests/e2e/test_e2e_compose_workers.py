"""`[digest] compose_workers`: digests composed in forked workers are the digests composed in
one process, each subscriber's exactly once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.http_server import ScriptedServer
from support.installation import Installation, arxiv_ids, write_config
from support.smtp_server import SmtpSink

from digest.jobs import fanout
from digest.models import DeliveryState

DAY = dt.datetime(2024, 11, 28, 12, 0, tzinfo=dt.UTC)
SUBSCRIBERS = {
    "alice@example.org": ("time series", "forecasting"),
    "bob@example.org": ("reinforcement learning", "policy optimization"),
    "carol@example.org": ("diffusion", "image generation"),
    "dan@example.org": ("language model", "reasoning"),
    "erin@example.org": ("graph neural network",),
    "frank@example.org": ("benchmark", "evaluation"),
    "grace@example.org": ("robot*", "control"),
}


def make_installation(root: Path, workers: int) -> Iterator[Installation]:
    root.mkdir()
    http, smtp = ScriptedServer(), SmtpSink()
    try:
        config = write_config(root, http.port, smtp.port)
        text = config.read_text(encoding="utf-8")
        config.write_text(
            text.replace("[digest]\n", f"[digest]\ncompose_workers = {workers}\n", 1),
            encoding="utf-8",
        )
        yield Installation(root, config, http, smtp)
    finally:
        http.close()
        smtp.close()


@pytest.fixture
def in_process(tmp_path: Path) -> Iterator[Installation]:
    yield from make_installation(tmp_path / "one", 1)


@pytest.fixture
def forked(tmp_path: Path) -> Iterator[Installation]:
    yield from make_installation(tmp_path / "three", 3)


def run_day(installation: Installation) -> dict[str, tuple[str, set[str]]]:
    """Subscribe everyone, run the day; recipient -> (subject, papers listed)."""
    assert installation.settings.compose_workers in (1, 3)  # as written, not the default 0
    for email, words in SUBSCRIBERS.items():
        installation.subscribe(email, words)
    day = DAY.date()
    installation.serve_day(day - dt.timedelta(days=1), "hf_day1.json", "arxiv_day1.xml")
    installation.serve_day(day, "hf_day1.json", "arxiv_day1.xml")
    report = installation.run(DAY)
    assert report.ok, report
    assert all(d.state is DeliveryState.SENT for d in report.deliveries)
    mails = {}
    for email in SUBSCRIBERS:
        received = installation.smtp.handler.to(email)
        assert len(received) <= 1, f"{email} got {len(received)} digests"
        if received:
            mails[email] = (str(received[0].message["Subject"]), arxiv_ids(received[0]))
    return mails


def test_forked_workers_compose_the_same_digests(
    in_process: Installation, forked: Installation
) -> None:
    expected = run_day(in_process)
    assert len(expected) >= 5 and all(papers for _subject, papers in expected.values())

    assert run_day(forked) == expected

    # and a second run the same day composes and sends nothing more
    again = forked.run(DAY + dt.timedelta(hours=1))
    assert again.ok and again.deliveries == ()
    assert len(forked.smtp.handler.received) == len(expected)


def test_a_list_composed_page_by_page_gets_the_same_digests_once(
    in_process: Installation, forked: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long list is composed a page of subscribers at a time (its tasks read and its
    workers forked per page): the pages, 3 here, change nothing that is sent."""
    expected = run_day(in_process)
    monkeypatch.setattr(fanout, "COMPOSE_PAGE", 3)
    assert len(SUBSCRIBERS) > 2 * fanout.COMPOSE_PAGE  # three pages, the last one short

    assert run_day(forked) == expected
    assert len(forked.smtp.handler.received) == len(expected)
