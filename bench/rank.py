"""How fast is ranking a day's papers for many subscribers?

    python bench/rank.py [--papers 5000] [--profiles 1000,10000] [--huge] [--corpus PATH]

Builds a synthetic day from the evaluation corpus (real titles and abstracts, recombined:
a title, then sentences of two or three abstracts; plus authors, categories and, for one
paper in five, Hugging Face keywords and upvotes) and realistic profiles (3-12 keywords
drawn from the corpus vocabulary: phrases, topical words, wildcards, acronyms and a share
of generic words such as "model"; some exclusions, authors and categories; min_score 0-3,
mostly the default 1 or 2). Prints the index build time, the time to rank
every profile against the shared index, per-profile cost, results returned and peak RSS,
for each profile count (--huge adds 50,000). Each count gets a fresh index, so keyword
look-ups are paid again.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import resource
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest.models import HFSignals, Paper, Profile, Term, Topic  # noqa: E402
from digest.rank import CorpusStats, build_index, corpus_stats, rank  # noqa: E402
from digest.textmatch import fold, stem  # noqa: E402

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
    """Candidate keywords by kind. "generic" words are in more than 2% of papers ("model",
    "learning"), counting every form of the word: researchers rarely pick them, and they
    match hundreds of papers a day. "topical" words are in 0.04-1% of papers."""
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

    return {
        "topical": sorted(w for w in surface if 0.0004 <= share(w) <= 0.01),
        "generic": sorted(w for w in surface if share(w) > 0.02),
        "phrase": sorted(p for p, c in phrases.items() if c >= 2),
        "acronym": sorted(a for a, c in acronyms.items() if c >= 2),
    }


def make_profiles(
    papers: list[Paper], stats: CorpusStats, n: int, rng: random.Random, generic_share: float
) -> list[Profile]:
    vocab = vocabulary(papers, stats)
    people = sorted({a for p in papers[:500] for a in p.authors})
    profiles = []
    for _ in range(n):
        terms = []
        for _ in range(rng.randint(3, 12)):
            roll = rng.random()
            if roll < generic_share:
                text = rng.choice(vocab["generic"])
            elif roll < 0.35:
                text = rng.choice(vocab["phrase"])
            elif roll < 0.45:
                word = rng.choice(vocab["topical"])
                text = word[: max(6, len(word) - 2)] + "*"
            elif roll < 0.55:
                text = rng.choice(vocab["acronym"])
            else:
                text = rng.choice(vocab["topical"])
            terms.append(Term(text, rng.choice([1.0, 1.0, 1.5, 2.0]), text.isupper()))
        profiles.append(
            Profile(
                topics=(Topic("main", tuple(terms)),),
                exclude=tuple(rng.sample(vocab["phrase"], 1)) if rng.random() < 0.3 else (),
                authors=tuple(rng.sample(people, 2)) if rng.random() < 0.2 else (),
                categories=tuple(rng.sample(CATEGORIES, 2)) if rng.random() < 0.3 else (),
                min_score=rng.choice([0.0, 1.0, 1.0, 2.0, 2.0, 3.0]),
                popularity_weight=rng.choice([0.0, 0.0, 0.5]),
            )
        )
    return profiles


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--papers", type=int, default=5000)
    parser.add_argument("--profiles", default="1000,10000")
    parser.add_argument("--huge", action="store_true", help="also rank 50,000 profiles")
    parser.add_argument(
        "--seed-vocabulary-only",
        action="store_true",
        help="stress: recombine seeds without widening their vocabulary (~15x more matches)",
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
    counts = [int(c) for c in args.profiles.split(",")] + ([50_000] if args.huge else [])
    background = corpus_stats(papers)
    all_profiles = make_profiles(papers, background, max(counts), rng, args.generic_share)
    print(f"{len(papers)} papers, {len(seed)} seed abstracts; peak RSS {peak_rss_mb():.0f} MB")

    for count in counts:
        start = time.perf_counter()
        index = build_index(papers, background=background)
        built = time.perf_counter() - start
        returned = 0
        slowest = 0.0
        start = time.perf_counter()
        for profile in all_profiles[:count]:
            t0 = time.perf_counter()
            returned += len(rank(index, profile))
            slowest = max(slowest, time.perf_counter() - t0)
        ranked = time.perf_counter() - start
        # the same profiles with nothing passing min_score: keyword look-ups and scoring
        # only, without building the explained results
        silent = [replace(p, min_score=1000.0) for p in all_profiles[:count]]
        index = build_index(papers, background=background)
        start = time.perf_counter()
        for profile in silent:
            rank(index, profile)
        scoring = time.perf_counter() - start
        print(
            f"{count:>6} profiles: index {built:5.2f} s, rank {ranked:6.2f} s "
            f"(scoring alone {scoring:5.2f} s) "
            f"({ranked / count * 1000:.3f} ms/profile, slowest {slowest * 1000:.1f} ms), "
            f"{returned / count:.0f} papers returned per profile, "
            f"peak RSS {peak_rss_mb():.0f} MB"
        )


if __name__ == "__main__":
    main()
