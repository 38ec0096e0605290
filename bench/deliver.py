"""Benchmark: render N digests (~15 papers each), build the MIME messages and send them all
over one SMTP connection to a local aiosmtpd sink (in its own process) that only counts.

    python bench/deliver.py [HF_FIXTURE_DIR] [--count 10000] [--papers 15]

Rendering overlaps with sending (a sender thread drains a small queue over one connection).
Prints throughput, where the time goes, and RSS plus tracemalloc figures at 1k / 5k / 10k
messages (memory should stay flat: nothing is kept per message).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import queue
import random
import resource
import socket
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from digest.mail import Envelope, build_message, make_message_id  # noqa: E402
from digest.models import (  # noqa: E402
    AnnounceType,
    Digest,
    Field,
    HFSignals,
    Match,
    Paper,
    Profile,
    Ranked,
    SourceOutcome,
    SourceState,
    Subscriber,
    Term,
    Topic,
)
from digest.render import RenderSettings, make_environment, render_digest  # noqa: E402
from digest.smtp import SmtpSender, SmtpSettings  # noqa: E402

DEFAULT_FIXTURES = REPO.parent / "shared" / "fixtures" / "hf_daily_papers"
TERMS = ("language model", "diffusion", "retrieval", "agent", "reasoning", "video", "benchmark")
DAY = dt.date(2026, 5, 8)


def load_papers(directory: Path) -> list[Paper]:
    """Papers from Hugging Face daily_papers captures (a quick loader, not the real parser)."""
    papers: dict[str, Paper] = {}
    for path in sorted(directory.glob("*.json")):
        for item in json.loads(path.read_text(encoding="utf-8")):
            raw = item["paper"]
            pid = raw["id"]
            papers[pid] = Paper(
                id=pid,
                title=" ".join(raw["title"].split()),
                abstract=" ".join(raw.get("summary", "").split()),
                authors=tuple(a["name"] for a in raw.get("authors", [])),
                url=f"https://arxiv.org/abs/{pid}",
                categories=("cs.CL", "cs.LG"),
                announce_type=AnnounceType.NEW,
                hf=HFSignals(
                    upvotes=raw.get("upvotes", 0),
                    github_repo=raw.get("githubRepo"),
                    github_stars=raw.get("githubStars"),
                    url=f"https://huggingface.co/papers/{pid}",
                ),
            )
    return list(papers.values())


def spans(text: str, term: str) -> tuple[tuple[int, int], ...]:
    lower, found, start = text.lower(), [], text.lower().find(term)
    while start != -1:
        found.append((start, start + len(term)))
        start = lower.find(term, start + 1)
    return tuple(found)


def rank(paper: Paper, rng: random.Random) -> Ranked:
    matches = []
    for term in TERMS:
        for fld, text in ((Field.TITLE, paper.title), (Field.ABSTRACT, paper.abstract)):
            found = spans(text, term)
            if found:
                matches.append(Match(term, fld, term, found))
    topic = matches[0].term if matches else "Other"
    return Ranked(paper, rng.random(), tuple(matches), topic, updated=rng.random() < 0.05)


PROFILE = Profile(topics=(Topic("LLMs", tuple(Term(t) for t in TERMS)),), categories=("cs.CL",))
SOURCES = (
    SourceOutcome("arXiv", SourceState.OK, papers=412),
    SourceOutcome("Hugging Face", SourceState.OK, papers=30),
)


def digests(pool: list[Paper], count: int, per_digest: int) -> Iterator[Digest]:
    rng = random.Random(1)
    for i in range(count):
        chosen = rng.sample(pool, per_digest)
        ranked = sorted((rank(p, rng) for p in chosen), key=lambda r: -r.score)
        yield Digest(
            subscriber=Subscriber(email=f"reader{i}@example.org", profile=PROFILE, id=i),
            day=DAY,
            papers=tuple(ranked),
            seen_count=442,
            matched_count=per_digest,
            sources=SOURCES,
            unsubscribe_url=f"https://digest.example.org/u/{i}",
            manage_url=f"https://digest.example.org/m/{i}",
        )


# --- The sink --------------------------------------------------------------------------------


def run_sink(port: int, ready: Any, stop: Any, result: Any) -> None:
    from aiosmtpd.controller import Controller

    class Counter:
        def __init__(self) -> None:
            self.count = 0
            self.bytes = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            self.count += 1
            self.bytes += len(envelope.content)
            return "250 OK"

    handler = Counter()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()
    result.send((handler.count, handler.bytes))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # Linux: KiB


def sender_thread(
    port: int, outbox: queue.Queue[tuple[str, bytes] | None], report: dict[str, float]
) -> None:
    """Delivers what the renderer queues, over one connection, like the pipeline's send phase."""
    smtp = SmtpSettings(host="127.0.0.1", port=port, security="plain", timeout=30)
    busy = 0.0
    with SmtpSender(smtp) as sender:
        while (item := outbox.get()) is not None:
            t0 = time.perf_counter()
            sender.send("digest@example.org", item[0], item[1])
            busy += time.perf_counter() - t0
        report["connections"] = sender.connections_opened
    report["smtp"] = busy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fixtures", nargs="?", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--papers", type=int, default=15)
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also trace allocations (several times slower)"
    )
    args = parser.parse_args()

    pool = load_papers(args.fixtures)
    print(f"paper pool: {len(pool)} papers from {args.fixtures}")
    settings = RenderSettings(subject_template="{papers} for you - {date:%a %d %b}")
    env = make_environment()

    port = free_port()
    ready, stop = mp.Event(), mp.Event()
    receive, send_end = mp.Pipe(duplex=False)
    sink = mp.Process(target=run_sink, args=(port, ready, stop, send_end), daemon=True)
    sink.start()
    ready.wait(10)

    # Rendering (CPU, holds the GIL) overlaps with SMTP (waits on the sink's replies): the
    # renderer fills a small queue that one sender thread drains over one connection.
    outbox: queue.Queue[tuple[str, bytes] | None] = queue.Queue(maxsize=64)
    report: dict[str, float] = {}
    thread = threading.Thread(target=sender_thread, args=(port, outbox, report))
    thread.start()

    checkpoints = {1_000, 5_000, args.count}
    cpu = {"digest": 0.0, "render": 0.0, "mime": 0.0}
    html_bytes = message_bytes = 0
    if args.tracemalloc:
        tracemalloc.start()
    start = time.perf_counter()
    stream = digests(pool, args.count, args.papers)
    for n in range(1, args.count + 1):
        c0 = time.thread_time()
        digest = next(stream)
        c1 = time.thread_time()
        rendered = render_digest(digest, settings, env)
        c2 = time.thread_time()
        envelope = Envelope(
            sender="Paper Digest <digest@example.org>",
            recipient=digest.subscriber.email,
            message_id=make_message_id("example.org", f"{digest.subscriber.id}/{DAY}"),
            date=dt.datetime(2026, 5, 8, 7, 0, tzinfo=dt.UTC),
            list_id="papers.example.org",
            unsubscribe_mailto="unsubscribe@example.org",
            unsubscribe_url=digest.unsubscribe_url,
        )
        data = build_message(rendered, envelope)
        c3 = time.thread_time()
        outbox.put((digest.subscriber.email, data))
        cpu["digest"] += c1 - c0
        cpu["render"] += c2 - c1
        cpu["mime"] += c3 - c2
        html_bytes += len(rendered.html.encode())
        message_bytes += len(data)
        if n in checkpoints:
            elapsed = time.perf_counter() - start
            traced = ""
            if args.tracemalloc:
                current, peak = tracemalloc.get_traced_memory()
                traced = f"  traced {current / 1e6:5.2f} MB (peak {peak / 1e6:5.2f} MB)"
            print(
                f"{n:>6} queued  {elapsed:7.2f} s  {n / elapsed:5.0f} msg/s  "
                f"RSS {rss_mb():5.1f} MB  peak RSS {peak_rss_mb():5.1f} MB{traced}",
                flush=True,
            )
    outbox.put(None)
    thread.join()
    elapsed = time.perf_counter() - start
    if args.tracemalloc:
        tracemalloc.stop()
    stop.set()
    received, received_bytes = receive.recv()
    sink.join(10)

    n = args.count
    print(f"connections opened: {report['connections']:.0f}")
    print(f"sink counted {received} messages, {received_bytes / 1e6:.1f} MB")
    print(f"mean HTML {html_bytes / n / 1e3:.1f} kB, mean message {message_bytes / n / 1e3:.1f} kB")
    print(f"end to end: {n / elapsed:.0f} msg/s ({elapsed:.1f} s for {n})")
    print("renderer CPU per message (thread time):")
    for stage, seconds in cpu.items():
        print(f"  {stage:<7} {seconds / n * 1e3:6.3f} ms")
    print(f"  => render + MIME alone could feed {n / (cpu['render'] + cpu['mime']):.0f} msg/s")
    print(f"sender thread busy {report['smtp'] / n * 1e3:.3f} ms/message (waiting on the sink)")
    return 0 if received == n else 1


if __name__ == "__main__":
    raise SystemExit(main())
