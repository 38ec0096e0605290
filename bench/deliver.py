"""Benchmark: render N digests (~15 papers each), build the MIME messages and send them all
over --connections SMTP connections to a local aiosmtpd sink (in its own process) that only
counts.

    python bench/deliver.py [HF_FIXTURE_DIR] [--count 10000] [--papers 15] [--workers 0]
                            [--connections 2]

Like a real day: every digest draws its papers from one shared pool (the Hugging Face
captures, ~130 papers), subscribers have one of --profiles keyword profiles, so the same
paper shows up in many digests, mostly with the same highlights. Composition goes through
digest.compose_pool.compose_all (in this process with --workers 0, else in forked workers)
and a sender thread drains a small queue into digest.sendpool.SenderPool, the same pool
the pipeline delivers with (one thread and one SmtpSender per connection), so composing
overlaps with sending and one connection's wait for the sink with another's work. Prints
elapsed, msg/s and RSS at 1k / 5k / N messages accepted by the sink (memory should stay
flat), then where the CPU goes per message.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import queue
import random
import resource
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from digest.compose_pool import ComposeJob, compose_all  # noqa: E402
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
from digest.sendpool import Job, SenderPool  # noqa: E402
from digest.smtp import SmtpSender, SmtpSettings  # noqa: E402

DEFAULT_FIXTURES = REPO.parent / "shared" / "fixtures" / "hf_daily_papers"
TERMS = (
    "language model",
    "diffusion",
    "retrieval",
    "agent",
    "reasoning",
    "video",
    "benchmark",
    "reinforcement learning",
    "multimodal",
    "image",
    "code",
    "efficient",
    "alignment",
    "robot",
)
DAY = dt.date(2026, 5, 8)
SOURCES = (
    SourceOutcome("arXiv", SourceState.OK, papers=412),
    SourceOutcome("Hugging Face", SourceState.OK, papers=30),
)


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
    lower, found = text.lower(), []
    start = lower.find(term)
    while start != -1:
        found.append((start, start + len(term)))
        start = lower.find(term, start + 1)
    return tuple(found)


def make_profiles(count: int) -> list[Profile]:
    rng = random.Random(7)
    return [
        Profile(
            topics=(
                Topic("Interests", tuple(Term(t) for t in rng.sample(TERMS, rng.randint(3, 6)))),
            ),
            categories=("cs.CL",),
        )
        for _ in range(count)
    ]


class Day:
    """The day's shared pool and, per profile, each paper's matches (as ranking would find:
    the same terms give the same spans, whoever the subscriber)."""

    def __init__(self, pool: list[Paper], profiles: list[Profile]) -> None:
        self.pool = pool
        self.profiles = profiles
        self.matches: list[list[tuple[Match, ...]]] = []
        self.candidates: list[list[int]] = []
        for profile in profiles:
            per_paper = [self._matches(paper, profile) for paper in pool]
            self.matches.append(per_paper)
            hits = [i for i, m in enumerate(per_paper) if m]
            self.candidates.append(hits if len(hits) >= 20 else list(range(len(pool))))

    @staticmethod
    def _matches(paper: Paper, profile: Profile) -> tuple[Match, ...]:
        found = []
        for term in profile.all_terms:
            for fld, text in ((Field.TITLE, paper.title), (Field.ABSTRACT, paper.abstract)):
                where = spans(text, term.text)
                if where:
                    found.append(Match(term.text, fld, "Interests", where))
        return tuple(found)


def jobs(day: Day, count: int, per_digest: int) -> Iterator[ComposeJob]:
    rng = random.Random(1)
    when = dt.datetime(2026, 5, 8, 7, 0, tzinfo=dt.UTC)
    for i in range(count):
        which = i % len(day.profiles)
        chosen = rng.sample(day.candidates[which], min(per_digest, len(day.candidates[which])))
        ranked = []
        for index in chosen:
            matches = day.matches[which][index]
            topic = matches[0].term if matches else "Other"
            updated = rng.random() < 0.05
            ranked.append(Ranked(day.pool[index], rng.random(), matches, topic, updated=updated))
        ranked.sort(key=lambda r: -r.score)
        email = f"reader{i}@example.org"
        digest = Digest(
            subscriber=Subscriber(email=email, profile=day.profiles[which], id=i),
            day=DAY,
            papers=tuple(ranked),
            seen_count=442,
            matched_count=len(ranked),
            sources=SOURCES,
            unsubscribe_url=f"https://digest.example.org/u/{i}",
            manage_url=f"https://digest.example.org/m/{i}",
        )
        envelope = Envelope(
            sender="Paper Digest <digest@example.org>",
            recipient=email,
            message_id=make_message_id("example.org", f"{i}.{DAY}"),
            date=when,
            list_id="papers.example.org",
            unsubscribe_mailto="unsubscribe@example.org",
            unsubscribe_url=digest.unsubscribe_url,
        )
        yield ComposeJob(key=i, digest=digest, envelope=envelope)


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
    cpu0 = time.process_time()
    stop.wait()
    cpu = time.process_time() - cpu0
    controller.stop()
    result.send((handler.count, handler.bytes, cpu))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mb(pid: int | str = "self") -> float:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            pages = int(statm.read().split()[1])
    except OSError:  # the process just ended
        return 0.0
    return pages * resource.getpagesize() / 1e6


def child_pids() -> list[int]:
    pids: list[int] = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as children:
                pids += [int(p) for p in children.read().split()]
        except OSError:
            continue
    return pids


class MeteredSender(SmtpSender):
    """An SmtpSender that also adds up its thread's CPU and wall time spent sending."""

    def __init__(self, settings: SmtpSettings, meters: list[MeteredSender]) -> None:
        super().__init__(settings)
        self.cpu = 0.0
        self.wall = 0.0
        meters.append(self)

    def send(self, sender: str, recipient: str, message: bytes) -> None:
        c0, t0 = time.thread_time(), time.perf_counter()
        try:
            super().send(sender, recipient, message)
        finally:
            self.cpu += time.thread_time() - c0
            self.wall += time.perf_counter() - t0


