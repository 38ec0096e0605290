"""When arXiv announces, so an empty listing can be told apart from a failed fetch.

arXiv announces new papers Sunday to Thursday at 20:00 US Eastern (America/New_York, so the
hour follows daylight saving), never on Friday or Saturday, and not on its holidays. The RSS
feed is rebuilt around midnight Eastern and is dated the next day: the feed dated Monday
carries Sunday evening's announcement, and so on, so feeds dated Monday to Friday have
items and feeds dated Saturday or Sunday (or the day after a holiday) are empty.

Holidays here are *announcement* dates that arXiv skips, as arXiv's own schedule states them
("no announcement on Thursday 26 November"). Operators override the set through config.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/New_York")
ANNOUNCE_TIME = dt.time(20, 0)
_ANNOUNCE_WEEKDAYS = frozenset({6, 0, 1, 2, 3})  # Sunday..Thursday (Monday is 0)

# arXiv's 2026 schedule, following the pattern of the holidays arXiv has announced in past
# years (info.arxiv.org, "Availability" / holiday schedule): US Thanksgiving and the
# Christmas/New Year break. Only days that would otherwise be announcement days matter
# (Christmas 2026 is a Friday). This is our reading, not a copy of an official 2026 list:
# check arXiv's published schedule and override `arxiv_holidays` in the config when it
# differs.
#
# Thanksgiving: arXiv has skipped the Thursday announcement in past years, so the feed dated
# Thursday 26 Nov 2026 still has Wednesday evening's papers and the feed dated Friday
# 27 Nov 2026 is empty (expects_rss_items says False for it, and True for the Thursday).
DEFAULT_HOLIDAYS: frozenset[dt.date] = frozenset(
    {
        dt.date(2026, 1, 1),  # New Year's Day (Thursday)
        dt.date(2026, 11, 26),  # Thanksgiving (Thursday)
        dt.date(2026, 12, 24),  # Christmas Eve (Thursday)
        dt.date(2026, 12, 31),  # New Year's Eve (Thursday)
    }
)


def is_announcement_day(day: dt.date, holidays: Collection[dt.date] = DEFAULT_HOLIDAYS) -> bool:
    """True if arXiv announces at 20:00 Eastern on this (Eastern) calendar day."""
    return day.weekday() in _ANNOUNCE_WEEKDAYS and day not in holidays


def expects_rss_items(day: dt.date, holidays: Collection[dt.date] = DEFAULT_HOLIDAYS) -> bool:
    """True if the RSS feed dated `day` should list papers (the evening before announced)."""
    return day.weekday() < 5 and is_announcement_day(day - dt.timedelta(days=1), holidays)


def last_announcement(
    now: dt.datetime, holidays: Collection[dt.date] = DEFAULT_HOLIDAYS
) -> dt.datetime:
    """The most recent announcement at or before `now` (aware, in US Eastern time)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("last_announcement needs an aware datetime")
    local = now.astimezone(EASTERN)
    day = local.date()
    if local.time() < ANNOUNCE_TIME:
        day -= dt.timedelta(days=1)
    # At most a weekend plus a holiday break stands between announcements; a year is a
    # generous bound that still stops a misconfigured holiday list from looping forever.
    for _ in range(366):
        if is_announcement_day(day, holidays):
            return dt.datetime.combine(day, ANNOUNCE_TIME, tzinfo=EASTERN)
        day -= dt.timedelta(days=1)
    raise ValueError("no arXiv announcement day in the year before now: check the holidays")


def announcement_dates(
    start: dt.date, end: dt.date, holidays: Collection[dt.date] = DEFAULT_HOLIDAYS
) -> list[dt.date]:
    """Every announcement day from `start` to `end` inclusive (Eastern dates), for catch-up."""
    days: list[dt.date] = []
    day = start
    while day <= end:
        if is_announcement_day(day, holidays):
            days.append(day)
        day += dt.timedelta(days=1)
    return days
