"""`digest worker`: one of many processes sharing one database (digest.jobs.worker)."""

from __future__ import annotations

import argparse
import threading

from digest.cli.commands import _settings
from digest.cli.printing import Out
from digest.errors import DigestError
from digest.jobs.service import worker_job
from digest.jobs.signals import stop_on_signals


def cmd_worker(args: argparse.Namespace, out: Out = print) -> int:
    if args.batch < 1 or args.pause < 0:
        raise DigestError("--batch is at least 1 and --pause at least 0")
    settings = _settings(args)
    with stop_on_signals(threading.Event()) as stop:
        passes = worker_job(
            settings,
            stop=stop,
            until_done=args.until_done,
            batch=args.batch,
            pause=args.pause,
            fetch=not args.no_fetch,
        )
    out(f"worker stopped after {passes} passes")
    return 0
