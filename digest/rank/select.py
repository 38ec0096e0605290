"""Which stored papers a subscriber may be sent today: pure, from the store's answers.

A paper is new for a subscriber when it was first seen after their window opened and was never
sent to them (nor is waiting in a pending message). A higher version of a paper they were
sent is an update, offered only when their profile asks for updates.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
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


class SeenIndex:
    """The seen papers arranged once per day for selection, which runs once per subscriber:
    the papers new since a moment are found by bisection and kept per moment (most
    subscribers of one run share their window), so a subscriber costs set operations on
    what they were sent, not a pass over every paper."""

    def __init__(self, seen: Sequence[SeenPaper]) -> None:
        self.seen = tuple(seen)
        self._by_id = {s.paper.id: s for s in self.seen}
        fresh = sorted(
            (s for s in self.seen if not s.paper.announce_type.is_replacement),
            key=lambda s: s.first_seen,
        )
        self._fresh_ids = [s.paper.id for s in fresh]
        self._fresh_first_seen = [s.first_seen for s in fresh]
        by_source: dict[str, set[str]] = {}
        for s in self.seen:
            for name in s.paper.sources:
                by_source.setdefault(name, set()).add(s.paper.id)
        self._by_source = {name: frozenset(ids) for name, ids in by_source.items()}
        self._new_since: dict[dt.datetime, frozenset[str]] = {}

    def new_since(self, since: dt.datetime) -> frozenset[str]:
        """Ids of the papers first seen after `since` that are not replacements."""
        found = self._new_since.get(since)
        if found is None:
            start = bisect.bisect_right(self._fresh_first_seen, since)
            found = self._new_since[since] = frozenset(self._fresh_ids[start:])
        return found

    def from_sources(self, names: Iterable[str]) -> frozenset[str]:
        return frozenset().union(*(self._by_source.get(name, frozenset()) for name in names))

    def get(self, paper_id: str) -> SeenPaper | None:
        return self._by_id.get(paper_id)


def select_candidates(
    seen: SeenIndex,
    profile: Profile,
    sent_versions: Mapping[str, int],
    since: dt.datetime,
) -> Candidates:
    new = seen.new_since(since).difference(sent_versions)
    updated: set[str] = set()
    if profile.include_updates:
        for paper_id, version in sent_versions.items():
            row = seen.get(paper_id)
            if row is not None and row.last_seen > since and (row.paper.version or 0) > version:
                updated.add(paper_id)
    if profile.sources:  # the profile reads only some sources
        allowed = seen.from_sources(profile.sources)
        return Candidates(new=new & allowed, updated=frozenset(updated & allowed))
    return Candidates(new=frozenset(new), updated=frozenset(updated))
