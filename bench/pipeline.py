"""Benchmark: one whole `digest run` for N subscribers, from listings to a local SMTP sink.

    python bench/pipeline.py [--subscribers 10000] [--connections 2] [--workers 0] [--days 30]
                             [--sink aiosmtpd|lean] [--profile FILE]
    python bench/pipeline.py --database postgresql://USER@HOST/SCRATCH_DB   (see below)

The run is the product's own (digest.jobs.run.run_once, a real SQLite file, the settings a
config file gives): the listings are parsed, stored and merged, every subscriber's digest
is selected, ranked, rendered and put in the outbox in forked workers, and the outbox is
sent over SMTP while composing goes on. Only the network is left out: the sources are
answered from ../shared/fixtures (the arXiv RSS of 28 Nov 2024, 1,504 items across all
archives, and a Hugging Face daily list), and the sink (bench/sink.py, in its own process)
only counts: aiosmtpd by default, or with `--sink lean` a server that finds the end of a
message in bulk reads, as a production MTA costs per message. Subscribers have 3-6 of a
list of common keywords each.

With --days 30 the store first holds 29 earlier days of 1,500 real papers each (ids distinct,
stored and counted as ingest does), as a real installation's 30-day window: the run's term
weights then come from 45,000 papers.

Prints the run's wall time split into fetch+store and compose+send, digests sent per
second over the whole run, CPU per message of this process, the workers and the sink, the
write transactions and the reads outside them per message this process ran during the run
(the store connection's own counters), and peak memory: RSS, and PSS sampled once a second
(bench/memory.py: this process, the compose workers together and the sink, and all at once;
the sampling thread's CPU is taken out of this process's figure). `--trace-sql` also counts every
statement with SQLite's trace hook (an executemany counts once per row); the hook expands
each statement with its parameters, a whole message's bytes included, so the CPU figures
of such a run are not the product's. `--profile FILE` writes a cProfile of the run's main
thread (per-thread CPU clock; it makes that thread about 1.5 times slower) for pstats; the
SMTP connection threads' CPU is printed apart. The compose workers, forked while it runs,
inherit the profiler: their CPU in such a run is not theirs.

With `--database URL` (a scratch PostgreSQL database: it is wiped), the same day's work is
done instead by `digest worker` processes: 1 worker on SQLite, then 1 and 2 workers on that
PostgreSQL, each from an empty store (bench/pipeline_workers.py), with their digests/s and
CPU per message side by side.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import random
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from deliver import TERMS, speed_check
from memory import PssSampler
from pipeline_workers import compare
from realpapers import day_of
from sink import KINDS, Sink

from digest.collect.fetch import FetchResult
from digest.collect.listings import ListingRequest
from digest.config.load import load_settings
from digest.jobs.context import RunContext
from digest.jobs.corpus import count_stored
from digest.jobs.ingest import collect_and_store
from digest.jobs.run import run_once
from digest.jobs.wiring import sender_factory
from digest.models import DeliveryState, Profile, Subscriber, Term, Topic, Validators
from digest.store import Store, open_store

FIXTURES = REPO.parent / "shared" / "fixtures"
ARXIV_RSS = FIXTURES / "arxiv_rss" / "arxiv_rss_new_allarchives_2024-11-28.xml"
HF_LIST = FIXTURES / "hf_daily_papers" / "hf_api_daily_papers_2024-10-25.json"
NOW = dt.datetime(2024, 11, 28, 12, 0, tzinfo=dt.UTC)  # the arXiv listing's day

CONFIG = """
[digest]
data_dir = "{data}"
compose_workers = {workers}
semantic = false  # embedding 1,500 papers takes minutes on a CPU: see bench/embed.py

[[source]]
name = "huggingface"
kind = "hf_daily"
url = "https://huggingface.co/api/daily_papers?date={{date}}"

[[source]]
name = "arxiv"
kind = "arxiv_rss"
url = "https://rss.arxiv.org/rss/{{categories}}"
categories = ["cs"]

[email]
from = "Paper Digest <digest@example.org>"
list_id = "digest.example.org"
unsubscribe_url = "https://example.org/digest/unsubscribe?token={{token}}"

