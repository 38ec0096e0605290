"""Benchmark: render N digests (~15 papers each), build the MIME messages and send them all
over --connections SMTP connections to a local sink (in its own process) that only counts:
aiosmtpd, or with --sink lean bench/sink.py's lean server.

    python bench/deliver.py [HF_FIXTURE_DIR] [--count 10000] [--papers 15] [--workers CPUS]
                            [--connections 2]

Like a real day: every digest draws its papers from one shared pool (the Hugging Face
captures, ~130 papers), subscribers have one of --profiles distinct keyword profiles
(default 2,000, of real keywords from ../shared/seeds), so the same paper shows up in many
digests, with highlights that differ with the profile; the paper cache's hit rate is
printed. The parts are the
pipeline's own: digests are composed through digest.forkmap.fork_map (forked workers that
inherit the day's papers, as [digest] compose_workers does; --workers 1 composes in this
process) and each finished message goes straight to digest.sendpool.SenderPool (one thread
and one SmtpSender per connection), so composing overlaps with sending. Not measured here:
selecting and ranking (bench/rank.py) and the outbox writes of a real run. Prints elapsed,
msg/s and RSS at 1k / 5k / N messages accepted by the sink (memory should stay flat), then
where the CPU goes per message and the mean sizes of the HTML part, the text part and the
whole message.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import random
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from realpapers import seed_keywords
from sink import KINDS, Sink

from digest.compose.mail import Envelope, build_message, make_message_id
from digest.compose.render import make_environment, render_digest
from digest.config.settings import RenderSettings, SmtpSettings
from digest.deliver.sendpool import Job, Outcome, SenderPool
from digest.deliver.smtp import SmtpSender
from digest.models import (
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
from digest.util.forkmap import Failed, fork_map

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
    """`count` distinct profiles of 3-6 keywords each, drawn from real ones (the seed pages'
    titles, bench/realpapers.py), the common ones more often (as readers share topics)."""
    rng = random.Random(7)
    vocabulary = [*TERMS, *seed_keywords()]
    weights = list(itertools.accumulate(1.0 / (rank + 5) for rank in range(len(vocabulary))))
    chosen: set[tuple[str, ...]] = set()
    profiles = []
    while len(profiles) < count:
        terms = tuple(
            sorted(set(rng.choices(vocabulary, cum_weights=weights, k=rng.randint(3, 6))))
        )
        if terms in chosen:
            continue
        chosen.add(terms)
        profiles.append(
            Profile(
                topics=(Topic("Interests", tuple(Term(t) for t in terms)),), categories=("cs.CL",)
            )
        )
    return profiles


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


def job(day: Day, number: int, per_digest: int) -> tuple[Digest, Envelope]:
    """Digest `number` and its envelope, the same whichever process makes it."""
    rng = random.Random(number)
    which = number % len(day.profiles)
    candidates = day.candidates[which]
    ranked = []
    for index in rng.sample(candidates, min(per_digest, len(candidates))):
        matches = day.matches[which][index]
        topic = matches[0].term if matches else "Other"
        updated = rng.random() < 0.05
        ranked.append(Ranked(day.pool[index], rng.random(), matches, topic, updated=updated))
    ranked.sort(key=lambda r: -r.score)
    email = f"reader{number}@example.org"
    digest = Digest(
        subscriber=Subscriber(email=email, profile=day.profiles[which], id=number),
        day=DAY,
        papers=tuple(ranked),
        seen_count=442,
        matched_count=len(ranked),
        sources=SOURCES,
        unsubscribe_url=f"https://digest.example.org/u/{number}",
        manage_url=f"https://digest.example.org/m/{number}",
    )
    envelope = Envelope(
        sender="Paper Digest <digest@example.org>",
        recipient=email,
        message_id=make_message_id("example.org", f"{number}.{DAY}"),
        date=dt.datetime(2026, 5, 8, 7, 0, tzinfo=dt.UTC),
        list_id="papers.example.org",
        unsubscribe_mailto="unsubscribe@example.org",
        unsubscribe_url=digest.unsubscribe_url,
    )
    return digest, envelope


class Composer:
    """Digest number -> (recipient, message bytes): what a compose worker does per digest
    (render and MIME; the pipeline's also selects and ranks first)."""

    def __init__(self, day: Day, per_digest: int) -> None:
        self.day = day
        self.per_digest = per_digest
        self.settings = RenderSettings(subject_template="{papers} for you - {date:%a %d %b}")
        self.env = make_environment()

    def __call__(self, number: int) -> tuple[str, bytes]:
        digest, envelope = job(self.day, number, self.per_digest)
        rendered = render_digest(digest, self.settings, self.env)
        return envelope.recipient, build_message(rendered, envelope)


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


class Meter:
    """Outcomes as they come: counts, and a line of figures at each checkpoint."""

    def __init__(self, checkpoints: set[int], sink_pid: int) -> None:
        self.checkpoints = checkpoints
        self.sink_pid = sink_pid
        self.start = time.perf_counter()
        self.sent = 0
        self.failed = 0

    def take(self, outcome: Outcome[int]) -> None:
        if not outcome.accepted:
            self.failed += 1
            print(f"not delivered: {outcome.error}", file=sys.stderr)
            return
        self.sent += 1
        if self.sent in self.checkpoints:
            elapsed = time.perf_counter() - self.start
            workers = sum(rss_mb(p) for p in child_pids() if p != self.sink_pid)
            print(
                f"{self.sent:>6} sent  {elapsed:7.2f} s  {self.sent / elapsed:5.0f} msg/s  "
                f"RSS main {rss_mb():5.1f} MB  workers {workers:5.1f} MB  "
                f"sink {rss_mb(self.sink_pid):5.1f} MB",
                flush=True,
            )


def compose_and_send(
    composer: Composer, count: int, workers: int, pool: SenderPool[int], meter: Meter
) -> int:
    """Compose with fork_map (as the pipeline does) and hand each message to a free
    connection as soon as it is made; returns how many failed to compose."""
    failed = 0
    for outcome in fork_map(composer, range(count), workers):
        if isinstance(outcome, Failed):
            failed += 1
            print(f"could not compose {outcome.position}: {outcome.error}", file=sys.stderr)
            continue
        recipient, message = outcome.result
        while not pool.has_room:
            meter.take(pool.next_outcome())
        pool.submit(Job(outcome.position, "digest@example.org", recipient, message))
    while pool.in_flight:
        meter.take(pool.next_outcome())
    return failed


def breakdown(day: Day, count: int, per_digest: int) -> dict[str, float]:
    """CPU per message of each stage, in this process alone: job making, rendering, MIME."""
    composer = Composer(day, per_digest)
    cpu = {"job": 0.0, "render": 0.0, "mime": 0.0}
    size = {"html": 0, "text": 0, "message": 0}
    for number in range(count):
        c0 = time.thread_time()
        digest, envelope = job(day, number, per_digest)
        c1 = time.thread_time()
        rendered = render_digest(digest, composer.settings, composer.env)
        c2 = time.thread_time()
        message = build_message(rendered, envelope)
        c3 = time.thread_time()
        cpu["job"] += c1 - c0
        cpu["render"] += c2 - c1
        cpu["mime"] += c3 - c2
        size["html"] += len(rendered.html.encode("utf-8"))
        size["text"] += len(rendered.text.encode("utf-8"))
        size["message"] += len(message)
    per_message = {k: v / count for k, v in cpu.items()}
    per_message.update({f"{k}_bytes": v / count for k, v in size.items()})
    cache = composer.env.paper_cache  # type: ignore[attr-defined]
    per_message["hit_rate"] = cache.hits / max(1, cache.hits + cache.misses)
    per_message["cached"] = len(cache)
    return per_message


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("fixtures", nargs="?", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--papers", type=int, default=15)
    parser.add_argument(
        "--profiles",
        type=int,
        default=2000,
        help="distinct keyword profiles (24 was the old default)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="compose processes, as [digest] compose_workers (1: in this process)",
    )
    parser.add_argument("--connections", type=int, default=2, help="parallel SMTP connections")
    parser.add_argument(
        "--sink", choices=KINDS, default="aiosmtpd", help="the SMTP server (bench/sink.py)"
    )
    args = parser.parse_args()

    day = Day(load_papers(args.fixtures), make_profiles(args.profiles))
    composer = Composer(day, args.papers)
    print(
        f"paper pool: {len(day.pool)} papers from {args.fixtures}; {args.profiles} profiles; "
        f"{args.papers} papers per digest; workers={args.workers}; "
        f"connections={args.connections}; {os.cpu_count()} CPUs; "
        f"speed check {speed_check():.2f} s"
    )

    sink = Sink(args.sink)
    smtp = SmtpSettings(host="127.0.0.1", port=sink.port, security="plain", timeout=30)
    meters: list[MeteredSender] = []
    main_cpu0 = time.process_time()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    meter = Meter({1_000, 5_000, args.count}, sink.pid)
    pool: SenderPool[int]
    with SenderPool(lambda: MeteredSender(smtp, meters), args.connections) as pool:
        failed = compose_and_send(composer, args.count, args.workers, pool, meter)
    elapsed = time.perf_counter() - meter.start
    main_cpu = time.process_time() - main_cpu0
    received, received_bytes, sink_cpu = sink.finish()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers_cpu = (
        children.ru_utime + children.ru_stime - children0.ru_utime - children0.ru_stime
    ) - sink_cpu  # the compose workers (the sink reports its own)
    smtp_cpu = sum(m.cpu for m in meters)
    smtp_wall = sum(m.wall for m in meters)

    n = args.count
    print(
        f"connections opened: {sum(m.connections_opened for m in meters)}; "
        f"failed to compose: {failed}; not delivered: {meter.failed}"
    )
    print(f"sink counted {received} messages, {received_bytes / 1e6:.1f} MB")
    print(f"mean message {received_bytes / max(1, received) / 1e3:.1f} kB")
    print(f"largest child's peak RSS (a worker or the sink): {children.ru_maxrss / 1e3:.1f} MB")
    print(f"end to end: {n / elapsed:.0f} msg/s ({elapsed:.1f} s for {n})")
    print("CPU per message during the run:")
    print(
        f"  main process        {main_cpu / n * 1e3:6.3f} ms "
        f"(of which SMTP client {smtp_cpu / n * 1e3:.3f} ms)"
    )
    if args.workers > 1:
        print(f"  compose workers     {workers_cpu / n * 1e3:6.3f} ms")
    print(f"  {sink.label:<19} {sink_cpu / n * 1e3:6.3f} ms")
    print(
        f"  a send takes        {smtp_wall / n * 1e3:6.3f} ms wall "
        f"(all connections: {smtp_wall / elapsed:.2f} busy on average)"
    )
    sample = min(n, 2_000)
    stages = breakdown(day, sample, args.papers)
    print(f"composition alone, in this process, {sample} messages (thread CPU per message):")
    for stage in ("job", "render", "mime"):
        print(f"  {stage:<7} {stages[stage] * 1e3:6.3f} ms")
    print(
        f"  mean sizes: HTML part {stages['html_bytes'] / 1e3:.1f} kB, text part "
        f"{stages['text_bytes'] / 1e3:.1f} kB (UTF-8, before transfer encoding), whole "
        f"message {stages['message_bytes'] / 1e3:.1f} kB"
    )
    print(
        f"  => render + MIME alone could feed {1 / (stages['render'] + stages['mime']):.0f} msg/s"
        f" per core; paper cache hit rate {stages['hit_rate']:.1%}, "
        f"{stages['cached']:.0f} entries"
    )
    return 0 if received == n and not failed and not meter.failed else 1


def speed_check() -> float:
    """Seconds for a fixed loop: this machine's single-core speed varies from run to run."""
    t0 = time.perf_counter()
    sum(range(10**7))
    return time.perf_counter() - t0


if __name__ == "__main__":
    raise SystemExit(main())
