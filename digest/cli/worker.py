"""`digest worker`: one of many processes sharing one database (digest.jobs.worker)."""

from __future__ import annotations

import argparse
import threading

from digest.cli.options import settings_of
from digest.cli.printing import Out
from digest.config.settings import parse_moment
from digest.errors import DigestError
from digest.jobs.context import utc_now
from digest.jobs.service import worker_job
from digest.jobs.signals import stop_on_signals
from digest.util.clock import running_from


def cmd_worker(args: argparse.Namespace, out: Out = print) -> int:
    if args.batch < 1 or args.pause < 0:
        raise DigestError("--batch is at least 1 and --pause at least 0")
    settings = settings_of(args)
    clock = utc_now
    if args.now:
        try:
            clock = running_from(parse_moment(args.now, settings.zone))
        except ValueError as err:
            raise DigestError(f"--now: {err}") from err
    with stop_on_signals(threading.Event()) as stop:
        passes = worker_job(
            settings,
            stop=stop,
            until_done=args.until_done,
            batch=args.batch,
            pause=args.pause,
            fetch=not args.no_fetch,
            clock=clock,
        )
    out(f"worker stopped after {passes} passes")
    return 0
