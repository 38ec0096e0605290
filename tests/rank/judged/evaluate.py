"""Ranking quality on the judged set, through the code a run and a preview use.

    python -m tests.rank.judged.evaluate [--per-interest] [--votes]

All 324 papers are one "day": `digest.jobs.dayindex.build_day_index` indexes them (IDF from
the corpus itself) and `ranked_for` ranks them for each interest, exactly as a run or a
preview would, with `max_papers` raised so that the whole ranking is measured. Profiles:

- full:  the interest's keywords (with weights) and its description;
- short: the first two keywords, no description (what `digest preview -k A -k B` makes).

Methods: keywords (semantic matching off), semantic (papers by the profile's similarity
alone, from the day's semantic index), hybrid (the shipped blend). A paper is relevant at
grade >= 1; nDCG uses the grades. Tuning and held-out interests are reported apart:
never tune on the held-out ones.

With --votes: the reader marks the top 10 of one day (2/1 up, 0 down) and the next day's
papers are ranked with and without those votes (full and short profiles; hybrid, and
keywords alone with the votes of a keywords-only ranking).

Paper vectors are cached in vectors.npz beside this file (made by the shipped model from
corpus.json; rebuilt when missing or made by another model).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from digest.config.load import load_settings
from digest.config.profiles import profile_from_options
from digest.config.settings import Settings
from digest.jobs.dayindex import DayIndex, build_day_index, ranked_for
from digest.models import Paper, Profile, SeenPaper
from digest.rank.feedback import Vote
from digest.rank.semantic import MODEL_KEY, MemoryEmbeddingCache

from . import HERE, Interest, Judgements, load_corpus, load_grades, load_interests

VECTORS = HERE / "vectors.npz"
CUTOFF = 30
TOP = 10
KINDS = ("full", "short")
METHODS = ("keywords", "semantic", "hybrid")
EVERYTHING = 500  # max_papers for measuring: more than the corpus holds
SEEN_AT = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Scores:
    map: float
    ndcg: float
    precision: float


def average_precision(ranking: Sequence[str], grades: Mapping[str, int]) -> float:
    """AP over the papers graded >= 1 among `grades` (a relevant paper never ranked counts 0)."""
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


def precision(ranking: Sequence[str], grades: Mapping[str, int], cutoff: int = TOP) -> float:
    return sum(1 for p in ranking[:cutoff] if grades.get(p, 0) > 0) / cutoff


def measure(ranking: Sequence[str], grades: Mapping[str, int]) -> Scores:
    return Scores(
        average_precision(ranking, grades), ndcg(ranking, grades), precision(ranking, grades)
    )


def mean_scores(values: Sequence[Scores]) -> Scores:
    return Scores(
        statistics.mean(s.map for s in values),
        statistics.mean(s.ndcg for s in values),
        statistics.mean(s.precision for s in values),
    )


# --- The set as the project sees it -------------------------------------------------------


def papers() -> tuple[Paper, ...]:
    return tuple(Paper(id=p.id, title=p.title, abstract=p.abstract) for p in _judged_corpus())


@lru_cache(maxsize=1)
def _judged_corpus() -> tuple[Any, ...]:
    return load_corpus()


def day_of() -> dict[str, int]:
    return {p.id: p.day for p in _judged_corpus()}


def profile(interest: Interest, kind: str) -> Profile:
    """The interest as a subscriber's profile, read by the project's own profile reader."""
    if kind == "full":
        made = profile_from_options(interest.keywords, exclude=interest.exclude)
        return dataclasses.replace(made, description=interest.description, max_papers=EVERYTHING)
    return dataclasses.replace(profile_from_options(interest.short), max_papers=EVERYTHING)


def settings(*, semantic: bool) -> Settings:
    return dataclasses.replace(load_settings(None, env={}), semantic=semantic)


def vector_cache(corpus: Sequence[Paper]) -> MemoryEmbeddingCache:
    """The committed paper vectors as a cache, so building the day's index embeds nothing."""
    import numpy as np

    cache = MemoryEmbeddingCache()
    if VECTORS.exists():
        with np.load(VECTORS) as data:
            if str(data["model"]) == MODEL_KEY:
                ids = [str(i) for i in data["ids"]]
                if {p.id for p in corpus} <= set(ids):
                    cache.put(dict(zip(ids, data["vectors"], strict=True)), MODEL_KEY)
    return cache


def save_vectors(day: DayIndex) -> None:
    import numpy as np

    if day.semantic is not None and day.semantic.computed:
        np.savez(
            VECTORS,
            model=np.array(MODEL_KEY),
            ids=np.array(day.semantic.ids),
            vectors=day.semantic.matrix,
        )


def day_index(
    corpus: Sequence[Paper],
    profiles: Sequence[Profile],
    *,
    semantic: bool,
    cache: MemoryEmbeddingCache | None = None,
    background: Sequence[Paper] | None = None,
) -> DayIndex:
    seen = [SeenPaper(p, SEEN_AT, SEEN_AT) for p in corpus]
    return build_day_index(
        settings(semantic=semantic),
        seen,
        corpus=background,
        profiles=profiles,
        embeddings=cache if cache is not None else vector_cache(corpus),
    )


def ranking(
    day: DayIndex, subscriber: Profile, method: str, votes: Sequence[Vote] = ()
) -> list[str]:
    ids = frozenset(p.id for p in day.papers)
    if method == "semantic":
        assert day.semantic is not None, "semantic needs the [semantic] extra"
        scores = day.semantic.scores_for(subscriber)
        assert scores is not None
        return sorted(scores.similarity, key=lambda i: (-scores.similarity[i], i))
    found = ranked_for(day, subscriber, eligible=ids, updated=(), votes=votes)
    return [r.paper.id for r in found.ranked]


