"""The clock every job is given (`Clock`; `utc_now` the real one), and an injected clock
that runs: it starts at a given moment and moves on with real time.

`digest worker --now` and `python scheduler.py --now` use it (leases end, the sending pace
holds, ticks see time pass), where `digest run --now` pins one moment for a single job.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def running_from(start: dt.datetime) -> Callable[[], dt.datetime]:
    began = time.monotonic()

    def now() -> dt.datetime:
        return start + dt.timedelta(seconds=time.monotonic() - began)

    return now
