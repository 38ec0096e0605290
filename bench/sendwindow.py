"""Benchmark: what reserving a sending slot (SendWindow.reserve_sends) costs per message.

    python bench/sendwindow.py [--count 2000] [--database postgresql://USER@HOST/SCRATCH_DB]

One process reserves `count` slots, SLOT_BATCH at a time as a Delivery does (and one at a
time, for comparison), with both limits on (a pace high enough
never to wait, a daily cap never reached), on a fresh SQLite file and, if given, on the
PostgreSQL database (its window is reset first). Prints wall time and this process's CPU
per reservation: what `[smtp] max_per_second` / `max_per_day` add to each message's cost.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from digest.deliver.delivery import SLOT_BATCH
from digest.store import open_store
from digest.store.roles import SendLimits

LIMITS = SendLimits(per_second=1e5, per_day=10**9)


def measure(label: str, url: str, count: int, batch: int) -> None:
    with closing(open_store(url)) as store:
        now = dt.datetime.now(dt.UTC)
        store.reserve_sends(1, LIMITS, now)  # connect and warm up
        wall, cpu = time.perf_counter(), time.process_time()
        for n in range(count // batch):
            store.reserve_sends(batch, LIMITS, now + dt.timedelta(milliseconds=n))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"{label:<11} {count} slots, {batch} a trip: {wall / count * 1e3:6.3f} ms wall, "
        f"{cpu / count * 1e3:6.3f} ms CPU per slot"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--database", help="a scratch postgresql:// database")
    args = parser.parse_args()
    for batch in (1, SLOT_BATCH):
        with tempfile.TemporaryDirectory() as tmp:
            measure("SQLite", f"sqlite:///{tmp}/digest.sqlite3", args.count, batch)
    if args.database:
        import psycopg

        for batch in (1, SLOT_BATCH):
            with closing(open_store(args.database)), psycopg.connect(args.database) as conn:
                conn.execute("DELETE FROM send_counts")
                conn.execute("UPDATE send_pace SET next_at = NULL")
            measure("PostgreSQL", args.database, args.count, batch)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
