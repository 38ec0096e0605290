"""How fast is ranking a day's papers for many subscribers?

    python bench/rank.py [--papers 5000] [--profiles 1000,10000,50000] [--limit 25]
                         [--keywords zipf|uniform|both] [--everything 10000] [--corpus PATH]

Builds a synthetic day from the evaluation corpus (real titles and abstracts, recombined:
a title, then sentences of two or three abstracts; plus authors, categories and, for one
paper in five, Hugging Face keywords and upvotes) and profiles of 3-12 keywords (phrases,
topical words, wildcards, acronyms and a share of generic words such as "model"; some
exclusions, authors and categories; min_score 0-3, mostly the default 1 or 2).

How subscribers pick keywords decides how much look-up work they share:
- zipf (realistic, the default): within each kind, keywords are drawn by popularity, a
  Zipf law over the candidates (phrases and acronyms most frequent in the papers first,
  so "diffusion models" and "LLM" are common choices; words in a fixed random order), as
  real subscribers share mainstream research topics;
- uniform (stress): every candidate equally likely, so nearly every profile brings ~6
  keywords nobody else uses, each paying a first-time look-up.

Each profile count is measured in a forked child with a fresh index (so keyword look-ups
are paid again and the peak RSS is that run's): the index build, then `rank_top(limit=...)`
for every profile as the pipeline calls it (with the day's ids as `eligible`), wall and CPU
time, per-profile cost, slowest profile, distinct keywords looked up, papers matched per
profile, peak RSS, and how time grew against the previous count. `--everything N` also
times `rank()` returning every matching paper explained, for N profiles, for comparison.
`--semantic N` adds what meaning costs N subscribers (bench/rank_semantic.py).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import random
import re
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest.models import HFSignals, Paper, Profile, Term, Topic
from digest.rank.lexical import CorpusStats, build_index, corpus_stats, rank, rank_top
from digest.textmatch import fold, stem
from digest.util.forkmap import Done, fork_map

DEFAULT_CORPUS = ROOT / "tests" / "rank" / "eval" / "corpus.json"
CATEGORIES = [
    "cs.LG", "cs.CV", "cs.CL", "cs.AI", "stat.ML", "astro-ph.CO", "astro-ph.GA",
    "hep-th", "quant-ph", "math.NA", "physics.comp-ph", "cond-mat.dis-nn",
]  # fmt: skip
STOPWORDS = frozenset([
    "the", "a", "an", "of", "and", "or", "in", "on", "for", "to", "with", "by", "from", "we",
    "our", "this", "that", "these", "is", "are", "be", "as", "at", "which", "it", "its",
    "their", "can", "has", "have", "not", "into", "via", "using", "based", "than", "such",
    "also", "more", "most", "both", "between", "while", "when", "where", "how", "what", "new",
    "show", "shows", "paper", "work", "results", "approach",
])  # fmt: skip
SENTENCE = re.compile(r"(?<=[.!?])\s+")
WORD = re.compile(r"[A-Za-z][A-Za-z\-]+")


def load_seed(path: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    return rows


def make_authors(rng: random.Random, count: int) -> list[str]:
    given = ["Yang", "Wei", "Maria", "John", "Aiko", "Pierre", "Anna", "Ravi", "Olga", "Jörg"]
    family = ["Song", "Li", "Garcia", "Smith", "Tanaka", "Dupont", "Novak", "Rao", "Müller"]
    # letters, not digits, make the surnames distinct (names keep only letters)
    tags = [a + b for a in "abcdefghij" for b in "klmnopqrst"]
    return [f"{rng.choice(given)} {rng.choice(family)}{tags[i % len(tags)]}" for i in range(count)]


# 324 abstracts have a far smaller vocabulary than a real day's 5,000 papers: recombined as
# is, every word would appear in ~15x more papers than it would in reality. Each synthetic
# paper therefore writes half its longer words in one of 24 "dialects" (a suffix), which
# restores a long tail of rarer words while keeping sentences and phrases intact.
# (consonant clusters the stemmer leaves alone, so "datasetqbz" stays apart from "dataset")
DIALECTS = ["", *("q" + c + "z" for c in "bcdfghjklmnpqrstvwxyz"), "xkq", "xjq", "xvq"]


def expand(text: str, dialect: str) -> str:
    if not dialect:
        return text
    return WORD.sub(lambda m: m.group() + dialect if len(m.group()) > 5 else m.group(), text)


def make_papers(
    seed: list[dict[str, str]], n: int, rng: random.Random, expand_vocabulary: bool
) -> list[Paper]:
    sentences = [SENTENCE.split(r["abstract"]) for r in seed]
    people = make_authors(rng, 3000)
    papers = []
    for i in range(n):
        title = rng.choice(seed)["title"]
        parts: list[str] = []
        for source in rng.sample(sentences, rng.randint(2, 3)):
            start = rng.randrange(len(source))
            parts.extend(source[start : start + rng.randint(2, 4)])
        if expand_vocabulary and rng.random() < 0.5:
            dialect = rng.choice(DIALECTS[1:])
            title = expand(title, dialect)
            parts = [expand(part, dialect) for part in parts]
        hf = None
        if rng.random() < 0.2:
            words = [w for w in WORD.findall(title) if w.lower() not in STOPWORDS]
            hf = HFSignals(upvotes=rng.randint(0, 300), ai_keywords=tuple(words[:5]))
        papers.append(
            Paper(
                id=f"2601.{i:05d}",
                title=title,
                abstract=" ".join(parts),
                authors=tuple(rng.sample(people, rng.randint(1, 8))),
                categories=tuple(rng.sample(CATEGORIES, rng.randint(1, 3))),
                hf=hf,
            )
        )
    return papers


def vocabulary(papers: list[Paper], stats: CorpusStats) -> dict[str, list[str]]:
    """Candidate keywords by kind, most popular first for the Zipf draw. "generic" words are
    in more than 2% of papers ("model", "learning"), counting every form of the word:
    researchers rarely pick them, and they match hundreds of papers a day. "topical" words
    are in 0.04-1% of papers. Phrases and acronyms come most frequent first (the common
    research phrases); words in a fixed random order (popularity unrelated to frequency)."""
    surface: set[str] = set()
    phrases: Counter[str] = Counter()
    acronyms: Counter[str] = Counter()
    for paper in papers[:2000]:
        tokens = WORD.findall(f"{paper.title} {paper.abstract}")
        for a, b in itertools.pairwise(tokens):
            if a.lower() not in STOPWORDS and b.lower() not in STOPWORDS:
                phrases[f"{a.lower()} {b.lower()}"] += 1
        for token in tokens:
            if token.isupper() and len(token) >= 2:
                acronyms[token] += 1
            elif token.lower() not in STOPWORDS and len(token) > 3:
                surface.add(token.lower())
    n = stats.documents

    def share(word: str) -> float:
        return stats.doc_freq.get(stem(fold(word)), 0) / n

    def by_count(counts: Counter[str]) -> list[str]:
        return sorted((w for w, c in counts.items() if c >= 2), key=lambda w: (-counts[w], w))

    shuffle = random.Random(7)
    topical = sorted(w for w in surface if 0.0004 <= share(w) <= 0.01)
    generic = sorted(w for w in surface if share(w) > 0.02)
    shuffle.shuffle(topical)
    shuffle.shuffle(generic)
    return {
        "topical": topical,
        "generic": generic,
        "phrase": by_count(phrases),
        "acronym": by_count(acronyms),
    }


class KeywordDraw:
    """Draws a keyword of a kind: by Zipf popularity (weight 1 / (rank + 2)) or uniformly."""

    def __init__(self, vocab: dict[str, list[str]], rng: random.Random, zipf: bool) -> None:
        self.vocab = vocab
        self.rng = rng
        self.cumulative: dict[str, list[float]] | None = None
        if zipf:
            self.cumulative = {
                kind: list(itertools.accumulate(1.0 / (r + 2) for r in range(len(words))))
                for kind, words in vocab.items()
            }

    def __call__(self, kind: str) -> str:
        words = self.vocab[kind]
        if self.cumulative is None:
            return self.rng.choice(words)
        return self.rng.choices(words, cum_weights=self.cumulative[kind])[0]


def make_profiles(
    papers: list[Paper],
    stats: CorpusStats,
    n: int,
    rng: random.Random,
    generic_share: float,
    zipf: bool,
) -> list[Profile]:
    vocab = vocabulary(papers, stats)
    draw = KeywordDraw(vocab, rng, zipf)
    people = sorted({a for p in papers[:500] for a in p.authors})
    profiles = []
    for _ in range(n):
        terms = []
        for _ in range(rng.randint(3, 12)):
            roll = rng.random()
            if roll < generic_share:
                text = draw("generic")
            elif roll < 0.35:
                text = draw("phrase")
            elif roll < 0.45:
                word = draw("topical")
                text = word[: max(6, len(word) - 2)] + "*"
            elif roll < 0.55:
                text = draw("acronym")
            else:
                text = draw("topical")
            terms.append(Term(text, rng.choice([1.0, 1.0, 1.5, 2.0]), text.isupper()))
        profiles.append(
            Profile(
                topics=(Topic("main", tuple(terms)),),
                exclude=(draw("phrase"),) if rng.random() < 0.3 else (),
                authors=tuple(rng.sample(people, 2)) if rng.random() < 0.2 else (),
                categories=tuple(rng.sample(CATEGORIES, 2)) if rng.random() < 0.3 else (),
                min_score=rng.choice([0.0, 1.0, 1.0, 2.0, 2.0, 3.0]),
                popularity_weight=rng.choice([0.0, 0.0, 0.5]),
            )
        )
    return profiles


def machine_speed() -> float:
    """Seconds for a fixed pure-Python loop: on a shared machine the figures move with
    its load, and this says how fast the machine was when they were taken."""
    start = time.process_time()
    sum(range(10_000_000))
    return time.process_time() - start


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_child(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run `work` in a forked child and return its figures: each run starts from the same
    memory (papers and profiles only) and reports its own peak RSS."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: measure, report, leave without running the parent's cleanup
        os.close(reader)
        try:
            figures = work()
            figures["rss_mb"] = peak_rss_mb()
            os.write(writer, json.dumps(figures).encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    result: dict[str, Any] = json.loads(data)
    return result


def time_ranking(
    papers: list[Paper],
    background: CorpusStats,
    profiles: Sequence[Profile],
    limit: int | None,
    workers: int,
) -> dict[str, Any]:
    """Build a fresh index and rank every profile: `rank_top(limit)`, or `rank()` if None,
    in `workers` forked processes sharing the index (digest.forkmap, as the pipeline composes
    with [digest] compose_workers), each returning only its counts."""
    start = time.perf_counter()
    index = build_index(papers, background=background)
    built = time.perf_counter() - start
    eligible = frozenset(index.ids)  # the pipeline passes each subscriber's unsent papers

    def rank_one(profile: Profile) -> tuple[int, int, float]:
        t0 = time.perf_counter()
        if limit is None:
            found = rank(index, profile, eligible=eligible)
            return len(found), len(found), time.perf_counter() - t0
        result = rank_top(index, profile, limit=limit, eligible=eligible)
        return result.matched, len(result.ranked), time.perf_counter() - t0

    matched = returned = 0
    slowest = 0.0
    before = resource.getrusage(resource.RUSAGE_CHILDREN)  # (the index's workers)
    wall, cpu = time.perf_counter(), time.process_time()
    for outcome in fork_map(rank_one, profiles, workers):
        assert isinstance(outcome, Done), outcome
        found, shown, seconds = outcome.result
        matched += found
        returned += shown
        slowest = max(slowest, seconds)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "index_s": built,
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time()
        - cpu
        + (children.ru_utime + children.ru_stime)
        - (before.ru_utime + before.ru_stime),
        "slowest_ms": slowest * 1000,
        "matched": matched / len(profiles),
        "returned": returned / len(profiles),
        "keywords": len({(t.text, t.case_sensitive) for p in profiles for t in p.all_terms}),
        "worker_rss_mb": children.ru_maxrss / 1024 if workers > 1 else 0.0,
    }


def report(label: str, count: int, f: dict[str, Any], previous: tuple[int, float] | None) -> None:
    growth = ""
    if previous:
        growth = f"; x{count / previous[0]:.0f} profiles -> x{f['wall_s'] / previous[1]:.1f} time"
    print(
        f"  {label} {count:>6} profiles: index {f['index_s']:4.1f} s + rank {f['wall_s']:6.2f} s "
        f"= {f['index_s'] + f['wall_s']:5.1f} s wall (rank {f['cpu_s']:.2f} s CPU, "
        f"{f['wall_s'] / count * 1000:.2f} ms/profile, "
        f"slowest {f['slowest_ms']:.0f} ms), {f['keywords']} distinct keywords, "
        f"{f['matched']:.0f} matched / {f['returned']:.0f} returned per profile, "
        f"peak RSS {f['rss_mb']:.0f} MB"
        + (f" + {f['worker_rss_mb']:.0f} MB per worker at most" if f["worker_rss_mb"] else "")
        + growth,
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--papers", type=int, default=5000)
    parser.add_argument("--profiles", default="1000,10000,50000")
    parser.add_argument("--limit", type=int, default=25, help="papers explained per profile")
    parser.add_argument("--keywords", choices=["zipf", "uniform", "both"], default="both")
    parser.add_argument(
        "--everything",
        default="10000",
        help="profile counts for which to also time rank() returning every match ('' for none)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="forked ranking processes sharing the index (1: rank in the indexing process)",
    )
    parser.add_argument(
        "--seed-vocabulary-only",
        action="store_true",
        help="stress: recombine seeds without widening their vocabulary (~15x more matches)",
    )
    parser.add_argument(
        "--semantic",
        type=int,
        default=0,
        help="also time the semantic side for this many subscribers (needs the extra)",
    )
    parser.add_argument(
        "--generic-share",
        type=float,
        default=0.1,
        help="share of keywords that are generic words like 'model' (stress: 0.3)",
    )
    args = parser.parse_args()

    rng = random.Random(20260101)
    seed = load_seed(args.corpus)
    papers = make_papers(seed, args.papers, rng, not args.seed_vocabulary_only)
    counts = [int(c) for c in args.profiles.split(",") if c]
    everything = [int(c) for c in args.everything.split(",") if c]
    background = corpus_stats(papers)
    print(
        f"{len(papers)} papers from {len(seed)} seed abstracts, limit {args.limit}, "
        f"{args.workers} ranking process(es); "
        f"{os.cpu_count()} CPUs; peak RSS {peak_rss_mb():.0f} MB; "
        f"sum(range(10**7)) takes {machine_speed():.2f} s CPU here",
        flush=True,
    )
    variants = ["zipf", "uniform"] if args.keywords == "both" else [args.keywords]
    for variant in variants:
        profiles = make_profiles(
            papers,
            background,
            max(counts + everything),
            random.Random(f"{variant}-profiles"),
            args.generic_share,
            zipf=variant == "zipf",
        )
        print(f"{variant} keywords:", flush=True)
        previous = None
        for count in counts:
            run = functools.partial(
                time_ranking, papers, background, profiles[:count], args.limit, args.workers
            )
            figures = in_child(run)
            report(f"rank_top({args.limit})", count, figures, previous)
            previous = (count, figures["wall_s"])
        for count in everything:
            run = functools.partial(
                time_ranking, papers, background, profiles[:count], None, args.workers
            )
            figures = in_child(run)
            report("rank() all  ", count, figures, None)
    if args.semantic:
        from rank_semantic import semantic_cost

        profiles = make_profiles(
            papers, background, args.semantic, random.Random("zipf-profiles"),
            args.generic_share, zipf=True,
        )  # fmt: skip
        semantic_cost(papers, background, profiles, args.limit)
    print(f"sum(range(10**7)) now takes {machine_speed():.2f} s CPU", flush=True)


if __name__ == "__main__":
    main()