def sender_thread(
    port: int,
    connections: int,
    outbox: queue.Queue[tuple[str, bytes] | None],
    checkpoints: set[int],
    start: list[float],
    sink_pid: int,
    report: dict[str, float],
) -> None:
    """Delivers what composition queues through a SenderPool, like the pipeline's send phase
    (which claims an outbox row where this takes a queued message)."""
    smtp = SmtpSettings(host="127.0.0.1", port=port, security="plain", timeout=30)
    meters: list[MeteredSender] = []
    sent = failed = 0

    def account(pool: SenderPool[int]) -> None:
        nonlocal sent, failed
        outcome = pool.next_outcome()
        if not outcome.accepted:
            failed += 1
            print(f"not delivered: {outcome.error}", file=sys.stderr)
            return
        sent += 1
        if sent in checkpoints:
            elapsed = time.perf_counter() - start[0]
            workers = sum(rss_mb(p) for p in child_pids() if p != sink_pid)
            print(
                f"{sent:>6} sent  {elapsed:7.2f} s  {sent / elapsed:5.0f} msg/s  "
                f"RSS main {rss_mb():5.1f} MB  workers {workers:5.1f} MB  "
                f"sink {rss_mb(sink_pid):5.1f} MB",
                flush=True,
            )

    cpu0 = time.thread_time()
    pool: SenderPool[int]
    with SenderPool(lambda: MeteredSender(smtp, meters), connections) as pool:
        n = 0
        while (item := outbox.get()) is not None:
            while not pool.has_room:
                account(pool)
            pool.submit(Job(n, "digest@example.org", item[0], item[1]))
            n += 1
        while pool.in_flight:
            account(pool)
    report["connections"] = sum(m.connections_opened for m in meters)
    report["smtp_wall"] = sum(m.wall for m in meters)
    report["smtp_cpu"] = sum(m.cpu for m in meters)
    report["feeder_cpu"] = time.thread_time() - cpu0
    report["not_delivered"] = failed


