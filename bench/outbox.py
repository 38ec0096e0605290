"""Benchmark: the store's part of each message in a run, without composing or SMTP.

    python bench/outbox.py [--messages 5000] [--papers 46] [--database URL]

N subscribers get one digest each of --papers ledger rows and a message of the pipeline's
mean size (95 kB of printable bytes); the digests go into the outbox the way a run writes
them (enqueue_many, 50 per transaction), and after each batch what is pending is claimed
and marked sent in the next claim's transaction, as a Delivery with two connections does
(mark_sent_and_claim); --backlog writes them all before sending any (a slow server).
Prints this thread's CPU per message for each phase, and the write transactions the SQLite
connection counted. Default: a fresh SQLite file in a temporary folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from digest.models import OutboxItem, Profile, Subscriber, Term, Topic
from digest.store import Store, open_store
from digest.store.roles import NewDigest

NOW = dt.datetime(2024, 11, 28, 12, 0, tzinfo=dt.UTC)
WRITE_BATCH = 50  # digest.jobs.fanout.WRITE_BATCH
CONNECTIONS = 2


def message_of(rng: random.Random, size: int) -> bytes:
    line = bytes(rng.randrange(33, 127) for _ in range(76)) + b"\r\n"
    body = bytearray()
    while len(body) < size:
        body += line
        line = line[7:] + line[:7]
    return bytes(body[:size])


def send(
    store: Store, sent: int, last: int, in_flight: list[OutboxItem]
) -> tuple[int, int, list[OutboxItem]]:
    """What a Delivery with CONNECTIONS connections does until the outbox is empty: each
    message done is recorded by the transaction that claims the next."""
    claimed = store.mark_sent_and_claim([], "bench", 900, NOW, CONNECTIONS - len(in_flight), last)
    while claimed or in_flight:
        in_flight += claimed
        last = max([last, *(item.id for item in claimed)])
        done = in_flight.pop(0)  # one connection finished: record it, claim one more
        claimed = store.mark_sent_and_claim([done.id], "bench", 900, NOW, 1, last)
        sent += 1
    return sent, last, in_flight


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--papers", type=int, default=46)
    parser.add_argument("--size", type=int, default=95_000)
    parser.add_argument(
        "--backlog", action="store_true", help="write every digest first, then send them all"
    )
    parser.add_argument("--database", help="a scratch database URL (default: a new SQLite file)")
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or str(Path(tmp) / "digest.db")
        with closing(open_store(url)) as store:
            ids = []
            for n in range(args.messages):
                saved = store.save_subscriber(
                    Subscriber(
                        f"r{n}@example.org",
                        Profile(topics=(Topic("t", (Term("x"),)),)),
                        dt.time(0, 0),
                    )
                )
                assert saved.id is not None
                ids.append(saved.id)
            body = message_of(rng, args.size)
            digests = [
                NewDigest(
                    sid,
                    f"r{n}@example.org",
                    NOW.date(),
                    NOW,
                    message_id=f"<{n}@bench>",
                    message=body,
                    papers=tuple(
                        (f"2411.{p:05d}", 1) for p in rng.sample(range(1500), args.papers)
                    ),
                )
                for n, sid in enumerate(ids)
            ]
            db = getattr(store, "_db", None)
            transactions0 = db.transactions if db else 0
            write_cpu = send_cpu = 0.0
            sent, last = 0, 0
            in_flight: list[OutboxItem] = []
            for start in range(0, len(digests), WRITE_BATCH):
                cpu0 = time.thread_time()
                store.enqueue_many(digests[start : start + WRITE_BATCH])
                write_cpu += time.thread_time() - cpu0
                if args.backlog:
                    continue
                cpu0 = time.thread_time()
                sent, last, in_flight = send(store, sent, last, in_flight)
                send_cpu += time.thread_time() - cpu0
            cpu0 = time.thread_time()
            sent, last, in_flight = send(store, sent, last, in_flight)
            send_cpu += time.thread_time() - cpu0
            transactions = (db.transactions if db else 0) - transactions0
            assert sent == args.messages and store.pending_count() == 0
    n = args.messages
    print(f"{n} messages of {args.size / 1e3:.0f} kB, {args.papers} ledger rows each; {url[:40]}")
    print(f"  write (enqueue_many, {WRITE_BATCH} a time)   {write_cpu / n * 1e3:6.3f} ms/message")
    print(f"  claim + mark sent (one transaction)   {send_cpu / n * 1e3:6.3f} ms/message")
    print(f"  write transactions per message        {transactions / n:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
