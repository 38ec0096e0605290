"""Ways of using votes that were measured and not shipped, beside the shipped one (for
reading, not a test):

    python -m tests.rank.judged.vote_variants [--pairs]

Each variant is the shipped ranker with one part wrapped (nothing in digest/ knows about
them); the figures are next-day MAP without and with the votes of the day before (the top
10 marked by the grades), per group, as `python -m tests.rank.judged.evaluate --votes`
prints them. `--pairs` lists the tuning pairs whose MAP with votes differs from the
shipped ranker's. The variants:

- agreement: votes tell which evidence agrees with the reader. Per subscriber, the voted
  papers' keyword and meaning z-scores (over their own day's candidates: the best case, a
  run only has today's) are compared, liked against disliked; the meaning weight of the
  blend is multiplied by exp(C * (agreement of meaning - agreement of keywords)), shrunk
  by m / (m + 4) with m the smaller of the liked and disliked counts, bounded to 1/2..2.
  `agreement-` is the same with the sign turned (weight moves to the side that agreed
  less), to show that the direction, not only the size, decides.
- disliked-centroid: closeness to the disliked papers as a term of its own, the mirror of
  the liked papers' term (digest.rank.feedback.vote_lift), subtracted at a quarter of its
  weight.
- meaning-only-offset: once a liked paper had no keyword evidence on its day, every
  candidate without keyword evidence gains 1 (in the day's standard deviations) times the
  share of liked papers that had none (over liked + 2).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from typing import Any

import numpy as np
import pytest

from digest.jobs import dayindex
from digest.models import Profile
from digest.rank import personal
from digest.rank.feedback import Vote, _mean_of_best, _standardised
from digest.rank.hybrid import DEFAULT_BLEND, Blend, lexical_side
from digest.rank.products import similarities_to_each

from . import votes as vote_pairs
from .evaluate import (
    KINDS,
    Setup,
    day_index,
    day_of,
    held_out,
    profile,
    setup,
    tuning,
    vector_cache,
)

AGREEMENT = 0.5  # C above
AGREEMENT_SHRINK = 4.0
DISLIKED_WEIGHT = 0.25
MEANING_ONLY_OFFSET = 1.0
Found = dict[vote_pairs.Pair, tuple[float, float, list[Vote]]]


@contextlib.contextmanager
def _replaced(*replacements: tuple[Any, str, Any]) -> Iterator[None]:
    """Each (module, name, value) in place while the block runs: a variant's wrapped parts."""
    with pytest.MonkeyPatch.context() as patch:
        for module, name, value in replacements:
            patch.setattr(module, name, value)
        yield


def _wrapped_ranking(ranked: Any, blend: Any) -> contextlib.AbstractContextManager[None]:
    """The day's ranking with meaning and the blend of its top, both wrapped."""
    return _replaced((personal, "ranked_with_meaning", ranked), (personal, "blend_top", blend))


class OwnDay:
    """The judged set's days as the simulation builds them, and each voted paper's keyword
    and meaning z-scores for a profile over its own day's candidates."""

    def __init__(self, s: Setup) -> None:
        self.days = day_of()
        self.s = s
        everyone = [profile(i, k) for i in s.interests for k in KINDS]
        vectors = vector_cache(s.corpus)

        @cache
        def built(n: int) -> dayindex.DayIndex:
            papers = [p for p in s.corpus if self.days[p.id] == n]
            return day_index(papers, everyone, semantic=True, cache=vectors, background=s.corpus)

        self.built = built
        self._z: dict[tuple[int, Profile], dict[str, tuple[float, float, float]]] = {}

    def z(self, paper_id: str, subscriber: Profile) -> tuple[float, float, float]:
        """(z of the keyword evidence, z of the similarity, keyword points) on its day."""
        n = self.days[paper_id]
        key = (n, subscriber)
        if key not in self._z:
            day = self.built(n)
            assert day.semantic is not None
            scores = day.semantic.scores_for(subscriber)
            assert scores is not None
            side = lexical_side(day.index, subscriber, day.papers, scores)
            similarity = np.array([scores.similarity[day.index.ids[d]] for d in side.pool])
            z_meaning = (similarity - similarity.mean()) / max(float(similarity.std()), 1e-9)
            self._z[key] = {
                day.index.ids[d]: (float(zl), float(zs), float(points))
                for d, zl, zs, points in zip(
                    side.pool.tolist(), side.z_lexical, z_meaning, side.points, strict=True
                )
            }
        return self._z[key][paper_id]


