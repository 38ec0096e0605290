"""When digests are due, with an injected clock: time zones, DST changes, a sleeping machine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from digest.jobs.schedule import (
    delivery_moment,
    due_digests,
    due_subscribers,
    last_fetch_slot,
    next_delivery,
    next_fetch,
)
from digest.models import Profile, Subscriber, Term, Topic

PROFILE = Profile(topics=(Topic("main", (Term("x"),)),))
UTC = dt.UTC


def person(name: str, at: str, zone: str, number: int = 1) -> Subscriber:
    hours, minutes = at.split(":")
    return Subscriber(
        f"{name}@example.org", PROFILE, dt.time(int(hours), int(minutes)), zone, id=number
    )


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


class Outbox:
    """What the store would answer: the (subscriber, day) digests composed so far."""

    def __init__(self) -> None:
        self.days: set[tuple[int | None, dt.date]] = set()

    def has(self, subscriber: Subscriber, day: dt.date) -> bool:
        return (subscriber.id, day) in self.days

    def tick(self, subscribers: list[Subscriber], now: dt.datetime) -> list[tuple[str, dt.date]]:
        """One scheduler tick: compose whatever is due (as the pipeline would)."""
        due = due_digests(subscribers, now, self.has)
        for subscriber, day in due:
            self.days.add((subscriber.id, day))
        return [(s.email, day) for s, day in due]


def ticks(start: dt.datetime, end: dt.datetime, minutes: int) -> Iterator[dt.datetime]:
    now = start
    while now <= end:
        yield now
        now += dt.timedelta(minutes=minutes)


def test_three_time_zones_each_at_their_own_seven_oclock() -> None:
    tokyo = person("tokyo", "07:00", "Asia/Tokyo", 1)
    berlin = person("berlin", "07:00", "Europe/Berlin", 2)
    newyork = person("newyork", "07:00", "America/New_York", 3)
    everyone = [tokyo, berlin, newyork]
    outbox = Outbox()
    sent: dict[str, list[dt.datetime]] = {}
    for now in ticks(utc(2024, 11, 27, 12, 0), utc(2024, 11, 29, 12, 0), 5):
        for email, _ in outbox.tick(everyone, now):
            sent.setdefault(email, []).append(now)
    # A first digest at the first tick (they are new), then one at 07:00 local every day.
    assert sent[tokyo.email] == [
        utc(2024, 11, 27, 12, 0),
        utc(2024, 11, 27, 22),
        utc(2024, 11, 28, 22),
    ]
    assert sent[berlin.email] == [
        utc(2024, 11, 27, 12, 0),
        utc(2024, 11, 28, 6),
        utc(2024, 11, 29, 6),
    ]
    assert sent[newyork.email] == [
        utc(2024, 11, 27, 12, 0),
        utc(2024, 11, 28, 12),
        utc(2024, 11, 29, 12),
    ]
    assert due_subscribers(
        everyone, utc(2024, 11, 28, 6, 30), lambda s, d: d < dt.date(2024, 11, 28)
    ) == [tokyo, berlin]


def test_spring_forward_skipped_time_is_sent_once_an_hour_later() -> None:
    # New York, 10 March 2024: the clocks jump from 02:00 to 03:00; 02:30 never happens.
    early = person("early", "02:30", "America/New_York")
    assert delivery_moment(early, dt.date(2024, 3, 10)) == utc(2024, 3, 10, 7, 30)  # 03:30 EDT
    outbox = Outbox()
    outbox.days.add((early.id, dt.date(2024, 3, 9)))
    fired = [
        now
        for now in ticks(utc(2024, 3, 10, 5, 0), utc(2024, 3, 10, 12, 0), 5)
        if outbox.tick([early], now)
    ]
    assert fired == [utc(2024, 3, 10, 7, 30)]
    assert next_delivery(early, utc(2024, 3, 10, 5, 0)) == utc(2024, 3, 10, 7, 30)
    assert next_delivery(early, utc(2024, 3, 10, 7, 30)) == utc(2024, 3, 11, 6, 30)  # 02:30 EDT


def test_fall_back_repeated_time_is_sent_once_at_its_first_occurrence() -> None:
    # New York, 3 November 2024: 01:00-02:00 happens twice (EDT, then EST).
    night = person("night", "01:30", "America/New_York")
    outbox = Outbox()
    outbox.days.add((night.id, dt.date(2024, 11, 2)))
    fired = [
        now
        for now in ticks(utc(2024, 11, 3, 3, 0), utc(2024, 11, 3, 12, 0), 5)
        if outbox.tick([night], now)
    ]
    assert fired == [utc(2024, 11, 3, 5, 30)]  # 01:30 EDT; 01:30 EST (06:30 UTC) sends nothing
    assert next_delivery(night, utc(2024, 11, 3, 5, 30)) == utc(2024, 11, 4, 6, 30)


def test_machine_asleep_over_the_delivery_time_sends_once_on_waking() -> None:
    reader = person("reader", "07:00", "Europe/Berlin")
    outbox = Outbox()
    outbox.days.add((reader.id, dt.date(2024, 11, 27)))
    assert outbox.tick([reader], utc(2024, 11, 28, 5, 55)) == []  # 06:55 in Berlin
    # Asleep from 06:55 to 11:47 local; the first tick after waking composes the digest.
    assert outbox.tick([reader], utc(2024, 11, 28, 10, 47)) == [
        (reader.email, dt.date(2024, 11, 28))
    ]
    assert outbox.tick([reader], utc(2024, 11, 28, 10, 52)) == []
    # Asleep for three days: one digest on waking (for the latest day), not three.
    assert outbox.tick([reader], utc(2024, 12, 1, 20, 0)) == [(reader.email, dt.date(2024, 12, 1))]
    assert outbox.tick([reader], utc(2024, 12, 1, 20, 5)) == []


def test_a_time_just_before_midnight_is_not_lost_when_the_tick_falls_after_it() -> None:
    late = person("late", "23:58", "UTC")
    outbox = Outbox()
    outbox.days.add((late.id, dt.date(2024, 11, 27)))
    fired = [
        (now, days)
        for now in ticks(utc(2024, 11, 28, 12, 0), utc(2024, 11, 30, 12, 0), 5)
        if (days := outbox.tick([late], now))
    ]
    assert fired == [
        (utc(2024, 11, 29, 0, 0), [(late.email, dt.date(2024, 11, 28))]),
        (utc(2024, 11, 30, 0, 0), [(late.email, dt.date(2024, 11, 29))]),
    ]


def test_inactive_subscribers_are_never_due() -> None:
    gone = Subscriber("gone@example.org", PROFILE, dt.time(7), "UTC", id=9, active=False)
    assert due_subscribers([gone], utc(2024, 11, 28, 12), lambda s, d: False) == []


# Each zone with the local dates of its two DST changes in 2024 (Kolkata has none).
DST_CHANGES = {
    "America/New_York": ("2024-03-10", "2024-11-03"),
    "Europe/Berlin": ("2024-03-31", "2024-10-27"),
    "Australia/Sydney": ("2024-04-07", "2024-10-06"),
    "Australia/Lord_Howe": ("2024-04-07", "2024-10-06"),  # a 30-minute shift
    "America/Santiago": ("2024-04-07", "2024-09-08"),  # changes at midnight
    "Asia/Kolkata": ("2024-03-10", "2024-11-03"),  # no DST, a half-hour offset
}
TIMES = ["00:00", "00:30", "01:30", "02:30", "07:00", "23:45"]


@pytest.mark.parametrize("zone", sorted(DST_CHANGES))
def test_every_local_day_gets_exactly_one_digest_through_dst_changes(zone: str) -> None:
    """Ten-minute ticks from two days before each change to two days after: every local date
    gets one digest, at the first tick at or after its delivery moment."""
    tz = ZoneInfo(zone)
    for change in DST_CHANGES[zone]:
        first_day = dt.date.fromisoformat(change) - dt.timedelta(days=1)
        last_day = first_day + dt.timedelta(days=2)
        start = dt.datetime.combine(first_day, dt.time(0), tz).astimezone(UTC)
        end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), tz)
        for at in TIMES:
            reader = person("sweep", at, zone)
            outbox = Outbox()
            outbox.days.add((reader.id, first_day - dt.timedelta(days=1)))
            fired: dict[dt.date, list[dt.datetime]] = {}
            for now in ticks(start, end.astimezone(UTC) - dt.timedelta(minutes=1), 10):
                for _, day in outbox.tick([reader], now):
                    fired.setdefault(day, []).append(now)
            assert sorted(fired) == [first_day + dt.timedelta(days=n) for n in range(3)], (
                zone,
                at,
                fired,
            )
            for day, moments in fired.items():
                moment = delivery_moment(reader, day)
                assert moment.astimezone(tz).date() == day, (zone, at, day)
                assert len(moments) == 1, (zone, at, day, moments)
                assert dt.timedelta(0) <= moments[0] - moment < dt.timedelta(minutes=10)


def test_fetch_times_in_new_york() -> None:
    zone = ZoneInfo("America/New_York")
    times = (dt.time(0, 30), dt.time(6, 30), dt.time(12, 30), dt.time(18, 30))
    now = utc(2024, 11, 28, 12, 0)  # 07:00 in New York
    assert next_fetch(times, zone, now) == utc(2024, 11, 28, 17, 30)  # 12:30 EST
    assert last_fetch_slot(times, zone, now) == utc(2024, 11, 28, 11, 30)  # 06:30 EST
    late = utc(2024, 11, 29, 0, 0)  # 19:00 on the 28th in New York
    assert next_fetch(times, zone, late) == utc(2024, 11, 29, 5, 30)  # 00:30 EST on the 29th


def test_a_new_subscriber_waits_for_their_first_delivery_time() -> None:
    # Subscribed at 23:59 Berlin time with --at 07:00: no digest dated the day before at once.
    created = utc(2024, 11, 23, 22, 59)
    reader = Subscriber(
        "new@example.org", PROFILE, dt.time(7, 0), "Europe/Berlin", id=1, created=created
    )
    outbox = Outbox()
    fired = [
        (now, days)
        for now in ticks(utc(2024, 11, 23, 23, 0), utc(2024, 11, 25, 12, 0), 5)
        if (days := outbox.tick([reader], now))
    ]
    assert fired == [
        (utc(2024, 11, 24, 6, 0), [(reader.email, dt.date(2024, 11, 24))]),
        (utc(2024, 11, 25, 6, 0), [(reader.email, dt.date(2024, 11, 25))]),
    ]


def test_a_fresh_start_after_midnight_sends_today_at_their_time_not_yesterday_at_once() -> None:
    reader = person("berlin", "07:00", "Europe/Berlin")
    outbox = Outbox()
    outbox.days.add((reader.id, dt.date(2024, 11, 21)))  # last digest days ago
    # The scheduler starts at 00:40 on Tuesday 24 Nov, Berlin time.
    fired = [
        (now, days)
        for now in ticks(utc(2024, 11, 23, 23, 40), utc(2024, 11, 24, 22, 0), 5)
        if (days := outbox.tick([reader], now))
    ]
    assert fired == [(utc(2024, 11, 24, 6, 0), [(reader.email, dt.date(2024, 11, 24))])]
