"""Which stored papers a subscriber may be sent today: pure, from the store's answers.

A paper is new for a subscriber when it was first seen after their window opened and was never
sent to them (nor is waiting in a pending message). A higher version of a paper they were
sent is an update, offered only when their profile asks for updates. A paper first seen
before their window but within the lookback days, and never sent, is held over: it matched
but did not fit in an earlier digest (or did not match then), and is ranked again with the
new ones, so a match that did not fit one digest comes in a later one.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from digest.models import Profile, SeenPaper


@dataclass(frozen=True, slots=True)
class Candidates:
    new: frozenset[str]  # first seen since the window opened, never sent
    updated: frozenset[str]  # a higher version of a paper they were sent
    held: frozenset[str] = frozenset()  # first seen before the window, within lookback, unsent

    @property
    def all(self) -> frozenset[str]:
        return self.new | self.updated | self.held


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
        self._between: dict[tuple[dt.datetime, dt.datetime], frozenset[str]] = {}
        self._by_source_since: dict[dt.datetime, Counter[str]] = {}

    def new_since(self, since: dt.datetime) -> frozenset[str]:
        """Ids of the papers first seen after `since` that are not replacements."""
        found = self._new_since.get(since)
        if found is None:
            start = bisect.bisect_right(self._fresh_first_seen, since)
            found = self._new_since[since] = frozenset(self._fresh_ids[start:])
        return found

    def first_seen_between(self, start: dt.datetime, end: dt.datetime) -> frozenset[str]:
        """Ids of the papers first seen after `start` and up to `end`, not replacements."""
        found = self._between.get((start, end))
        if found is None:
            found = self.new_since(start) - self.new_since(end) if start < end else frozenset()
            self._between[(start, end)] = found
        return found

    def new_by_source(self, since: dt.datetime, sent: Collection[str]) -> Counter[str]:
        """How many papers each source brought that are new since `since` and not in `sent`
        (a paper two sources listed counts for both): one reader's view of the listings."""
        base = self._by_source_since.get(since)
        fresh = self.new_since(since)
        if base is None:
            base = Counter(name for i in fresh for name in self._by_id[i].paper.sources)
            self._by_source_since[since] = base
        gone = Counter(name for i in sent if i in fresh for name in self._by_id[i].paper.sources)
        return base - gone

    def count_by_source(self, ids: Iterable[str]) -> Counter[str]:
        return Counter(name for i in ids for name in self._by_id[i].paper.sources)

    def from_sources(self, names: Iterable[str]) -> frozenset[str]:
        return frozenset().union(*(self._by_source.get(name, frozenset()) for name in names))

    def get(self, paper_id: str) -> SeenPaper | None:
        return self._by_id.get(paper_id)


def select_candidates(
    seen: SeenIndex,
    profile: Profile,
    sent_versions: Mapping[str, int],
    since: dt.datetime,
    held_from: dt.datetime | None = None,
) -> Candidates:
    """New, updated and held-over papers for one subscriber. `held_from` opens the lookback:
    unsent papers first seen between it and `since` are held over (None: none are)."""
    new = seen.new_since(since).difference(sent_versions)
    held: frozenset[str] = frozenset()
    if held_from is not None:
        held = seen.first_seen_between(held_from, since).difference(sent_versions)
    updated: set[str] = set()
    if profile.include_updates:
        for paper_id, version in sent_versions.items():
            row = seen.get(paper_id)
            if row is not None and row.last_seen > since and (row.paper.version or 0) > version:
                updated.add(paper_id)
    if profile.sources:  # the profile reads only some sources
        allowed = seen.from_sources(profile.sources)
        return Candidates(
            new=new & allowed, updated=frozenset(updated & allowed), held=held & allowed
        )
    return Candidates(new=frozenset(new), updated=frozenset(updated), held=held)