@contextlib.contextmanager
def agreement(own: OwnDay, sign: float) -> Iterator[None]:
    shipped_rank, shipped_blend = personal.ranked_with_meaning, personal.blend_top
    current = [DEFAULT_BLEND]

    def ranked(*args: Any, **kwargs: Any) -> Any:
        votes: Sequence[Vote] = kwargs.get("votes", ())
        subscriber: Profile = args[3]
        liked = [own.z(v.paper_id, subscriber) for v in votes if v.liked]
        disliked = [own.z(v.paper_id, subscriber) for v in votes if not v.liked]
        weight = 1.0
        if liked and disliked:
            mean = statistics.mean
            by_keywords = mean(z[0] for z in liked) - mean(z[0] for z in disliked)
            by_meaning = mean(z[1] for z in liked) - mean(z[1] for z in disliked)
            fewer = min(len(liked), len(disliked))
            shift = sign * AGREEMENT * (by_meaning - by_keywords) * fewer
            shift /= fewer + AGREEMENT_SHRINK
            weight = math.exp(max(-math.log(2), min(math.log(2), shift)))
        current[0] = Blend(meaning=weight)
        try:
            return shipped_rank(*args, **kwargs)
        finally:
            current[0] = DEFAULT_BLEND

    def blend(*args: Any, **kwargs: Any) -> Any:
        return shipped_blend(*args, blend=current[0], **kwargs)

    with _wrapped_ranking(ranked, blend):
        yield


@contextlib.contextmanager
def disliked_centroid(own: OwnDay) -> Iterator[None]:
    del own
    shipped_closeness, shipped_lift = personal.closeness, personal.vote_lift
    matrix: list[Any] = [None]

    def closeness(adjustment: Any, day_matrix: Any) -> Any:
        matrix[0] = day_matrix
        return shipped_closeness(adjustment, day_matrix)

    def lift(adjustment: Any, near: Any, candidates: Any) -> Any:
        made = shipped_lift(adjustment, near, candidates)
        if made is None or not len(adjustment.disliked):
            return made
        to_disliked = similarities_to_each(matrix[0], adjustment.disliked)[candidates]
        weights = adjustment.disliked_weights
        closest = _mean_of_best(_standardised(to_disliked.astype(np.float64)) * weights, 2)
        count = float(weights.sum())
        return made - DISLIKED_WEIGHT * count / (count + 2.0) * _standardised(closest)

    with _replaced((personal, "closeness", closeness), (personal, "vote_lift", lift)):
        yield


@contextlib.contextmanager
def meaning_only_offset(own: OwnDay) -> Iterator[None]:
    shipped_rank, shipped_blend = personal.ranked_with_meaning, personal.blend_top
    offset = [0.0]

    def ranked(*args: Any, **kwargs: Any) -> Any:
        votes: Sequence[Vote] = kwargs.get("votes", ())
        subscriber: Profile = args[3]
        liked = [own.z(v.paper_id, subscriber) for v in votes if v.liked]
        without = sum(z[2] <= 0 for z in liked)
        offset[0] = MEANING_ONLY_OFFSET * without / (len(liked) + 2.0)
        try:
            return shipped_rank(*args, **kwargs)
        finally:
            offset[0] = 0.0

    def blend(side: Any, semantic: Any, **kwargs: Any) -> Any:
        lift = kwargs.pop("lift", None)
        if lift is not None and offset[0]:
            lift = lift + offset[0] * ~side.found
        return shipped_blend(side, semantic, lift=lift, **kwargs)

    with _wrapped_ranking(ranked, blend):
        yield


VARIANTS: dict[str, Callable[[OwnDay], contextlib.AbstractContextManager[None]]] = {
    "shipped": lambda own: contextlib.nullcontext(),
    "agreement": lambda own: agreement(own, 1.0),
    "agreement-": lambda own: agreement(own, -1.0),
    "disliked-centroid": disliked_centroid,
    "meaning-only-offset": meaning_only_offset,
}


def gains(s: Setup, found: Found) -> list[str]:
    """Per group: next-day MAP without -> with votes, per interest then averaged."""
    cells = []
    for group, members in (("tuning", tuning(s)), ("held out", held_out(s))):
        names = {i.name for i in members}
        for kind in ("full", "short"):
            per: dict[str, list[tuple[float, float]]] = defaultdict(list)
            for (name, k, _), (before, after, _votes) in found.items():
                if name in names and k == kind:
                    per[name].append((before, after))
            b = statistics.mean(statistics.mean(p[0] for p in v) for v in per.values())
            a = statistics.mean(statistics.mean(p[1] for p in v) for v in per.values())
            cells.append(f"{group} {kind} {b:.3f} -> {a:.3f} ({a - b:+.3f})")
    return cells


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pairs", action="store_true", help="tuning pairs that change")
    args: Any = parser.parse_args(argv)
    s = setup()
    own = OwnDay(s)
    shipped = vote_pairs.pairs(s)
    tuned = {i.name for i in tuning(s)}
    for name, variant in VARIANTS.items():
        with variant(own):
            found = vote_pairs.pairs(s)
        print(f"{name:<20} " + " | ".join(gains(s, found)), flush=True)
        if args.pairs:
            for key in sorted(k for k in found if k[0] in tuned):
                if abs(found[key][1] - shipped[key][1]) > 1e-9:
                    print(f"    {key[0]} {key[1]} day {key[2]}: ", end="")
                    print(f"{shipped[key][1]:.3f} -> {found[key][1]:.3f}")


if __name__ == "__main__":
    main()
