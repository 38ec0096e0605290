"""Selecting a subscriber's unsent papers from the day's seen papers."""

from __future__ import annotations

import dataclasses
import datetime as dt

from digest.models import AnnounceType, Paper, Profile, SeenPaper, Term, Topic
from digest.rank.select import SeenIndex, select_candidates

T0 = dt.datetime(2024, 11, 28, 0, 0, tzinfo=dt.UTC)
PROFILE = Profile(topics=(Topic("t", (Term("x"),)),))


def seen(
    pid: str, hours: int, *, version: int = 1, source: str = "arxiv", **extra: object
) -> SeenPaper:
    paper = Paper(pid, f"Paper {pid}", version=version, sources=(source,), **extra)  # type: ignore[arg-type]
    at = T0 + dt.timedelta(hours=hours)
    return SeenPaper(paper, at, at)


DAY = SeenIndex(
    [
        seen("old", -30),
        seen("a", 2),
        seen("b", 5, source="huggingface"),
        seen("rep", 6, announce_type=AnnounceType.REPLACE),
        seen("upd", 7, version=3),
    ]
)


def test_new_papers_are_those_first_seen_after_the_window_and_never_sent() -> None:
    chosen = select_candidates(DAY, PROFILE, {"a": 1}, T0)
    assert chosen.new == {"b", "upd"} and chosen.updated == frozenset()
    later = select_candidates(DAY, PROFILE, {}, T0 + dt.timedelta(hours=4))
    assert later.new == {"b", "upd"}  # "a" came before this subscriber's window


def test_a_new_version_of_a_sent_paper_is_an_update_only_when_asked_for() -> None:
    sent = {"upd": 2, "a": 1}
    assert select_candidates(DAY, PROFILE, sent, T0).updated == frozenset()
    wants = dataclasses.replace(PROFILE, include_updates=True)
    assert select_candidates(DAY, wants, sent, T0).updated == {"upd"}
    assert select_candidates(DAY, wants, {"upd": 3}, T0).updated == frozenset()


def test_a_profile_reading_some_sources_gets_only_their_papers() -> None:
    hf_only = dataclasses.replace(PROFILE, sources=("huggingface",))
    assert select_candidates(DAY, hf_only, {}, T0).new == {"b"}


def test_unsent_papers_from_before_the_window_are_held_over_within_the_lookback() -> None:
    since = T0 + dt.timedelta(hours=4)
    # The lookback opens before "a" (seen at +2 h) and after "old" (seen at -30 h).
    chosen = select_candidates(DAY, PROFILE, {}, since, T0)
    assert chosen.new == {"b", "upd"} and chosen.held == {"a"}
    assert chosen.all == {"a", "b", "upd"}  # the replacement "rep" is never new
    assert select_candidates(DAY, PROFILE, {"a": 1}, since, T0).held == frozenset()  # sent
    assert select_candidates(DAY, PROFILE, {}, since).held == frozenset()  # no lookback given
    wider = select_candidates(DAY, PROFILE, {}, since, T0 - dt.timedelta(days=2))
    assert wider.held == {"a", "old"}
    hf_only = dataclasses.replace(PROFILE, sources=("huggingface",))
    assert select_candidates(DAY, hf_only, {}, since, T0).held == frozenset()


def test_new_papers_are_counted_per_source_for_one_reader() -> None:
    assert DAY.new_by_source(T0, {}) == {"arxiv": 2, "huggingface": 1}
    assert DAY.new_by_source(T0, {"a": 1, "old": 1}) == {"arxiv": 1, "huggingface": 1}
    assert DAY.new_by_source(T0 + dt.timedelta(hours=6), {}) == {"arxiv": 1}
    assert DAY.count_by_source({"upd", "b"}) == {"arxiv": 1, "huggingface": 1}
