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
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from digest.models import Profile, SeenPaper


class Unsent(AbstractSet[str]):
    """The papers of `pool` not in `sent`, plus `updated`, without copying `pool`: the pool
    (the lookback's papers, thousands) is one set shared by every subscriber of a run, and
    ranking only asks whether the papers that matched are in it."""

    __slots__ = ("_pool", "_sent", "_updated")

    def __init__(
        self, pool: frozenset[str], sent: Collection[str], updated: frozenset[str]
    ) -> None:
        self._pool, self._sent, self._updated = pool, sent, updated

    def __contains__(self, paper_id: object) -> bool:
        return (paper_id in self._pool and paper_id not in self._sent) or (
            paper_id in self._updated
        )

    def __iter__(self) -> Iterator[str]:
        yield from (i for i in self._pool if i not in self._sent and i not in self._updated)
        yield from self._updated

    def __len__(self) -> int:
        gone = sum(1 for i in self._sent if i in self._pool and i not in self._updated)
        return len(self._pool) - gone + len(self._updated)


@dataclass(frozen=True, slots=True)
class Candidates:
    new: frozenset[str]  # first seen since the window opened, never sent
    updated: frozenset[str]  # a higher version of a paper they were sent
    # Everything offered: new, updated and held over (first seen before the window, within
    # the lookback, never sent). None: the new and updated ones only.
    offered: Unsent | None = None

    @property
    def all(self) -> AbstractSet[str]:
        return self.offered if self.offered is not None else self.new | self.updated

    def is_held(self, paper_id: str) -> bool:
        return paper_id in self.all and paper_id not in self.new and paper_id not in self.updated

    @property
    def held(self) -> frozenset[str]:
        """The held-over papers as a set of their own (a copy: only when needed)."""
        if self.offered is None:
            return frozenset()
        return frozenset(i for i in self.offered if i not in self.new and i not in self.updated)


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
        self._new_since: dict[tuple[dt.datetime, tuple[str, ...]], frozenset[str]] = {}
        self._by_source_since: dict[dt.datetime, Counter[str]] = {}

    def new_since(self, since: dt.datetime, sources: tuple[str, ...] = ()) -> frozenset[str]:
        """Ids of the papers first seen after `since` that are not replacements (and were
        listed by one of `sources`, when given)."""
        found = self._new_since.get((since, sources))
        if found is None:
            if sources:
                found = self.new_since(since) & self.from_sources(sources)
            else:
                start = bisect.bisect_right(self._fresh_first_seen, since)
                found = frozenset(self._fresh_ids[start:])
            self._new_since[(since, sources)] = found
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
    new = seen.new_since(since, profile.sources).difference(sent_versions)
    found: set[str] = set()
    if profile.include_updates:
        for paper_id, version in sent_versions.items():
            row = seen.get(paper_id)
            if row is not None and row.last_seen > since and (row.paper.version or 0) > version:
                found.add(paper_id)
    if profile.sources:  # the profile reads only some sources
        found &= seen.from_sources(profile.sources)
    updated = frozenset(found)
    offered = None
    if held_from is not None and held_from < since:
        offered = Unsent(seen.new_since(held_from, profile.sources), sent_versions, updated)
    return Candidates(new=frozenset(new), updated=updated, offered=offered)
