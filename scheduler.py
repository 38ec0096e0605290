"""Run digest as a service (APScheduler 3.x): fetch on a timetable, deliver on each reader's clock.

    python scheduler.py [--config PATH] [--log-json] [--now WHEN]

Three jobs, run one at a time (a single worker thread, so a fetch and a tick never race):
- fetch at each `[schedule] fetch_at` time in `fetch_timezone`, then a tick;
- a delivery tick every `tick_minutes`: compose the digests that are due in each subscriber's
  own time zone, send what is pending;
- at start: a fetch if none ran since the latest scheduled fetch time, then a tick.
A job missed while the machine slept runs once when it wakes (coalesced, with a grace period)
and never overlaps itself. Several schedulers may share one database: digests are composed
once (the outbox's unique key) and sent once (claims on outbox rows); a job lease keeps two
of them from fetching at once, and a tick waits while another one fetches. `--now` starts the
jobs' clock at a given moment (it runs on from there); the timetable keeps real time.

SIGTERM or Ctrl-C stops cleanly: a fetch under way is stopped, the message in flight finishes,
the rest stay pending, claims are released. A second signal interrupts at once: the messages
still in flight are given back (their claims released) before the process exits.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import sys
import threading
import time
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from digest.config.load import load_settings
from digest.config.settings import Settings, parse_moment
from digest.errors import DigestError
from digest.jobs.context import Clock, utc_now
from digest.jobs.service import fetch_job, tick_job
from digest.jobs.signals import stop_on_signals
from digest.util.clock import running_from
from digest.util.logs import event, setup_logging

log = logging.getLogger("digest.scheduler")

JOIN_LOOK_SECONDS = 0.05
INTERRUPT_GRACE_SECONDS = 10.0  # after a second signal, for the job to give its claims back
FETCH_GRACE_SECONDS = 6 * 3600  # a laptop asleep at fetch time still fetches when it wakes


class Service:
    """The jobs, bound to one settings object and one stop event."""

    def __init__(self, settings: Settings, stop: threading.Event, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.stop = stop
        self.clock = clock  # the jobs' clock; the timetable itself runs on the real one

    def fetch_then_tick(self, *, only_if_stale: bool = False) -> None:
        if self.stop.is_set():
            return
        try:
            fetch_job(self.settings, only_if_stale=only_if_stale, stop=self.stop, clock=self.clock)
        except DigestError as err:
            event(log, "job_failed", f"fetch failed: {err}", level=logging.ERROR, error=str(err))
        except Exception:
            # A bug: keep where it happened, and still deliver what the store already holds.
            log.exception("fetch failed with an unexpected error")
        self.tick()

    def catch_up(self) -> None:
        self.fetch_then_tick(only_if_stale=True)

    def tick(self) -> None:
        if self.stop.is_set():
            return
        try:
            tick_job(self.settings, stop=self.stop, clock=self.clock)
        except DigestError as err:
            event(log, "job_failed", f"tick failed: {err}", level=logging.ERROR, error=str(err))
        except Exception:
            log.exception("tick failed with an unexpected error")  # the next tick tries again


def build_scheduler(
    settings: Settings, stop: threading.Event, clock: Clock = utc_now
) -> BlockingScheduler:
    service = Service(settings, stop, clock)
    schedule = settings.schedule
    scheduler = BlockingScheduler(
        timezone=dt.UTC,
        executors={"default": ThreadPoolExecutor(1)},
    )
    fetch_times = OrTrigger(
        [
            CronTrigger(hour=at.hour, minute=at.minute, timezone=schedule.fetch_zone)
            for at in schedule.fetch_at
        ]
    )
    # coalesce: runs missed while asleep collapse into one; max_instances: never overlap.
    once = {"coalesce": True, "max_instances": 1}
    scheduler.add_job(
        service.fetch_then_tick,
        fetch_times,
        id="fetch",
        misfire_grace_time=FETCH_GRACE_SECONDS,
        **once,
    )
    tick_seconds = schedule.tick_minutes * 60
    scheduler.add_job(
        service.tick,
        IntervalTrigger(seconds=tick_seconds, timezone=dt.UTC),
        id="tick",
        misfire_grace_time=tick_seconds,
        **once,
    )
    scheduler.add_job(
        service.catch_up,
        DateTrigger(timezone=dt.UTC),
        id="catch-up",
        misfire_grace_time=None,
        **once,
    )
    return scheduler


def _join_jobs(timeout: float | None) -> None:
    """Wait for the job threads (every other non-daemon thread), at most `timeout` seconds.

    By looking, not by Thread.join: a join that a signal interrupts takes its thread for
    finished from then on (Python 3.11), and a second signal may well come while waiting."""
    until = None if timeout is None else time.monotonic() + timeout
    me = threading.current_thread()
    while any(t is not me and not t.daemon and t.is_alive() for t in threading.enumerate()):
        if until is not None and time.monotonic() >= until:
            return
        time.sleep(JOIN_LOOK_SECONDS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Fetch on a timetable and mail each subscriber's digest at their own time."
    )
    parser.add_argument("--config", type=Path, help="TOML settings (default: $DIGEST_CONFIG)")
    parser.add_argument("--log-json", action="store_true", help="write logs as JSON lines")
    parser.add_argument(
        "--now",
        metavar="WHEN",
        help="the jobs' clock starts at this moment and runs on from there (tests, rehearsals)",
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
        clock = running_from(parse_moment(args.now, settings.zone)) if args.now else utc_now
    except DigestError as err:
        print(f"scheduler: error: {err}", file=sys.stderr)
        return 2
    except ValueError as err:
        print(f"scheduler: error: --now: {err}", file=sys.stderr)
        return 2
    setup_logging(
        json_lines=args.log_json or settings.logging.format == "json", level=settings.logging.level
    )
    stop = threading.Event()
    scheduler = build_scheduler(settings, stop, clock)

    def shut_down() -> None:
        # Jobs finish on their own (they see `stop`); the process exits once they have.
        with contextlib.suppress(SchedulerNotRunningError):
            scheduler.shutdown(wait=False)

    with stop_on_signals(stop, on_stop=shut_down):
        schedule = settings.schedule
        event(
            log,
            "scheduler_started",
            f"fetching at {', '.join(f'{t:%H:%M}' for t in schedule.fetch_at)} "
            f"{schedule.fetch_timezone}; delivery tick every {schedule.tick_minutes} min; "
            f"database {settings.database_name}",
            database=settings.database_name,
        )
        try:
            scheduler.start()
            # The worker thread finishes its current job (which sees `stop`): wait for it
            # here, still listening for a second signal, so that "stopped" is said after the
            # job's last word.
            _join_jobs(None)
        except KeyboardInterrupt:
            # A second signal: the job gives up what is in flight and gives its claims back
            # (it sees `stop` interrupted); wait that long, not for the server's timeout.
            _join_jobs(INTERRUPT_GRACE_SECONDS)
            event(log, "scheduler_interrupted", "interrupted", level=logging.WARNING)
            return 130
    event(log, "scheduler_stopped", "stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
