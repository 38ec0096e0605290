"""arXiv's announcement calendar: which feed dates should have items."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from digest.collect.arxiv_calendar import (
    DEFAULT_HOLIDAYS,
    EASTERN,
    announcement_dates,
    expects_rss_items,
    is_announcement_day,
    last_announcement,
)

D = dt.date


@pytest.mark.parametrize(
    ("feed_date", "expected"),
    [
        (D(2026, 7, 27), True),  # Monday: Sunday evening's announcement
        (D(2026, 7, 28), True),
        (D(2026, 7, 31), True),  # Friday: Thursday evening's announcement
        (D(2026, 8, 1), False),  # Saturday
        (D(2026, 8, 2), False),  # Sunday
        (D(2024, 11, 28), True),  # the real all-archives capture is dated this Thursday
    ],
)
def test_expects_rss_items_on_weekdays_only(feed_date: dt.date, expected: bool) -> None:
    assert expects_rss_items(feed_date) is expected


def test_friday_and_saturday_are_not_announcement_days_sunday_is() -> None:
    assert not is_announcement_day(D(2026, 7, 31))  # Friday
    assert not is_announcement_day(D(2026, 8, 1))  # Saturday
    assert is_announcement_day(D(2026, 8, 2))  # Sunday
    # ...and so a feed dated Friday or Sunday is judged by the evening before it
    assert expects_rss_items(D(2026, 7, 31)) and not expects_rss_items(D(2026, 8, 2))


def test_thanksgiving_2026_decision() -> None:
    # Thursday 26 Nov 2026 has no announcement: the feed dated Thursday still carries
    # Wednesday evening's papers, the feed dated Friday 27 Nov is empty.
    assert D(2026, 11, 26) in DEFAULT_HOLIDAYS
    assert expects_rss_items(D(2026, 11, 26))
    assert not expects_rss_items(D(2026, 11, 27))
    assert expects_rss_items(D(2026, 11, 27), holidays=())  # operators can override


def test_last_announcement_follows_eastern_time_and_dst() -> None:
    utc = dt.UTC
    # Tuesday 28 Jul 2026 23:59 UTC = 19:59 EDT: Monday's announcement is the last one
    last = last_announcement(dt.datetime(2026, 7, 28, 23, 59, tzinfo=utc))
    assert last == dt.datetime(2026, 7, 27, 20, 0, tzinfo=EASTERN)
    # one minute later it is Tuesday's
    last = last_announcement(dt.datetime(2026, 7, 29, 0, 0, tzinfo=utc))
    assert last == dt.datetime(2026, 7, 28, 20, 0, tzinfo=EASTERN)
    assert last.utcoffset() == dt.timedelta(hours=-4)
    # in winter 20:00 EST is 01:00 UTC
    last = last_announcement(dt.datetime(2026, 1, 13, 1, 0, tzinfo=utc))
    assert last.astimezone(utc) == dt.datetime(2026, 1, 13, 1, 0, tzinfo=utc)


def test_last_announcement_skips_weekends_and_holidays() -> None:
    saturday_noon = dt.datetime(2026, 8, 1, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert last_announcement(saturday_noon).date() == D(2026, 7, 30)  # Thursday
    friday_after_thanksgiving = dt.datetime(2026, 11, 27, 21, 0, tzinfo=EASTERN)
    assert last_announcement(friday_after_thanksgiving).date() == D(2026, 11, 25)


def test_last_announcement_needs_an_aware_datetime() -> None:
    with pytest.raises(ValueError, match="aware"):
        last_announcement(dt.datetime(2026, 7, 28, 12, 0))


def test_announcement_dates_for_catch_up() -> None:
    days = announcement_dates(D(2026, 12, 20), D(2027, 1, 3))
    assert days == [
        D(2026, 12, 20),
        D(2026, 12, 21),
        D(2026, 12, 22),
        D(2026, 12, 23),
        # 24 Dec (holiday), 25-26 (Fri, Sat)
        D(2026, 12, 27),
        D(2026, 12, 28),
        D(2026, 12, 29),
        D(2026, 12, 30),
        # 31 Dec (holiday), 1-2 Jan 2027 (Fri, Sat)
        D(2027, 1, 3),
    ]
    assert announcement_dates(D(2026, 8, 1), D(2026, 7, 1)) == []
