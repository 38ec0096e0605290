"""When each subscriber's digest is due, and when the next fetch happens: pure, clock injected.

Each local date has one delivery moment: the subscriber's `deliver_at` on that date in their
zone. A subscriber is due when the latest delivery moment at or before now has no digest (nor
a day closed without one) yet; the digest is keyed by that moment's local date (the outbox is
unique per subscriber and day).
- DST: a time the clocks skip (02:30 on a spring-forward night) is delivered one gap later,
  as Python resolves it (03:30 local); a repeated time (01:30 on a fall-back night) is reached
  at its first occurrence, and the second finds that day's digest, so it is sent once.
- A machine asleep over the time sends that day's digest at its first tick after waking, as
  long as it is still that local day (or within DELIVERY_GRACE of the moment, so a 23:58
  reader is not skipped by a tick at 00:00). A day missed for longer is not made up for: the
  next digest covers everything since the previous one, and no reader gets two in one day.
- A new subscriber's first digest comes at their first delivery time after subscribing, not
  at once with a digest dated the day before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from zoneinfo import ZoneInfo

from digest.models import Subscriber

HasDigestForDay = Callable[[Subscriber, dt.date], bool]
# How late a tick may find a delivery moment of an earlier local day and still deliver it:
# longer than any tick interval plus a fetch in front of it, far shorter than a day.
DELIVERY_GRACE = dt.timedelta(hours=1)


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


def latest_delivery_day(subscriber: Subscriber, now: dt.datetime) -> dt.date:
    """The local date of the latest delivery moment at or before `now`: today once today's
    moment has passed, else yesterday (whose moment always lies before today began)."""
    today = local_date(subscriber, now)
    if now >= delivery_moment(subscriber, today):
        return today
    return today - dt.timedelta(days=1)


def due_day(
    subscriber: Subscriber, now: dt.datetime, has_digest_for_day: HasDigestForDay
) -> dt.date | None:
    """The day whose digest should be composed for `subscriber` now, or None."""
    day = latest_delivery_day(subscriber, now)
    moment = delivery_moment(subscriber, day)
    if subscriber.created is not None and moment < subscriber.created:
        return None  # subscribed after that moment: their first digest is at the next one
    if local_date(subscriber, now) != day and now - moment > DELIVERY_GRACE:
        return None  # a day missed long ago, now another local day: wait for today's moment
    return None if has_digest_for_day(subscriber, day) else day


def due_digests(
    subscribers: Iterable[Subscriber], now: dt.datetime, has_digest_for_day: HasDigestForDay
) -> list[tuple[Subscriber, dt.date]]:
    """(subscriber, day) for every active subscriber whose digest is due now."""
    found = []
    for subscriber in subscribers:
        if not subscriber.active:
            continue
        day = due_day(subscriber, now, has_digest_for_day)
        if day is not None:
            found.append((subscriber, day))
    return found


def due_subscribers(
    subscribers: Iterable[Subscriber], now: dt.datetime, has_digest_for_day: HasDigestForDay
) -> list[Subscriber]:
    """The active subscribers whose digest should be composed now."""
    return [s for s, _ in due_digests(subscribers, now, has_digest_for_day)]


def next_delivery(subscriber: Subscriber, now: dt.datetime) -> dt.datetime:
    """The next delivery moment strictly after `now` (today's if still ahead, else tomorrow's)."""
    day = local_date(subscriber, now)
    for offset in range(3):  # two days always suffice; the third guards odd zone rules
        moment = delivery_moment(subscriber, day + dt.timedelta(days=offset))
        if moment > now:
            return moment
    raise AssertionError("unreachable: a delivery moment exists every day")


def local_dates(subscribers: Iterable[Subscriber], now: dt.datetime) -> set[dt.date]:
    """Every local today and yesterday of the subscribers at `now`: the days a due check asks
    about (at most four dates across the globe)."""
    days = {local_date(s, now) for s in subscribers}
    return days | {d - dt.timedelta(days=1) for d in days}


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
