"""Where votes can and cannot help, on the judged set (for reading, not a test):

    python -m tests.rank.judged.votes [--pairs]

For each group (tuning / held out, full / short profiles), with meaning: the day pairs
(votes on day N's top 10, MAP on day N+1), how many are already at MAP 1.0 without votes,
how many have no liked paper to learn from (no relevant paper in day N's top 10), and the
most votes could gain if every pair with a liked paper reached 1.0. Then, over the tuning
interests, how often a next-day paper is relevant against its cosine to the closest liked
and the closest disliked paper: the evidence behind digest.rank.feedback's design (a liked
paper's neighbours are relevant from a cosine of about 0.55 on; a disliked paper's are
relevant about as often as anything on the topic, except near copies above 0.7).
`--pairs` prints every pair's MAP without and with votes. `--compare` puts each pair's
hybrid figures beside those of keywords alone (each with the votes of its own ranking), and
splits the difference between their gains: pairs the hybrid already had at MAP 1.0 (no room
to gain), pairs keywords alone had at 0 (nothing to lose), and the rest.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

from digest.jobs.dayindex import DayIndex
from digest.rank.feedback import Vote
from digest.rank.semantic import MODEL_KEY

from .evaluate import (
    KINDS,
    SEEN_AT,
    VOTE_PAIRS,
    Setup,
    average_precision,
    day_index,
    day_of,
    held_out,
    profile,
    ranking,
    setup,
    tuning,
    vector_cache,
    votes_from_top,
)

Pair = tuple[str, str, int]  # interest, kind, first day


def pairs(s: Setup, *, semantic: bool = True) -> dict[Pair, tuple[float, float, list[Vote]]]:
    """Every (interest, kind, day) pair whose next day has relevant papers -> MAP without
    and with the votes, and the votes (with meaning, or by keywords alone)."""
    days = day_of()
    everyone = [profile(i, k) for i in s.interests for k in KINDS]
    vectors = vector_cache(s.corpus)

    @cache
    def day(n: int) -> DayIndex:
        papers = [p for p in s.corpus if days[p.id] == n]
        return day_index(papers, everyone, semantic=semantic, cache=vectors, background=s.corpus)

    found: dict[Pair, tuple[float, float, list[Vote]]] = {}
    for interest in s.interests:
        grades = s.grades[interest.name].grades
        for kind in KINDS:
            subscriber = profile(interest, kind)
            for first, second in VOTE_PAIRS:
                wanted = {p.id: grades[p.id] for p in day(second).papers if grades.get(p.id)}
                if not wanted:
                    continue
                at = SEEN_AT + dt.timedelta(days=first)
                votes = votes_from_top(ranking(day(first), subscriber, "hybrid"), grades, at)
                before = average_precision(ranking(day(second), subscriber, "hybrid"), wanted)
                after = average_precision(ranking(day(second), subscriber, "hybrid", votes), wanted)
                found[(interest.name, kind, first)] = (before, after, votes)
    return found


def headroom(s: Setup, found: dict[Pair, tuple[float, float, list[Vote]]], out: Any) -> None:
    for group, members in (("tuning", tuning(s)), ("held-out", held_out(s))):
        names = {i.name for i in members}
        for kind in KINDS:
            per: dict[str, list[tuple[float, float, bool]]] = defaultdict(list)
            for (name, k, _), (before, after, votes) in found.items():
                if name in names and k == kind:
                    per[name].append((before, after, any(v.liked for v in votes)))
            rows = [r for v in per.values() for r in v]
            mean = statistics.mean
            before = mean(mean(r[0] for r in v) for v in per.values())
            after = mean(mean(r[1] for r in v) for v in per.values())
            ceiling = mean(mean(1.0 if r[2] else r[0] for r in v) for v in per.values())
            out(
                f"{group} {kind}: {len(rows)} pairs, {sum(r[0] >= 0.9999 for r in rows)} at "
                f"1.0 without votes, {sum(not r[2] for r in rows)} without a liked paper; "
                f"MAP {before:.3f} -> {after:.3f} ({after - before:+.3f}); at most "
                f"{ceiling - before:+.3f} if every pair with a liked paper reached 1.0"
            )


def closeness_table(s: Setup, found: dict[Pair, tuple[float, float, list[Vote]]], out: Any) -> None:
    days = day_of()
    vectors = vector_cache(s.corpus)
    matrix = vectors.get([p.id for p in s.corpus], MODEL_KEY)
    counts: dict[tuple[str, float], list[int]] = defaultdict(lambda: [0, 0])
    tuned = {i.name for i in tuning(s)}
    for (name, _, first), (_, _, votes) in found.items():
        if name not in tuned:
            continue
        grades = s.grades[name].grades
        tomorrow = [p.id for p in s.corpus if days[p.id] == first + 1]
        rows = np.stack([matrix[i] for i in tomorrow])
        for liked, label in ((True, "liked"), (False, "disliked")):
            voted = [matrix[v.paper_id] for v in votes if v.liked is liked]
            if not voted:
                continue
            closest = (rows @ np.stack(voted).T).max(axis=1)
            for paper_id, cosine in zip(tomorrow, closest.tolist(), strict=True):
                band = min(int(cosine * 20) / 20, 0.7)
                cell = counts[(label, band)]
                cell[0] += grades.get(paper_id, 0) > 0
                cell[1] += 1
    out("next-day papers relevant, by cosine to the closest voted paper (tuning interests):")
    for label in ("liked", "disliked"):
        cells = sorted((band, c) for (lab, band), c in counts.items() if lab == label)
        out(
            f"  {label:<9}"
            + "  ".join(f"{band:.2f}+: {c[0]}/{c[1]}" for band, c in cells if band >= 0.3)
        )


def compare(s: Setup, found: dict[Pair, tuple[float, float, list[Vote]]], out: Any) -> None:
    """Each pair's gain with meaning beside its gain by keywords alone, and where the
    difference of the groups' gains comes from (in MAP of the group: per interest, then
    averaged, as evaluate.py does)."""
    alone = pairs(s, semantic=False)
    for group, members in (("tuning", tuning(s)), ("held-out", held_out(s))):
        for kind in KINDS:
            parts = {"hybrid at 1.0": 0.0, "keywords at 0": 0.0, "the rest": 0.0}
            out(f"{group} {kind}: hybrid liked before -> after | keywords liked before -> after")
            for interest in members:
                mine = sorted(k for k in found if k[0] == interest.name and k[1] == kind)
                for key in mine:
                    hb, ha, hv = found[key]
                    kb, ka, kv = alone[key]
                    where = (
                        "hybrid at 1.0"
                        if hb >= 0.9999
                        else "keywords at 0"
                        if kb <= 0
                        else "the rest"
                    )
                    parts[where] += ((ha - hb) - (ka - kb)) / len(mine) / len(members)
                    out(
                        f"  {interest.name:<20} day {key[2]}: {sum(v.liked for v in hv)} "
                        f"{hb:.3f} -> {ha:.3f} ({ha - hb:+.3f}) | {sum(v.liked for v in kv)} "
                        f"{kb:.3f} -> {ka:.3f} ({ka - kb:+.3f})"
                    )
            split = ", ".join(f"{name} {value:+.3f}" for name, value in parts.items())
            out(f"  hybrid's gain minus keywords' gain {sum(parts.values()):+.3f}: {split}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pairs", action="store_true", help="every pair's MAP")
    parser.add_argument("--compare", action="store_true", help="beside keywords alone")
    args: Any = parser.parse_args(argv)
    s = setup()
    found = pairs(s)
    if args.pairs:
        for (name, kind, first), (before, after, votes) in sorted(found.items()):
            liked = sum(v.liked for v in votes)
            print(f"  {name} {kind} day {first}: {liked} liked, {before:.3f} -> {after:.3f}")
    if args.compare:
        compare(s, found, print)
    headroom(s, found, print)
    closeness_table(s, found, print)


if __name__ == "__main__":
    main()
