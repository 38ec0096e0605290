"""`bench/pipeline.py --database URL`: the same day's work done by `digest worker` processes,
on SQLite and on PostgreSQL side by side, 1 and 2 workers.

Each case starts from an empty store: the subscribers and the day's listings are written in
this process (not timed), then K `digest worker --until-done --no-fetch` processes compose
and send everything to the counting sink. Printed per case: wall time, digests/s, and the
workers' CPU per message (user + system of the worker processes, from their rusage), which
is what the coordination (claims, leases, round trips to the server) adds to, and on
PostgreSQL the transactions per message the server counted (pg_stat_database: every
statement outside BEGIN ... COMMIT is a transaction of its own, so this is close to the
round trips that write or read). The PostgreSQL server's own CPU is not in it (it may be on
another machine): watch it with `top` or pg_stat_statements.

The PostgreSQL database given is WIPED before each case (its public schema dropped): give a
scratch database.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import psycopg

from digest.jobs.context import utc_now
from digest.jobs.schedule import local_dates
from digest.store import Store, open_store

REPO = Path(__file__).resolve().parent.parent


def wipe(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sent_count(store: Store) -> int:
    """Digests composed for any day, less those still pending or failed."""
    days = {day for _, day in store.digest_days(local_dates(store.subscribers(), utc_now()))}
    composed = len(store.digest_days(days))
    return composed - store.pending_count() - len(store.failed())


def server_transactions(url: str) -> int | None:
    """Transactions the PostgreSQL server counted in this database so far (None: SQLite)."""
    if not url.startswith("postgres"):
        return None
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else None


def run_case(
    label: str, url: str, workers: int, config: Path, prepare: Callable[[Store], None]
) -> tuple[float, float, int]:
    """(seconds, worker CPU seconds, messages sent) for K workers on `url`."""
    with closing(open_store(url)) as store:
        prepare(store)
        expected = len(store.subscribers())
    before = children_cpu()
    transactions = server_transactions(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(DIGEST_DATABASE_URL=url, DIGEST_SECRET="bench-" * 8, PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "digest.cli", "--config", str(config), "worker"]
    command += ["--until-done", "--no-fetch", "--batch", "200", "--pause", "0.2"]
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(workers)
    ]
    for proc in procs:
        proc.wait()
    elapsed = time.perf_counter() - t0
    cpu = children_cpu() - before
    after = server_transactions(url)
    with closing(open_store(url)) as store:
        sent = sent_count(store)
    n = max(1, sent)
    counted = ""
    if transactions is not None and after is not None:
        # The two counting queries are transactions too: taken out.
        counted = f", {(after - transactions - 1) / n:.2f} server transactions/message"
    print(
        f"{label:<22} {workers} worker(s): {elapsed:6.1f} s, {sent / elapsed:6.0f} digests/s, "
        f"worker CPU {cpu / n * 1e3:6.2f} ms/message{counted} ({sent} of {expected} arrived)"
    )
    return elapsed, cpu, sent


def compare(
    config: Path, database: str, sqlite_file: Path, prepare: Callable[[Store], None]
) -> int:
    """Every case in turn; the messages sent in all of them."""
    cases = [("SQLite", str(sqlite_file), 1), ("PostgreSQL", database, 1)]
    cases.append(("PostgreSQL", database, 2))
    results = {}
    for label, url, workers in cases:
        if url == database:
            wipe(database)
        elif sqlite_file.exists():
            sqlite_file.unlink()
        results[(label, workers)] = run_case(label, url, workers, config, prepare)
    _, base_cpu, base_sent = results[("SQLite", 1)]
    for (label, workers), (_, cpu, sent) in results.items():
        if label == "PostgreSQL":
            ratio = (cpu / max(1, sent)) / (base_cpu / max(1, base_sent))
            print(f"PostgreSQL, {workers} worker(s): CPU per message {ratio:.2f} x SQLite's")
    return sum(sent for _, _, sent in results.values())
