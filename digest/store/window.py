"""Sending slots under the mail provider's limits: the decision both backends take inside the
transaction that holds the window's lock (pure; the backends read and write the state).

The state is small, whatever the day's volume:
- `next_at`, the earliest moment the next message may go: each slot moves it on by
  1 / per_second, and a quiet spell earns no burst, so any second holds at most per_second
  slots;
- the day's sends counted per minute: the daily cap counts every minute that may still hold
  a send of the last 24 hours, so the sliding window is kept or erred on the safe side by
  less than a minute (a send waits up to a minute longer than it must, never the reverse).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from digest.store.roles import SendLimits

BUCKET = dt.timedelta(minutes=1)
DAY = dt.timedelta(hours=24)
# A pace or count further ahead of `now` than this came from a clock far ahead (another
# machine's, or one a test or `--now` set): it is dropped rather than waited for. A slow
# pace reserves further ahead: then the horizon is this many of its steps.
AHEAD = dt.timedelta(minutes=10)
AHEAD_STEPS = 200


@dataclass(frozen=True, slots=True)
class Plan:
    slots: tuple[dt.datetime, ...]
    next_at: dt.datetime | None  # the pace after these slots
    counts: dict[dt.datetime, int]  # minute -> sends these slots add to it


def bucket_of(moment: dt.datetime) -> dt.datetime:
    return moment.replace(second=0, microsecond=0)


def oldest_kept(now: dt.datetime) -> dt.datetime:
    """Minutes starting at or before this can hold no send of the last 24 hours."""
    return bucket_of(now - DAY) - BUCKET


def newest_kept(now: dt.datetime, limits: SendLimits) -> dt.datetime:
    if limits.per_second > 0:
        return now + max(AHEAD, dt.timedelta(seconds=AHEAD_STEPS / limits.per_second))
    return now + AHEAD


def pace_start(next_at: dt.datetime | None, now: dt.datetime, limits: SendLimits) -> dt.datetime:
    if next_at is None or next_at <= now or next_at > newest_kept(now, limits):
        return now
    return next_at


def plan_sends(
    count: int, limits: SendLimits, now: dt.datetime, next_at: dt.datetime | None, in_window: int
) -> Plan:
    """Up to `count` slots: as many as the daily window has room for, paced per second."""
    room = count if limits.per_day <= 0 else max(0, min(count, limits.per_day - in_window))
    if room == 0:
        return Plan((), next_at, {})
    if limits.per_second > 0:
        step = dt.timedelta(seconds=1 / limits.per_second)
        first = pace_start(next_at, now, limits)
        slots = tuple(first + step * n for n in range(room))
        next_at = slots[-1] + step
    else:
        slots = (now,) * room
    counts = dict(Counter(bucket_of(s) for s in slots)) if limits.per_day > 0 else {}
    return Plan(slots, next_at, counts)


def room_again_at(
    limits: SendLimits, minutes: Iterable[tuple[dt.datetime, int]], in_window: int
) -> dt.datetime | None:
    """When the oldest counted minutes (`minutes` in ascending order) have left the window
    far enough for one more send; None if it has room now."""
    left = in_window
    if left < limits.per_day:
        return None
    for start, sent in minutes:
        left -= sent
        if left < limits.per_day:
            return start + BUCKET + DAY
    return None