@dataclass(frozen=True)
class Setup:
    corpus: tuple[Paper, ...]
    interests: tuple[Interest, ...]
    grades: dict[str, Judgements]
    lexical: DayIndex
    hybrid: DayIndex


def setup() -> Setup:
    corpus = papers()
    interests = load_interests()
    profiles = [profile(i, k) for i in interests for k in KINDS]
    hybrid = day_index(corpus, profiles, semantic=True)
    save_vectors(hybrid)
    lexical = day_index(corpus, profiles, semantic=False)
    return Setup(corpus, interests, load_grades(), lexical, hybrid)


Results = dict[tuple[str, str, str], Scores]  # (interest, kind, method) -> scores


def evaluate(s: Setup, methods: Sequence[str] = METHODS) -> Results:
    results: Results = {}
    for interest in s.interests:
        grades = s.grades[interest.name].grades
        for kind in KINDS:
            subscriber = profile(interest, kind)
            for method in methods:
                day = s.lexical if method == "keywords" else s.hybrid
                results[(interest.name, kind, method)] = measure(
                    ranking(day, subscriber, method), grades
                )
    return results


def averaged(results: Results, interests: Sequence[Interest], kind: str, method: str) -> Scores:
    return mean_scores([results[(i.name, kind, method)] for i in interests])


def tuning(s: Setup) -> tuple[Interest, ...]:
    return tuple(i for i in s.interests if not i.held_out)


def held_out(s: Setup) -> tuple[Interest, ...]:
    return tuple(i for i in s.interests if i.held_out)


# --- Votes: mark one day's top 10, measure the next day -----------------------------------

VOTE_PAIRS = ((1, 2), (2, 3), (3, 4), (4, 5))


def votes_from_top(
    ranked: Sequence[str], grades: Mapping[str, int], at: dt.datetime, top: int = TOP
) -> list[Vote]:
    return [Vote(p, grades.get(p, 0) > 0, at) for p in ranked[:top]]


def next_day_map(
    s: Setup, interest: Interest, kind: str, *, semantic: bool = True, votes: bool = True
) -> tuple[float, float] | None:
    """Mean next-day MAP without and with the votes of the previous day, over the day
    pairs where the next day has relevant papers (hybrid; keywords alone if not
    `semantic`). With `votes` false the votes are not passed on: "with" is "without"."""
    grades = s.grades[interest.name].grades
    days = day_of()
    subscriber = profile(interest, kind)
    cache = vector_cache(s.corpus)
    before: list[float] = []
    after: list[float] = []
    for first, second in VOTE_PAIRS:
        today = [p for p in s.corpus if days[p.id] == first]
        tomorrow = [p for p in s.corpus if days[p.id] == second]
        wanted = {p.id: g for p, g in ((p, grades.get(p.id, 0)) for p in tomorrow) if g}
        if not wanted:
            continue
        marked_at = SEEN_AT + dt.timedelta(days=first)
        day_one = day_index(
            today, [subscriber], semantic=semantic, cache=cache, background=s.corpus
        )
        marked = votes_from_top(ranking(day_one, subscriber, "hybrid"), grades, marked_at)
        day_two = day_index(
            tomorrow, [subscriber], semantic=semantic, cache=cache, background=s.corpus
        )
        before.append(average_precision(ranking(day_two, subscriber, "hybrid"), wanted))
        passed = marked if votes else []
        after.append(average_precision(ranking(day_two, subscriber, "hybrid", passed), wanted))
    if not before:
        return None
    return statistics.mean(before), statistics.mean(after)


# --- Printing ------------------------------------------------------------------------------


def _row(label: str, scores: Scores) -> str:
    return f"{label:<34} {scores.map:6.3f} {scores.ndcg:8.3f} {scores.precision:6.2f}"


def report(s: Setup, results: Results, *, per_interest: bool, out: Callable[[str], Any]) -> None:
    out(f"{len(s.corpus)} papers as one day; {len(s.interests)} interests; model {MODEL_KEY}")
    out(f"{'':<34} {'MAP':>6} {'nDCG@30':>8} {'P@10':>6}")
    for group, members in (("tuning", tuning(s)), ("held-out", held_out(s))):
        for kind in KINDS:
            for method in METHODS:
                if per_interest:
                    for i in members:
                        out(_row(f"  {i.name} {kind} {method}", results[(i.name, kind, method)]))
                out(_row(f"{group} {kind} {method}", averaged(results, members, kind, method)))


def report_votes(s: Setup, out: Callable[[str], Any]) -> None:
    for semantic, label in ((True, "hybrid"), (False, "keywords")):
        out(f"{'next-day MAP (' + label + ')':<34} {'before':>6} {'after':>8}")
        for group, members in (("tuning", tuning(s)), ("held-out", held_out(s))):
            for kind in KINDS:
                pairs = [
                    m
                    for i in members
                    if (m := next_day_map(s, i, kind, semantic=semantic)) is not None
                ]
                b = statistics.mean(p[0] for p in pairs)
                a = statistics.mean(p[1] for p in pairs)
                out(f"{group + ' ' + kind:<34} {b:6.3f} {a:8.3f}  ({a - b:+.3f})")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--per-interest", action="store_true", help="a row per interest")
    parser.add_argument("--votes", action="store_true", help="also simulate votes")
    args: Any = parser.parse_args(argv)
    s = setup()
    report(s, evaluate(s), per_interest=args.per_interest, out=print)
    if args.votes:
        report_votes(s, print)


if __name__ == "__main__":
    main()
