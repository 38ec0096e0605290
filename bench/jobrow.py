"""Benchmark: what a job row per message would cost, had each message been a task-queue job.

    python bench/jobrow.py --database postgresql://USER@HOST/SCRATCH_DB [--count 2000]

A task queue on PostgreSQL (procrastinate, for one) keeps a row per job and, per job, writes
it three times: defer (INSERT), fetch (UPDATE ... FOR UPDATE SKIP LOCKED ... RETURNING) and
finish (UPDATE to done). This emulates those three statements on a scratch table (not
procrastinate's own code, which is asyncio and not installed here) and prints the client CPU
and wall time per job: the cost a job per message would add on top of the outbox's own
writes. The table `bench_jobs` is created and dropped in the given database.
"""

from __future__ import annotations

import argparse
import time

import psycopg


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    with psycopg.connect(args.database, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_jobs")
        conn.execute(
            "CREATE TABLE bench_jobs (id bigserial PRIMARY KEY, task text NOT NULL, "
            "args jsonb NOT NULL, status text NOT NULL DEFAULT 'todo', worker text)"
        )
        conn.execute("CREATE INDEX bench_jobs_todo ON bench_jobs (id) WHERE status = 'todo'")
        wall, cpu = time.perf_counter(), time.process_time()
        for n in range(args.count):
            with conn.transaction():
                conn.execute(
                    "INSERT INTO bench_jobs (task, args) VALUES ('send', %s)",
                    (f'{{"outbox_id": {n}}}',),
                )
            with conn.transaction():
                row = conn.execute(
                    "UPDATE bench_jobs SET status = 'doing', worker = 'w' WHERE id = ("
                    "SELECT id FROM bench_jobs WHERE status = 'todo' ORDER BY id LIMIT 1 "
                    "FOR UPDATE SKIP LOCKED) RETURNING id"
                ).fetchone()
            assert row is not None
            with conn.transaction():
                conn.execute("UPDATE bench_jobs SET status = 'done' WHERE id = %s", (row[0],))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        conn.execute("DROP TABLE bench_jobs")
    print(
        f"{args.count} emulated jobs: {wall / args.count * 1e3:.3f} ms wall, "
        f"{cpu / args.count * 1e3:.3f} ms client CPU per job (3 write transactions)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
