"""Ranking quality on the hand-judged evaluation set: the ranker against a naive baseline.

    python -m tests.rank.evaluate

Prints nDCG@10 and precision@10 (a paper counts as relevant at grade >= 1) per profile and
on average. The baseline counts case-insensitive substring occurrences of each keyword in
title + abstract, times the keyword's weight, and drops papers containing an exclusion.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from digest.config.profiles import load_profile
from digest.models import Paper, Profile
from digest.rank.lexical import build_index, rank

EVAL = Path(__file__).parent / "eval"
CUTOFF = 10


@dataclass(frozen=True)
class Scores:
    ndcg: float
    precision: float


def load_corpus() -> tuple[Paper, ...]:
    rows = json.loads((EVAL / "corpus.json").read_text(encoding="utf-8"))
    return tuple(Paper(id=r["id"], title=r["title"], abstract=r["abstract"]) for r in rows)


def load_profiles() -> dict[str, Profile]:
    return {f.stem: load_profile(f) for f in sorted((EVAL / "profiles").glob("*.toml"))}


def load_judgements() -> dict[str, dict[str, int]]:
    with (EVAL / "judgements.toml").open("rb") as file:
        return tomllib.load(file)


def baseline(papers: Sequence[Paper], profile: Profile) -> list[str]:
    scored: list[tuple[float, str]] = []
    for paper in papers:
        text = f"{paper.title} {paper.abstract}".lower()
        if any(e.lower().rstrip("*") in text for e in profile.exclude):
            continue
        score = sum(t.weight * text.count(t.text.lower().rstrip("*")) for t in profile.all_terms)
        if score > 0:
            scored.append((-score, paper.id))
    return [paper_id for _, paper_id in sorted(scored)]


def measure(ranking: Sequence[str], grades: Mapping[str, int]) -> Scores:
    top = list(ranking[:CUTOFF])
    dcg = sum((2 ** grades.get(pid, 0) - 1) / math.log2(i + 2) for i, pid in enumerate(top))
    ideal = sorted(grades.values(), reverse=True)[:CUTOFF]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    hits = sum(1 for pid in top if grades.get(pid, 0) > 0)
    return Scores(dcg / idcg if idcg else 0.0, hits / CUTOFF)


def evaluate() -> dict[str, tuple[Scores, Scores]]:
    papers = load_corpus()
    index = build_index(papers)
    judgements = load_judgements()
    results: dict[str, tuple[Scores, Scores]] = {}
    for name, profile in load_profiles().items():
        grades = judgements[name]
        ranked = [r.paper.id for r in rank(index, profile)]
        results[name] = (measure(ranked, grades), measure(baseline(papers, profile), grades))
    return results


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def main() -> None:
    results = evaluate()
    print(f"{'profile':<16} {'nDCG@10':>8} {'base':>6}   {'P@10':>5} {'base':>5}")
    for name, (ours, base) in results.items():
        print(
            f"{name:<16} {ours.ndcg:8.3f} {base.ndcg:6.3f}   "
            f"{ours.precision:5.2f} {base.precision:5.2f}"
        )
    ours_all = [o for o, _ in results.values()]
    base_all = [b for _, b in results.values()]
    print(
        f"{'mean':<16} {mean([s.ndcg for s in ours_all]):8.3f} "
        f"{mean([s.ndcg for s in base_all]):6.3f}   "
        f"{mean([s.precision for s in ours_all]):5.2f} {mean([s.precision for s in base_all]):5.2f}"
    )


if __name__ == "__main__":
    main()
