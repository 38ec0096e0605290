"""Real papers for benchmarks: every capture in ../shared/fixtures, parsed by digest's own
parsers, and the titles and abstracts of ../shared/seeds (the Hugging Face listing pages).

`real_papers()` gives each distinct paper once (about 2,100); `day_of(n, day)` gives n of
them under ids of their own for that day (a copy keeps the real text under another id when
n is more than there are), so that 30 such days make a 30-day store of distinct papers.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
from pathlib import Path

from digest.collect.sources import get_parser
from digest.models import AnnounceType, Paper

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = SHARED / "fixtures"
SEEDS = SHARED / "seeds"
CAPTURES = {
    "arxiv_rss": ["arxiv_rss/arxiv_rss_new_allarchives_2024-11-28.xml"],
    "arxiv_api": [
        "arxiv_api/arxiv_api_query_all_testing_max100_2026-04-12_newformat.xml",
        "arxiv_api/arxiv_api_query_cat_cs.AI_LG_CL_max25_2026-08-02_newformat.xml",
        "arxiv_api/arxiv_api_query_transformer_cs.LG_2026-06-14_newformat.xml",
        "arxiv_api/arxiv_api_query_au_del_maestro_2016-10-09_oldformat.xml",
    ],
    "arxiv_list": ["arxiv_list/arxiv_list_cs.CL_recent_2026-07-28.html"],
    "hf_daily": [
        f"hf_daily_papers/hf_api_daily_papers_{d}.json"
        for d in ("2024-10-25", "2026-05-08", "2026-06-12", "2026-07-31")
    ],
}
# A seed page: a title line followed by its abstract (the only long lines).
_MIN_ABSTRACT, _MAX_TITLE = 300, 300


@functools.cache
def real_papers(fixtures: Path = FIXTURES, seeds: Path = SEEDS) -> tuple[Paper, ...]:
    """Each real paper of the captures and the seed pages once, captures first."""
    papers: dict[str, Paper] = {}
    for kind, files in CAPTURES.items():
        parse = get_parser(kind)
        source = "huggingface" if kind == "hf_daily" else "arxiv"  # as collect names them
        for name in files:
            path = fixtures / name
            if path.exists():
                for paper in parse(path.read_bytes(), path.as_uri()):
                    papers.setdefault(paper.id, dataclasses.replace(paper, sources=(source,)))
    titles = {" ".join(p.title.lower().split()) for p in papers.values()}
    for file in sorted(seeds.glob("*.txt")):
        for title, abstract in _seed_pairs(file.read_text(encoding="utf-8")):
            key = " ".join(title.lower().split())
            if key in titles:
                continue
            titles.add(key)
            pid = "seed:" + hashlib.sha1(key.encode()).hexdigest()[:10]
            papers[pid] = Paper(
                id=pid,
                title=title,
                abstract=abstract,
                url=f"https://example.org/{pid}",
                categories=("cs.LG",),
                announce_type=AnnounceType.NEW,
                sources=("huggingface",),
            )
    return tuple(papers.values())


def day_of(count: int, day: int = 0) -> list[Paper]:
    """`count` real papers with ids of day `day` (distinct across days), copies of the real
    ones beyond their number."""
    real = real_papers()
    out = []
    for n, paper in enumerate(itertools.islice(itertools.cycle(real), count)):
        out.append(dataclasses.replace(paper, id=f"d{day}.{n}.{paper.id}"))
    return out


def _seed_pairs(text: str) -> list[tuple[str, str]]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return [
        (title.removeprefix("Subscribe").strip(), line)
        for title, line in itertools.pairwise(lines)
        if len(line) >= _MIN_ABSTRACT and len(title) < _MAX_TITLE
    ]


_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "and",
        "or",
        "in",
        "on",
        "for",
        "to",
        "with",
        "by",
        "from",
        "we",
        "our",
        "this",
        "that",
        "these",
        "is",
        "are",
        "be",
        "as",
        "at",
        "which",
        "it",
        "its",
        "their",
        "can",
        "has",
        "have",
        "not",
        "into",
        "via",
        "using",
        "based",
        "than",
        "such",
        "also",
        "more",
        "most",
        "both",
        "between",
        "while",
        "when",
        "where",
        "how",
        "what",
        "new",
        "show",
        "shows",
        "paper",
        "work",
        "results",
        "approach",
        "method",
        "methods",
        "model",
        "models",
        "propose",
        "proposed",
        "large",
        "data",
        "learning",
    ]
)


@functools.cache
def seed_keywords(seeds: Path = SEEDS, count: int = 600) -> tuple[str, ...]:
    """Keywords a researcher might follow, from the seed pages' titles: their most frequent
    two-word phrases and longer words (stop words left out), most frequent first."""
    from collections import Counter

    phrases: Counter[str] = Counter()
    words: Counter[str] = Counter()
    for file in sorted(seeds.glob("*.txt")):
        for title, _abstract in _seed_pairs(file.read_text(encoding="utf-8")):
            tokens = [t.lower() for t in title.replace(":", " ").split() if t.isalpha()]
            for a, b in itertools.pairwise(tokens):
                if a not in _STOP and b not in _STOP:
                    phrases[f"{a} {b}"] += 1
            words.update(t for t in tokens if t not in _STOP and len(t) > 5)
    ranked = [w for w, _ in phrases.most_common(count // 2)]
    ranked += [w for w, _ in words.most_common(count - len(ranked))]
    return tuple(ranked)