[smtp]
host = "127.0.0.1"
port = {port}
security = "plain"
connections = {connections}

[logging]
level = "warning"
"""


def read_fixture(request: ListingRequest) -> FetchResult:
    """What the source would answer, from the captures."""
    if "huggingface" in request.url:
        body, kind = HF_LIST.read_bytes(), "application/json"
    else:
        body, kind = ARXIV_RSS.read_bytes(), "application/rss+xml"
    return FetchResult(request.url, 200, body, Validators(), kind)


def subscribe(store: Store, count: int) -> None:
    rng = random.Random(3)
    for n in range(count):
        terms = tuple(Term(t) for t in rng.sample(TERMS, rng.randint(3, 6)))
        store.save_subscriber(
            Subscriber(
                f"reader{n}@example.org",
                Profile(topics=(Topic("Interests", terms),)),
                dt.time(0, 0),  # due at once for `digest worker` (run_once ignores it)
                # Subscribed before today's delivery time, so today's digest is theirs.
                created=dt.datetime.now(dt.UTC) - dt.timedelta(days=2),
            )
        )


@dataclass
class StatementCount:
    statements: int = 0

    def __call__(self, sql: str) -> None:
        self.statements += 1


@dataclass
class SqlCount:
    """What the store's SQLite connection ran since `start`."""

    store: Store
    trace: StatementCount | None
    transactions: int = 0
    reads: int = 0

    def start(self) -> None:
        # Reaching into the backend is a benchmark's privilege.
        db = self.store._db  # type: ignore[attr-defined]
        self.transactions, self.reads = -db.transactions, -db.reads
        if self.trace is not None:
            db.raw.set_trace_callback(self.trace)

    def stop(self) -> None:
        db = self.store._db  # type: ignore[attr-defined]
        self.transactions += db.transactions
        self.reads += db.reads
        if self.trace is not None:
            db.raw.set_trace_callback(None)

    def per_message(self, n: int) -> str:
        text = (
            f"{self.transactions / n:.2f} write transactions, {self.reads / n:.2f} reads "
            f"({self.transactions} and {self.reads} in the run)"
        )
        if self.trace is not None:
            text += f"; {self.trace.statements / n:.2f} statements (traced)"
        return text


