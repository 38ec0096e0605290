"""What semantic matching costs a daily run on this machine.

    python bench/embed.py [--papers 2000] [--fixtures ../shared/fixtures] [--batch 32]

A day's arXiv volume: the 1,504 items of the real all-archives RSS capture, topped up to
--papers with titles and abstracts of the evaluation corpus recombined (a title, then
sentences of two abstracts). Prints, each in a fresh phase of one process:

- importing sentence-transformers and loading the model (seconds, resident memory);
- embedding every paper (papers per second, peak resident memory): what a run pays once
  per new paper, since vectors are cached by paper id;
- the same papers again through a warm cache (what a rerun pays);
- per subscriber: the profile vector (first time, then cached), the similarity of every
  paper, one blend (hybrid_top) and the run's whole meaning path (ranked_with_meaning:
  blend, pseudo-relevance feedback, blend) against keywords alone (rank_top), for the top
  LIMIT, on the 7 judged profiles and their short forms, and what that makes for 10,000
  subscribers;
- what a preview pays after its first call: the on-disk vector file read back for every
  paper (digest.rank.vectorfile), and the numpy encoder (digest.rank.minilm) loaded in a
  fresh Embedder and run on one new profile text, without torch.

Needs the semantic extra. Other processes on the machine slow the model down: the load
average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest.collect.sources.arxiv_rss import parse
from digest.config.profiles import load_profile
from digest.models import Paper, Profile, Topic
from digest.rank.hybrid import hybrid_top
from digest.rank.lexical import build_index, rank_top
from digest.rank.personal import ranked_with_meaning
from digest.rank.semantic import (
    Embedder,
    MemoryEmbeddingCache,
    SemanticIndex,
    available,
    paper_text,
    profile_text,
)
from digest.rank.vectorfile import FileEmbeddingCache, text_digest

DEFAULT_FIXTURES = ROOT / ".." / "shared" / "fixtures"
RSS_FILE = "arxiv_rss/arxiv_rss_new_allarchives_2024-11-28.xml"
EVAL = ROOT / "tests" / "rank" / "eval"
LIMIT = 25  # papers of a digest
SENTENCE = re.compile(r"(?<=[.!?])\s+")


def rss_mb() -> float:
    """Resident memory now (not the peak), from /proc."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def day_of_papers(fixtures: Path, count: int) -> list[Paper]:
    rss = fixtures / RSS_FILE
    papers = list(parse(rss.read_bytes(), rss.as_uri())) if rss.exists() else []
    seeds = json.loads((EVAL / "corpus.json").read_text(encoding="utf-8"))
    rng = random.Random(7)
    number = 0
    while len(papers) < count:
        title = rng.choice(seeds)["title"]
        parts = [SENTENCE.split(rng.choice(seeds)["abstract"]) for _ in range(2)]
        abstract = " ".join(" ".join(s[: max(1, len(s) // 2)]) for s in parts)
        papers.append(Paper(id=f"9999.{number:05d}", title=title, abstract=abstract))
        number += 1
    return papers[:count]


def profiles() -> list[Profile]:
    full = [load_profile(f) for f in sorted((EVAL / "profiles").glob("*.toml"))]
    short = [replace(p, topics=(Topic("short", p.all_terms[:2]),), description="") for p in full]
    return full + short


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    if not available():
        sys.exit("the semantic extra is not installed: pip install -e '.[semantic]'")
    papers = day_of_papers(args.fixtures, args.papers)
    print(f"{len(papers)} papers; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")

    base = rss_mb()
    started = time.perf_counter()
    embedder = Embedder(batch_size=args.batch)
    embedder.load()
    load_seconds = time.perf_counter() - started
    print(
        f"model import + load      {load_seconds:7.1f} s   resident {rss_mb():7.0f} MB "
        f"(+{rss_mb() - base:.0f} MB)"
    )

    cache = MemoryEmbeddingCache()
    started = time.perf_counter()
    semantic = SemanticIndex.build(papers, embedder, cache)
    cold = time.perf_counter() - started
    print(
        f"embed {semantic.computed} papers       {cold:7.1f} s   {semantic.computed / cold:6.1f} "
        f"papers/s   peak {peak_mb():7.0f} MB   (batch {args.batch})"
    )
    started = time.perf_counter()
    warm_index = SemanticIndex.build(papers, embedder, cache)
    warm = time.perf_counter() - started
    print(f"same papers, warm cache  {warm * 1000:7.1f} ms  ({warm_index.computed} embedded)")

    index = build_index(papers)
    subjects = profiles()
    started = time.perf_counter()
    for profile in subjects:
        semantic.profile_vector(profile)
    first_vectors = (time.perf_counter() - started) / len(subjects)
    fresh = SemanticIndex(semantic.ids, semantic.matrix, embedder, cache)
    started = time.perf_counter()
    all_scores = [fresh.scores_for(p) for p in subjects]
    similarity = (time.perf_counter() - started) / len(subjects)
    everyone = frozenset(index.ids)
    for profile in subjects:
        rank_top(index, profile, limit=LIMIT, eligible=everyone)  # warm the keyword look-ups
    started = time.perf_counter()
    for profile in subjects:
        rank_top(index, profile, limit=LIMIT, eligible=everyone)
    lexical = (time.perf_counter() - started) / len(subjects)
    started = time.perf_counter()
    for profile, scores in zip(subjects, all_scores, strict=True):
        hybrid_top(index, profile, papers, semantic=scores, limit=LIMIT, eligible=everyone)
    hybrid = (time.perf_counter() - started) / len(subjects)
    started = time.perf_counter()
    entered = 0
    for profile in subjects:
        found = ranked_with_meaning(
            index, papers, fresh, profile, limit=LIMIT, eligible=everyone, updated=()
        )
        ranked = found.ranked if found is not None else ()
        entered += sum(1 for r in ranked if r.note.startswith("similar in meaning"))
    path = (time.perf_counter() - started) / len(subjects)
    extra = path - lexical
    print(f"per subscriber ({len(subjects)} profiles, keyword look-ups warm in both):")
    print(f"  profile vector, new      {first_vectors * 1000:7.1f} ms (then cached)")
    print(f"  similarity to all papers {similarity * 1000:7.1f} ms (cached profile vector)")
    print(f"  rank_top({LIMIT})             {lexical * 1000:7.1f} ms (keywords only)")
    print(f"  hybrid_top({LIMIT})           {hybrid * 1000:7.1f} ms (one blend)")
    print(f"  ranked_with_meaning({LIMIT})  {path * 1000:7.1f} ms (blend, pseudo-feedback, blend)")
    print(f'  noted "similar in meaning": {entered / len(subjects):.1f} of the top {LIMIT}')
    print(
        f"a daily run pays about {load_seconds + cold:.0f} s once (load + {semantic.computed} new "
        f"papers) plus {extra * 1000:.1f} ms per subscriber: {extra * 10_000:.0f} s CPU for "
        "10,000 subscribers"
    )
    with tempfile.TemporaryDirectory() as folder:
        on_disk = FileEmbeddingCache(Path(folder))
        digests = {p.id: text_digest(paper_text(p)) for p in papers}  # as build() keys them
        vectors = dict(zip(semantic.ids, semantic.matrix, strict=True))
        on_disk.put(vectors, embedder.name, digests)
        started = time.perf_counter()
        again = SemanticIndex.build(papers, embedder, on_disk)
        read = time.perf_counter() - started
    print(f"preview after the first: {len(papers)} vectors from the file {read * 1000:.0f} ms "
          f"({again.computed} embedded)")  # fmt: skip
    light = Embedder()
    started = time.perf_counter()
    light.embed([profile_text(subjects[0])])
    first_light = time.perf_counter() - started
    started = time.perf_counter()
    light.embed([profile_text(subjects[1])])
    next_light = time.perf_counter() - started
    print(f"  numpy encoder: load + first profile {first_light * 1000:.0f} ms, next profile "
          f"{next_light * 1000:.1f} ms (torch not used: {not light.loaded})")  # fmt: skip
    print(f"peak resident memory {peak_mb():.0f} MB; load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
