"""Run the daily digest job on a schedule (APScheduler 3.x).

    python scheduler.py [--config PATH]

A thin shell around `digest run`: the job runs every day at `[schedule] run_at` in
`[schedule] timezone`. A job missed while the machine slept runs once when it wakes
(coalesced, with a grace period), and it never overlaps itself.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from digest.cli import main as digest_main
from digest.config import load_settings
from digest.errors import DigestError

log = logging.getLogger("digest.scheduler")

MISFIRE_GRACE_SECONDS = 6 * 3600  # a laptop asleep at run time still gets the day's digest


def build_scheduler(config: Path | None) -> BlockingScheduler:
    settings = load_settings(config)
    scheduler = BlockingScheduler(timezone=settings.schedule.timezone)
    argv = [*(["--config", str(config)] if config else []), "run"]
    scheduler.add_job(
        digest_main,
        CronTrigger(
            hour=settings.schedule.run_at.hour,
            minute=settings.schedule.run_at.minute,
            timezone=settings.schedule.timezone,
        ),
        args=[argv],
        id="daily-run",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=MISFIRE_GRACE_SECONDS,
    )
    return scheduler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run `digest run` every day on a schedule.")
    parser.add_argument("--config", type=Path, help="TOML settings (default: $DIGEST_CONFIG)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        scheduler = build_scheduler(args.config)
    except DigestError as err:
        print(f"scheduler: error: {err}", file=sys.stderr)
        return 2
    for job in scheduler.get_jobs():
        log.info("scheduled %s; Ctrl-C to stop", job.trigger)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
