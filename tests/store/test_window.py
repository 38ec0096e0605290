"""The sending window's decision (digest.store.window), pure: paces, daily room, opening."""

from __future__ import annotations

import datetime as dt

from digest.store.roles import SendLimits
from digest.store.window import BUCKET, DAY, plan_sends, room_again_at

NOW = dt.datetime(2026, 11, 20, 12, 0, 30, tzinfo=dt.UTC)


def test_a_slow_pace_far_ahead_is_kept_and_a_fast_one_far_ahead_is_dropped() -> None:
    slow = SendLimits(per_second=0.001)  # one message per 1,000 s
    ahead = NOW + dt.timedelta(seconds=4000)
    assert plan_sends(1, slow, NOW, ahead, 0).slots == (ahead,)
    fast = SendLimits(per_second=10)
    assert plan_sends(1, fast, NOW, ahead, 0).slots == (NOW,)


def test_the_daily_room_and_the_minutes_it_counts_in() -> None:
    cap = SendLimits(per_day=10)
    plan = plan_sends(5, cap, NOW, None, 8)
    assert plan.slots == (NOW, NOW) and plan.counts == {NOW.replace(second=0): 2}
    assert plan_sends(1, cap, NOW, None, 10).slots == ()


def test_room_opens_when_enough_of_the_oldest_minutes_have_left() -> None:
    cap = SendLimits(per_day=10)
    first, second = NOW.replace(second=0), NOW.replace(second=0) + BUCKET * 5
    assert room_again_at(cap, [(first, 3), (second, 7)], 10) == first + BUCKET + DAY
    assert room_again_at(cap, [(first, 3), (second, 10)], 13) == second + BUCKET + DAY
    assert room_again_at(cap, [(first, 3)], 3) is None
