"""Benchmark: what one compose worker of `bench/pipeline.py` spends per message, by stage.

    python bench/compose.py [--subscribers 2000] [--profile 25]

The pipeline's day (bench/pipeline.py: the arXiv RSS capture of 1,504 papers and a Hugging
Face list stored in a fresh SQLite store, --subscribers distinct profiles of 3-6 common
keywords), then the run's own Composer (digest.jobs.digests) over every subscriber's task in
this one process, each stage timed with the thread's CPU clock: selecting and ranking
(`digest_for`), rendering (`render`), the message (`message`: signed links,
headers, MIME) and the pickle a forked worker sends back. The paper cache starts empty, as
in a worker. `--profile N` runs the same again under cProfile (which about doubles the
times: read its figures as shares) and prints the N functions with the most time of their
own and the N with the most time in all.
"""

from __future__ import annotations

import argparse
import cProfile
import pickle
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from deliver import speed_check
from pipeline import CONFIG, NOW, read_fixture, subscribe

from digest.config.load import load_settings
from digest.jobs.context import RunContext
from digest.jobs.digests import ComposedDigest, Composer, ComposeTask
from digest.jobs.fanout import _compose_tasks, day_index_for_run
from digest.jobs.ingest import collect_and_store
from digest.jobs.wiring import sender_factory
from digest.store import open_store


def prepare(subscribers: int, folder: str) -> tuple[Composer, list[ComposeTask]]:
    """The run's Composer and one task per subscriber, as `digest run` makes them."""
    config = Path(folder) / "digest.toml"
    config.write_text(CONFIG.format(data=folder, workers=1, port=25, connections=1))
    settings = load_settings(config, env={"DIGEST_SECRET": "bench-" * 8})
    store = open_store(settings.database)
    subscribe(store, subscribers)
    context = RunContext(settings, store, sender_factory(settings), clock=lambda: NOW)
    collected = collect_and_store(context, read_fixture, NOW, store.subscribers())
    people = store.subscribers()
    day_index = day_index_for_run(context, NOW, people)
    composer = Composer(
        settings,
        day_index,
        collected.outcomes,
        NOW,
        context.secret,
        context.templates,
        context.installation,
    )
    # Reading the tasks from the store is the main process's part; a bench may reach in.
    tasks = _compose_tasks(context, people, day_index, NOW, {})
    return composer, tasks


def by_stage(composer: Composer, tasks: list[ComposeTask]) -> dict[str, float]:
    """Thread CPU seconds of each stage, summed over the tasks (what for_outbox does)."""
    spent = {"select and rank": 0.0, "render": 0.0, "message": 0.0, "pickle": 0.0}

    def timed(stage: str, work: Callable[..., Any], *args: Any, **named: Any) -> Any:
        started = time.thread_time()
        result = work(*args, **named)
        spent[stage] += time.thread_time() - started
        return result

    over = 0
    for task in tasks:
        digest = timed("select and rank", composer.digest_for, task)
        rendered = timed("render", composer.render, digest)
        over += len(rendered.paper_ids) < len(digest.papers) + len(digest.overflow)
        message_id, message = timed("message", composer.message, digest, rendered)
        timed("pickle", pickle.dumps, ComposedDigest(message_id, message, ()))
    cache = composer.templates.paper_cache  # type: ignore[attr-defined]
    print(
        f"over the size budget: {over} of {len(tasks)} digests; paper cache: {len(cache)} "
        f"entries, {cache.hits} hits, {cache.misses} misses (each made once per worker)"
    )
    return spent


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        composer, tasks = prepare(args.subscribers, folder)
        print(f"{len(tasks)} digests; speed check {speed_check():.2f} s")
        spent = by_stage(composer, tasks)
        print("thread CPU per message (paper cache empty at the start, as in a worker):")
        for stage, seconds in spent.items():
            print(f"  {stage:<16} {seconds / len(tasks) * 1e3:6.3f} ms")
        print(f"  {'all':<16} {sum(spent.values()) / len(tasks) * 1e3:6.3f} ms")
        if args.profile:
            fresh = Path(folder) / "again"  # a new day and an empty paper cache
            fresh.mkdir()
            again, _ = prepare(args.subscribers, str(fresh))
            profile = cProfile.Profile(time.thread_time)
            profile.runcall(by_stage, again, tasks)
            stats = pstats.Stats(profile)
            stats.sort_stats("tottime").print_stats(args.profile)
            stats.sort_stats("cumulative").print_stats(args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
