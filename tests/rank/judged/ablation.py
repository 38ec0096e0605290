"""The judged set's figures with parts of the ranker switched off: IDF (every word weighs
the same), title weighting (a title counts as much as an abstract), or the semantic side.
What the floors test holds the real ranker against.

The switches are the index's own parameters (`build_index(background=..., field_boost=...)`)
and the day index without its semantic side: nothing in digest/ knows about them.

IDF is there for the words everyone uses. The interests' own keywords are all specific, so
on them IDF changes little (it even costs a little: the set is one field's papers, where
"diffusion" is common). The "+generic" profiles add the generic words a reader also types
(GENERIC, chosen before measuring, not from the relevant papers): with IDF they weigh little,
without it they flood the ranking."""

from __future__ import annotations

import dataclasses
import statistics
from types import MappingProxyType

from digest.jobs.dayindex import DayIndex
from digest.models import Profile, Term, Topic
from digest.rank.corpus import CorpusStats, corpus_stats
from digest.rank.lexical import build_index
from digest.rank.weights import FIELD_BOOST

from . import Interest
from .evaluate import Setup, average_precision, held_out, profile, ranking, setup, tuning

FLAT_FIELDS = MappingProxyType({f: 1.0 for f in FIELD_BOOST})
VARIANTS = ("shipped", "no-idf", "no-title-weight", "no-semantic")
GENERIC = ("model", "learning", "data", "method")


def subscriber(interest: Interest, kind: str) -> Profile:
    """`kind` is full or short, optionally with "+generic": GENERIC added at weight 1."""
    base, _, generic = kind.partition("+")
    made = profile(interest, base)
    if not generic:
        return made
    first, *rest = made.topics
    padded = Topic(first.name, first.terms + tuple(Term(g) for g in GENERIC))
    return dataclasses.replace(made, topics=(padded, *rest))


def no_idf(real: CorpusStats) -> CorpusStats:
    # no word is in any paper of the background: every word gets the same IDF
    return CorpusStats(documents=real.documents, doc_freq={}, avg_length=real.avg_length)


def day_for(s: Setup, variant: str) -> DayIndex:
    if variant == "shipped":
        return s.hybrid
    if variant == "no-semantic":
        return s.lexical
    stats = corpus_stats(s.corpus)
    if variant == "no-idf":
        index = build_index(s.corpus, background=no_idf(stats))
    else:
        index = build_index(s.corpus, background=stats, field_boost=FLAT_FIELDS)
    return dataclasses.replace(s.hybrid, index=index)


KINDS = ("full", "short", "full+generic", "short+generic")


def tuning_map(s: Setup, variant: str, kind: str) -> float:
    """Mean average precision over the tuning interests (held-out ones are never used)."""
    return group_map(s, variant, kind, tuning(s))


def group_map(s: Setup, variant: str, kind: str, interests: tuple[Interest, ...]) -> float:
    day = day_for(s, variant)
    method = "keywords" if variant == "no-semantic" else "hybrid"
    return statistics.mean(
        average_precision(ranking(day, subscriber(i, kind), method), s.grades[i.name].grades)
        for i in interests
    )


def main() -> None:
    """python -m tests.rank.judged.ablation: hybrid MAP with each part switched off."""
    s = setup()
    print(f"{'MAP (hybrid)':<34} {'tuning':>7} {'held-out':>9}")
    for kind in KINDS:
        for variant in VARIANTS:
            tuned, held = (group_map(s, variant, kind, g) for g in (tuning(s), held_out(s)))
            print(f"{kind + ' ' + variant:<34} {tuned:7.3f} {held:9.3f}", flush=True)


if __name__ == "__main__":
    main()