def breakdown(day: Day, count: int, per_digest: int) -> dict[str, float]:
    """CPU per message of each stage, in this process: job making, rendering, MIME."""
    settings = RenderSettings(subject_template="{papers} for you - {date:%a %d %b}")
    env = make_environment()
    cpu = {"job": 0.0, "render": 0.0, "mime": 0.0}
    stream = jobs(day, count, per_digest)
    for _ in range(count):
        c0 = time.thread_time()
        job = next(stream)
        c1 = time.thread_time()
        rendered = render_digest(job.digest, settings, env)
        c2 = time.thread_time()
        build_message(rendered, job.envelope)
        c3 = time.thread_time()
        cpu["job"] += c1 - c0
        cpu["render"] += c2 - c1
        cpu["mime"] += c3 - c2
    per_message = {k: v / count for k, v in cpu.items()}
    cache = env.paper_cache  # type: ignore[attr-defined]
    per_message["hit_rate"] = cache.hits / max(1, cache.hits + cache.misses)
    per_message["cached"] = len(cache)
    return per_message


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("fixtures", nargs="?", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--papers", type=int, default=15)
    parser.add_argument("--profiles", type=int, default=24)
    parser.add_argument(
        "--workers", type=int, default=0, help="composition processes (0: compose in-process)"
    )
    parser.add_argument("--connections", type=int, default=2, help="parallel SMTP connections")
    args = parser.parse_args()

    day = Day(load_papers(args.fixtures), make_profiles(args.profiles))
    print(
        f"paper pool: {len(day.pool)} papers from {args.fixtures}; {args.profiles} profiles; "
        f"{args.papers} papers per digest; workers={args.workers}; "
        f"connections={args.connections}; {os.cpu_count()} CPUs"
    )
    settings = RenderSettings(subject_template="{papers} for you - {date:%a %d %b}")

    port = free_port()
    ready, stop = mp.Event(), mp.Event()
    receive, send_end = mp.Pipe(duplex=False)
    sink = mp.Process(target=run_sink, args=(port, ready, stop, send_end), daemon=True)
    sink.start()
    ready.wait(10)
    assert sink.pid is not None

    outbox: queue.Queue[tuple[str, bytes] | None] = queue.Queue(maxsize=64)
    report: dict[str, float] = {}
    start = [0.0]
    checkpoints = {1_000, 5_000, args.count}
    thread = threading.Thread(
        target=sender_thread,
        args=(port, args.connections, outbox, checkpoints, start, sink.pid, report),
    )
    message_bytes = failed = 0
    main_cpu0 = time.process_time()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start[0] = time.perf_counter()
    thread.start()
    for composed in compose_all(
        jobs(day, args.count, args.papers), settings=settings, workers=args.workers
    ):
        if composed.error:
            failed += 1
            continue
        message_bytes += len(composed.message)
        outbox.put((composed.recipient, composed.message))
    outbox.put(None)
    thread.join()
    elapsed = time.perf_counter() - start[0]
    main_cpu = time.process_time() - main_cpu0
    stop.set()
    received, received_bytes, sink_cpu = receive.recv()
    sink.join(10)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    children_cpu = (
        children.ru_utime + children.ru_stime - children0.ru_utime - children0.ru_stime
    ) - sink_cpu  # the pool's workers (the sink reports its own)

    n = args.count
    print(
        f"connections opened: {report['connections']:.0f}; failed to compose: {failed}; "
        f"not delivered: {report['not_delivered']:.0f}"
    )
    print(f"sink counted {received} messages, {received_bytes / 1e6:.1f} MB")
    print(f"mean message {message_bytes / n / 1e3:.1f} kB")
    print(f"end to end: {n / elapsed:.0f} msg/s ({elapsed:.1f} s for {n})")
    print("CPU per message during the run:")
    print(
        f"  main process        {main_cpu / n * 1e3:6.3f} ms (of which SMTP client "
        f"{report['smtp_cpu'] / n * 1e3:.3f} ms, feeding the pool "
        f"{report['feeder_cpu'] / n * 1e3:.3f} ms)"
    )
    if args.workers:
        print(f"  compose workers     {children_cpu / n * 1e3:6.3f} ms")
    print(f"  aiosmtpd sink       {sink_cpu / n * 1e3:6.3f} ms")
    print(
        f"  a send takes        {report['smtp_wall'] / n * 1e3:6.3f} ms wall "
        f"(all connections: {report['smtp_wall'] / elapsed:.2f} busy on average)"
    )
    stages = breakdown(day, min(n, 2_000), args.papers)
    print(f"composition alone, in-process, {min(n, 2_000)} messages (thread CPU per message):")
    for stage in ("job", "render", "mime"):
        print(f"  {stage:<7} {stages[stage] * 1e3:6.3f} ms")
    print(
        f"  => render + MIME alone could feed {1 / (stages['render'] + stages['mime']):.0f} msg/s"
        f" per core; paper cache hit rate {stages['hit_rate']:.1%}, "
        f"{stages['cached']:.0f} entries"
    )
    return 0 if received == n and not failed and not report["not_delivered"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
