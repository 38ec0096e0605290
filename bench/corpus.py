"""What the 30-day corpus statistics (IDF) cost a run: recomputed from every stored abstract,
as before, or summed from the counts kept per day (digest.jobs.corpus).

    python bench/corpus.py [--days 30] [--per-day 1500] [--store PATH]

Fills a SQLite store as ingest does, one day at a time: --per-day real papers a day
(bench/realpapers.py; ids distinct across days, so 30 days hold 45,000 papers), saved and
counted. Then, each in a fresh process (so its peak resident memory is its own):

- recompute: `corpus_stats` over `recent_papers(30 days ago)` (the old way);
- summed: `corpus_background` (the day counts added up);
- window: what else a run does with a 30-day store, the eligible papers of the lookback
  window (3 days, whole UTC days: 4 days of papers) read back and indexed (`build_index`
  with the summed background), beside `summed`;
- python: the fresh process alone (imports included), the floor for the memory figures.

Prints the seconds (wall and CPU) and the peak RSS (VmHWM) of each. --store keeps the filled store
(reused when it exists).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from realpapers import day_of

from digest.jobs.corpus import corpus_background, count_stored
from digest.rank.lexical import build_index, corpus_stats
from digest.store import open_store

NOW = dt.datetime(2026, 3, 31, 6, 0, tzinfo=dt.UTC)
LOOKBACK_DAYS = 3  # [digest] lookback_days's default


def peak_rss_mb() -> float:
    """VmHWM: the process's peak resident memory (lxml's and numpy's C heaps included)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fill(path: Path, days: int, per_day: int) -> float:
    started = time.perf_counter()
    with closing(open_store(f"sqlite:///{path}")) as store:
        for day in range(days):
            moment = NOW - dt.timedelta(days=days - 1 - day)
            papers = day_of(per_day, day)
            before = store.papers_by_id(p.id for p in papers)
            store.save_papers(papers, moment)
            count_stored(store, papers, before, moment.date())
    return time.perf_counter() - started


def measure(path: Path, how: str, days: int) -> dict[str, float]:
    since = (NOW - dt.timedelta(days=days - 1)).replace(hour=0)
    started, cpu = time.perf_counter(), time.process_time()
    documents = 0
    with closing(open_store(f"sqlite:///{path}", readonly=True)) as store:
        if how == "recompute":
            documents = corpus_stats(s.paper for s in store.recent_papers(since)).documents
        elif how == "summed":
            documents = corpus_background(store, since, write=False).documents
        elif how == "window":
            background = corpus_background(store, since, write=False)
            started, cpu = time.perf_counter(), time.process_time()  # the window alone
            eligible = NOW - dt.timedelta(days=LOOKBACK_DAYS)
            papers = [s.paper for s in store.recent_papers(eligible.replace(hour=0))]
            documents = len(build_index(papers, background=background).papers)
    return {
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "rss_mb": peak_rss_mb(),
        "documents": documents,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=1500)
    parser.add_argument("--store", type=Path)
    parser.add_argument("--measure", choices=["recompute", "summed", "window", "python"])
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.store, args.measure, args.days)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        path = args.store or Path(scratch) / "digest.sqlite3"
        if not path.exists():
            seconds = fill(path, args.days, args.per_day)
            print(
                f"filled {args.days} days x {args.per_day} papers in {seconds:.1f} s "
                f"(saving and counting: {seconds / args.days:.2f} s a day)"
            )
        print(
            f"{path.stat().st_size / 1e6:.0f} MB store; {os.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.1f}"
        )
        for how in ("python", "recompute", "summed", "window"):
            command = [sys.executable, __file__, "--store", str(path), "--measure", how]
            command += ["--days", str(args.days)]
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            figures = json.loads(out)
            print(
                f"  {how:10} {figures['seconds']:6.2f} s wall ({figures['cpu']:5.2f} s CPU), "
                f"peak RSS {figures['rss_mb']:5.0f} MB"
                + (f" ({figures['documents']:.0f} papers)" if how != "python" else "")
            )


if __name__ == "__main__":
    main()