def fill_earlier_days(store: Store, days: int, per_day: int = 1500) -> float:
    """Days before NOW, as ingest leaves them: real papers (ids distinct per day) stored and
    counted for the corpus statistics."""
    started = time.perf_counter()
    for day in range(days):
        moment = NOW - dt.timedelta(days=days - day)
        papers = day_of(per_day, day)
        before = store.papers_by_id(p.id for p in papers)
        store.save_papers(papers, moment)
        count_stored(store, papers, before, moment.date())
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--workers", type=int, default=0, help="[digest] compose_workers")
    parser.add_argument(
        "--sink", choices=KINDS, default="aiosmtpd", help="the SMTP server (bench/sink.py)"
    )
    parser.add_argument("--database", help="a scratch postgresql:// database: compare workers")
    parser.add_argument(
        "--days",
        type=int,
        default=1,
        help="days in the store: 30 fills 29 earlier days of 1,500 real papers first",
    )
    parser.add_argument(
        "--trace-sql", action="store_true", help="count every statement (costs CPU: see above)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="cProfile the run's main thread (thread CPU clock) into this file (pstats)",
    )
    args = parser.parse_args()

    sink = Sink(args.sink)
    if args.database:
        return compare_workers(args, sink)

    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "digest.toml"
        config.write_text(
            CONFIG.format(
                data=tmp, workers=args.workers, port=sink.port, connections=args.connections
            ),
            encoding="utf-8",
        )
        settings = load_settings(config, env={"DIGEST_SECRET": "bench-" * 8})
        store = open_store(settings.database)
        subscribe(store, args.subscribers)
        if args.days > 1:
            seconds = fill_earlier_days(store, args.days - 1)
            print(f"{args.days - 1} earlier days of 1,500 real papers stored in {seconds:.0f} s")
        print(
            f"{args.subscribers} subscribers; {args.days} days in the store; "
            f"workers={settings.workers_for(args.subscribers)}; "
            f"connections={args.connections}; {sink.label}; {os.cpu_count()} CPUs; "
            f"speed check {speed_check():.2f} s"
        )

        # The fetch alone first, timed on its own; the run then finds the listings stored
        # (the same day's listings again, as a second fetch of the day would).
        t0 = time.perf_counter()
        context = RunContext(settings, store, sender_factory(settings), clock=lambda: NOW)
        collected = collect_and_store(context, read_fixture, NOW, store.subscribers())
        fetch_seconds = time.perf_counter() - t0
        print(
            f"fetch + parse + store: {fetch_seconds:.1f} s, "
            + ", ".join(f"{o.name}: {o.state.value} {o.papers} papers" for o in collected.outcomes)
        )

        counts = SqlCount(store, StatementCount() if args.trace_sql else None)
        counts.start()
        sampler = PssSampler(sink.pid)
        sampler.start()
        profiler = cProfile.Profile(time.thread_time) if args.profile else None
        cpu0, thread0 = time.process_time(), time.thread_time()
        t0 = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        report = run_once(context, read_fixture)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        elapsed = time.perf_counter() - t0
        thread_cpu = time.thread_time() - thread0
        peak_pss = sampler.stop()
        main_cpu = time.process_time() - cpu0 - peak_pss.cpu
        counts.stop()
        store.close()

    received, received_bytes, sink_cpu = sink.finish()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers_cpu = children.ru_utime + children.ru_stime - sink_cpu

    sent = sum(1 for d in report.deliveries if d.state is DeliveryState.SENT)
    failed = len(report.deliveries) - sent
    errors = len(report.errors)
    print(f"run: {elapsed:.1f} s; digests sent {sent}, failed {failed}, errors {errors}")
    print(f"sink counted {received}, mean message {received_bytes / max(1, received) / 1e3:.1f} kB")
    print(f"end to end: {sent / elapsed:.0f} digests/s (fetch, rank, render, outbox, SMTP)")
    n = max(1, sent)
    print("CPU per message:")
    print(f"  this process     {main_cpu / n * 1e3:6.3f} ms (fetch, store, outbox, SMTP client)")
    print(
        f"    of which main thread {thread_cpu / n * 1e3:.3f} ms, "
        f"SMTP connection threads {(main_cpu - thread_cpu) / n * 1e3:.3f} ms"
    )
    print(f"  compose workers  {workers_cpu / n * 1e3:6.3f} ms (select, rank, render, MIME)")
    print(f"  {sink.label:<16} {sink_cpu / n * 1e3:6.3f} ms")
    print(f"SQL per message (this process): {counts.per_message(n)}")
    if (memo := getattr(store, "_bodies", None)) is not None:
        print(f"claimed bodies taken from memory: {memo.taken}, read back: {memo.missed}")
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    peak_child = children.ru_maxrss / 1e3
    print(f"peak RSS: this process {peak_self:.0f} MB, largest child {peak_child:.0f} MB")
    print(f"{peak_pss.line()}; sampling took {peak_pss.cpu:.2f} s CPU, not counted above")
    return 0 if received == sent and not failed and not report.errors else 1


def compare_workers(args: argparse.Namespace, sink: Sink) -> int:
    """`--database`: digest worker processes on SQLite and on PostgreSQL, side by side."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "digest.toml"
        config.write_text(
            CONFIG.format(data=tmp, workers=1, port=sink.port, connections=args.connections),
            encoding="utf-8",
        )
        settings = load_settings(config, env={"DIGEST_SECRET": "bench-" * 8})
        print(
            f"{args.subscribers} subscribers; connections={args.connections} per worker; "
            f"{os.cpu_count()} CPUs; speed check {speed_check():.2f} s"
        )

        def prepare(store: Store) -> None:
            subscribe(store, args.subscribers)
            now = dt.datetime.now(dt.UTC)  # workers use the real clock: listings seen now
            context = RunContext(settings, store, sender_factory(settings), clock=lambda: now)
            collect_and_store(context, read_fixture, now, store.subscribers())

        sent = compare(config, args.database, settings.database, prepare)
    received, _, _ = sink.finish()
    print(f"sink counted {received} of {sent} recorded as sent")
    return 0 if received == sent else 1


if __name__ == "__main__":
    raise SystemExit(main())
