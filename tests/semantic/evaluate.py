"""Lexical, semantic and hybrid ranking on the hand-judged evaluation set (tests/rank/eval/).

    python -m tests.semantic.evaluate [--recompute] [--fusion]

Prints MAP and nDCG@30 per method, for the judged profiles as written ("full") and cut
down to their first two keywords with no description ("short": what `digest subscribe
-k A -k B` makes). A paper counts as relevant at grade >= 1; nDCG uses the grades.

- lexical: `rank()`, the keyword ranker.
- semantic: every paper by cosine similarity to the profile's text alone.
- hybrid: `hybrid_rank()`, the blend shipped in digest/hybrid.py.
- rrf (with --fusion): reciprocal rank fusion of the lexical and semantic lists, the
  alternative the blend was measured against.

The papers' vectors come from tests/rank/eval/corpus_vectors.npz, made by this model from
corpus.json (`--recompute` embeds the corpus again and rewrites it, ~1 minute on 2 cores);
profile vectors are always computed by the live model.
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from digest.models import Paper, Profile, Topic
from digest.rank.hybrid import DEFAULT_BLEND, Blend, hybrid_rank
from digest.rank.lexical import PaperIndex, build_index, rank
from digest.rank.semantic import (
    MODEL_KEY,
    Embedder,
    MemoryEmbeddingCache,
    SemanticIndex,
    SemanticScores,
    TextEmbedder,
)
from tests.rank.evaluate import EVAL, load_corpus, load_judgements, load_profiles

VECTORS = EVAL / "corpus_vectors.npz"
CUTOFF = 30
RRF_K = 60  # the usual constant; 10-100 measured within 0.01 here
RRF_ENTRY, RRF_MOST = 0.45, 10  # the gate the former blend used for meaning-only papers
METHODS = ("lexical", "semantic", "hybrid")
VARIANTS = ("full", "short", "short+desc")


@dataclass(frozen=True)
class Scores:
    map: float
    ndcg: float


def average_precision(ranking: Sequence[str], grades: Mapping[str, int]) -> float:
    relevant = sum(1 for g in grades.values() if g > 0)
    hits, total = 0, 0.0
    for position, paper_id in enumerate(ranking, start=1):
        if grades.get(paper_id, 0) > 0:
            hits += 1
            total += hits / position
    return total / relevant if relevant else 0.0


def ndcg(ranking: Sequence[str], grades: Mapping[str, int], cutoff: int = CUTOFF) -> float:
    dcg = sum(
        (2 ** grades.get(p, 0) - 1) / math.log2(i + 2) for i, p in enumerate(ranking[:cutoff])
    )
    ideal = sorted(grades.values(), reverse=True)[:cutoff]
    best = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / best if best else 0.0


def short_profile(profile: Profile) -> Profile:
    """The first two keywords, no description: a profile typed on the command line."""
    return replace(profile, topics=(Topic("short", profile.all_terms[:2]),), description="")


def semantic_ranking(scores: SemanticScores) -> list[str]:
    return sorted(scores.similarity, key=lambda i: (-scores.similarity[i], i))


def rrf_ranking(lexical: Sequence[str], scores: SemanticScores, blend: Blend) -> list[str]:
    """Reciprocal rank fusion; a paper only the semantic list holds must pass the same gate
    as in the blend (`entry`, at most `most_by_meaning`), so the two compare fairly."""
    fused: dict[str, float] = {}
    for position, paper_id in enumerate(lexical, start=1):
        fused[paper_id] = 1.0 / (RRF_K + position)
    let_in = RRF_MOST
    for position, paper_id in enumerate(semantic_ranking(scores), start=1):
        if paper_id not in fused:
            if scores.similarity[paper_id] < RRF_ENTRY or let_in <= 0:
                continue
            let_in -= 1
        fused[paper_id] = fused.get(paper_id, 0.0) + 1.0 / (RRF_K + position)
    return sorted(fused, key=lambda i: (-fused[i], i))


def load_vectors(papers: Sequence[Paper]) -> MemoryEmbeddingCache:
    """The committed corpus vectors as a cache, so SemanticIndex.build embeds nothing."""
    import numpy as np

    cache = MemoryEmbeddingCache()
    if not VECTORS.exists():
        return cache
    with np.load(VECTORS) as data:
        if str(data["model"]) != MODEL_KEY:
            return cache
        ids = [str(i) for i in data["ids"]]
        cache.put(dict(zip(ids, data["vectors"], strict=True)), MODEL_KEY)
    wanted = {p.id for p in papers}
    return cache if wanted <= set(ids) else MemoryEmbeddingCache()


def save_vectors(index: SemanticIndex) -> None:
    import numpy as np

    np.savez(VECTORS, model=np.array(MODEL_KEY), ids=np.array(index.ids), vectors=index.matrix)


@dataclass
class Setup:
    papers: tuple[Paper, ...]
    index: PaperIndex
    semantic: SemanticIndex
    profiles: dict[str, Profile]
    judgements: dict[str, dict[str, int]]


def setup(embedder: TextEmbedder, *, recompute: bool = False, save: bool = False) -> Setup:
    papers = load_corpus()
    cache = MemoryEmbeddingCache() if recompute else load_vectors(papers)
    semantic = SemanticIndex.build(papers, embedder, cache)
    if semantic.computed and save:
        save_vectors(semantic)
    return Setup(papers, build_index(papers), semantic, load_profiles(), load_judgements())


def rankings(s: Setup, profile: Profile, blend: Blend = DEFAULT_BLEND) -> dict[str, list[str]]:
    scores = s.semantic.scores_for(profile)
    assert scores is not None
    lexical = [r.paper.id for r in rank(s.index, profile)]
    hybrid = hybrid_rank(s.index, profile, s.papers, semantic=scores, blend=blend)
    return {
        "lexical": lexical,
        "semantic": semantic_ranking(scores),
        "hybrid": [r.paper.id for r in hybrid],
        "rrf": rrf_ranking(lexical, scores, blend),
    }


def evaluate(s: Setup, blend: Blend = DEFAULT_BLEND) -> dict[tuple[str, str], Scores]:
    """(method, variant) -> mean scores over the judged profiles."""
    collected: dict[tuple[str, str], list[Scores]] = {}
    for name, full in s.profiles.items():
        grades = s.judgements[name]
        short = short_profile(full)
        described = replace(short, description=full.description)
        for variant, profile in (("full", full), ("short", short), ("short+desc", described)):
            for method, ranking in rankings(s, profile, blend).items():
                scores = Scores(average_precision(ranking, grades), ndcg(ranking, grades))
                collected.setdefault((method, variant), []).append(scores)
    return {
        key: Scores(statistics.mean(s.map for s in values), statistics.mean(s.ndcg for s in values))
        for key, values in collected.items()
    }


def table(results: Mapping[tuple[str, str], Scores], methods: Sequence[str]) -> str:
    lines = [
        f"{'method':<10} " + "  ".join(f"{v + ' MAP':>10} {v + ' nDCG@30':>13}" for v in VARIANTS)
    ]
    for method in methods:
        cells = [
            f"{results[(method, v)].map:14.3f} {results[(method, v)].ndcg:18.3f}" for v in VARIANTS
        ]
        lines.append(f"{method:<10} " + "  ".join(cells))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--recompute", action="store_true", help="embed the corpus again")
    parser.add_argument("--fusion", action="store_true", help="also show reciprocal rank fusion")
    args: Any = parser.parse_args(argv)
    embedder = Embedder()
    s = setup(embedder, recompute=args.recompute, save=True)
    results = evaluate(s)
    print(f"{len(s.papers)} papers, {len(s.profiles)} judged profiles; model {MODEL_KEY}")
    print(table(results, (*METHODS, "rrf") if args.fusion else METHODS))


if __name__ == "__main__":
    main()
