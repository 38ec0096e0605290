"""Which stored papers a subscriber may be sent today: pure, from the store's answers.

A paper is new for a subscriber when it was first seen after their window opened and was never
sent to them (nor is waiting in a pending message). A higher version of a paper they were
sent is an update, offered only when their profile asks for updates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from digest.models import Profile, SeenPaper


@dataclass(frozen=True, slots=True)
class Candidates:
    new: frozenset[str]
    updated: frozenset[str]

    @property
    def all(self) -> frozenset[str]:
        return self.new | self.updated


def window_start(
    now: dt.datetime, lookback_days: int, last_digest_at: dt.datetime | None
) -> dt.datetime:
    """Papers first seen after this moment are new for a subscriber: after their last digest
    was composed, and never more than `lookback_days` back (a first digest covers that much).

    Moments, not dates: subscribers live in many time zones and a date would be off by one
    for some of them, silently dropping or repeating a day of papers.
    """
    start = now - dt.timedelta(days=lookback_days)
    if last_digest_at is not None and last_digest_at > start:
        start = last_digest_at
    return start


def select_candidates(
    seen: Sequence[SeenPaper],
    profile: Profile,
    sent_versions: Mapping[str, int],
    since: dt.datetime,
) -> Candidates:
    new: set[str] = set()
    updated: set[str] = set()
    wanted_sources = set(profile.sources)
    for row in seen:
        paper = row.paper
        if wanted_sources and wanted_sources.isdisjoint(paper.sources):
            continue  # the profile reads only some sources
        if paper.id in sent_versions:
            if (
                profile.include_updates
                and row.last_seen > since
                and (paper.version or 0) > sent_versions[paper.id]
            ):
                updated.add(paper.id)
        elif row.first_seen > since and not paper.announce_type.is_replacement:
            new.add(paper.id)
    return Candidates(new=frozenset(new), updated=frozenset(updated))
