"""When each subscriber's digest is due, and when the next fetch happens: pure, clock injected.

A subscriber is due when their local clock has passed their delivery time on their local date
and no digest exists for that date yet. Comparing moments (not wall-clock readings) and keying
on the local date makes DST safe: a skipped time (02:30 on a spring-forward night) is delivered
one gap later, as Python resolves it (03:30 local), and a repeated time (01:30 on a fall-back
night) is reached at its first occurrence; the digest composed then makes the second occurrence
find a digest for the day, so it is sent once. A machine that slept through the time finds the
subscriber due at its first tick after waking, once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from zoneinfo import ZoneInfo

from digest.models import Subscriber

HasDigestForDay = Callable[[Subscriber, dt.date], bool]


def wall_moment(day: dt.date, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The instant (UTC) when the clocks in `zone` read `at` on `day`, first occurrence.

    A time the clocks skip resolves with the offset before the change (PEP 495, fold=0):
    02:30 on a spring-forward night is 03:30 after the change. When that pushes the moment
    onto the next date (zones that change at midnight), the offset after the change is used
    instead, so every date keeps exactly one delivery moment.
    """
    naive = dt.datetime.combine(day, at)
    moment = naive.replace(tzinfo=zone, fold=0).astimezone(dt.UTC)
    if moment.astimezone(zone).date() != day:
        moment = naive.replace(tzinfo=zone, fold=1).astimezone(dt.UTC)
    return moment


def local_date(subscriber: Subscriber, now: dt.datetime) -> dt.date:
    return now.astimezone(ZoneInfo(subscriber.timezone)).date()


def delivery_moment(subscriber: Subscriber, day: dt.date) -> dt.datetime:
    """When `subscriber`'s digest for their local `day` becomes due (UTC)."""
    return wall_moment(day, subscriber.deliver_at, ZoneInfo(subscriber.timezone))


def is_due(subscriber: Subscriber, now: dt.datetime, has_digest_for_day: HasDigestForDay) -> bool:
    day = local_date(subscriber, now)
    return now >= delivery_moment(subscriber, day) and not has_digest_for_day(subscriber, day)


def due_subscribers(
    subscribers: Iterable[Subscriber], now: dt.datetime, has_digest_for_day: HasDigestForDay
) -> list[Subscriber]:
    """The active subscribers whose digest for their local today should be composed now."""
    return [s for s in subscribers if s.active and is_due(s, now, has_digest_for_day)]


def next_delivery(subscriber: Subscriber, now: dt.datetime) -> dt.datetime:
    """The next delivery moment strictly after `now` (today's if still ahead, else tomorrow's)."""
    day = local_date(subscriber, now)
    for offset in range(3):  # two days always suffice; the third guards odd zone rules
        moment = delivery_moment(subscriber, day + dt.timedelta(days=offset))
        if moment > now:
            return moment
    raise AssertionError("unreachable: a delivery moment exists every day")


def local_dates(subscribers: Iterable[Subscriber], now: dt.datetime) -> set[dt.date]:
    """The local dates the subscribers are living in at `now` (at most three across the globe)."""
    return {local_date(s, now) for s in subscribers}


def next_fetch(fetch_at: Sequence[dt.time], zone: ZoneInfo, now: dt.datetime) -> dt.datetime:
    """The next configured fetch moment strictly after `now`."""
    if not fetch_at:
        raise ValueError("no fetch times configured")
    today = now.astimezone(zone).date()
    moments = (
        wall_moment(today + dt.timedelta(days=offset), at, zone)
        for offset in range(3)
        for at in fetch_at
    )
    return min(m for m in moments if m > now)


def last_fetch_slot(fetch_at: Sequence[dt.time], zone: ZoneInfo, now: dt.datetime) -> dt.datetime:
    """The latest configured fetch moment at or before `now`: a fetch older than this is stale."""
    if not fetch_at:
        raise ValueError("no fetch times configured")
    today = now.astimezone(zone).date()
    moments = (
        wall_moment(today - dt.timedelta(days=offset), at, zone)
        for offset in range(3)
        for at in fetch_at
    )
    return max(m for m in moments if m <= now)
