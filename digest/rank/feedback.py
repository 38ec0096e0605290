"""Learning from a subscriber's votes ("more like this" / "not for me"): pure.

The votes move the profile's vector, Rocchio-style, towards the papers the reader liked and
away from those they did not:

    q' = unit(q + LIKE * mean(liked) - DISLIKE * mean(disliked))

with each vote weighed by its age (halved every HALF_LIFE_DAYS, counted back from the
newest vote, so the result does not depend on when it is computed). q is a unit vector and
the two means are at most LIKE and DISLIKE long, so the votes can turn the profile but never
replace it.

Closeness to the liked papers is also evidence of its own, a term of the blend
(digest.rank.hybrid) on the day's scale (`vote_lift`): each liked paper's cosines to the
day's candidates are z-scored over them (a liked paper in a crowded field is close to
everything there; what counts is being closer to it than the day's other papers are), each
weighed by that vote's age; a paper takes the mean of its LIKED_NEIGHBOURS best liked papers
(its nearest neighbours among them: interests are often several topics, which one centroid
blurs, and one liked paper touches several topics, so closeness to one of them alone is the
weaker evidence), and the result is z-scored again. Its weight grows with
the number of liked votes, n / (n + VOTES_FOR_HALF), up to VOTE_WEIGHT: one liked paper
weighs a third of the profile's keyword or meaning evidence, many at most as much as one
of them, so a profile's own keywords and meaning still decide. Measured on tests/rank/judged
(next-day MAP gained by votes) against the cosine to the nearest liked paper added to the
similarity, as before: tuning short profiles +0.036 -> +0.049, full -0.002 either way; held
out full +0.048 -> +0.055, short +0.027 -> +0.031 (`python -m tests.rank.judged.votes`).
Taking the best two liked papers instead of the best one: tuning short +0.049 -> +0.052,
full -0.002 -> -0.001; held out full +0.055 -> +0.050 (one day pair), short +0.031 ->
+0.032. What decided it is that the gain no longer hangs on the exact constants: with the
best one, VOTE_WEIGHT 0.75 or VOTES_FOR_HALF 4 gave tuning short +0.032 (one day pair whose
only relevant paper fell from first to second place); with the best two, VOTE_WEIGHT
0.75-1.25 and VOTES_FOR_HALF 1-4 all give +0.051-0.052.

"Not for me" turns the vector a little away, and a paper very like one the reader did not
want (cosine above NEAR_DUPLICATE) loses similarity. Nothing else: on the judged set a
paper close to a disliked one is relevant about as often as one equally close to a liked
one, up to a cosine of 0.55 (a reader dislikes the near misses at the top of a digest,
which sit on the topic), so pushing such papers down, or lowering keywords seen only in
disliked papers, cost MAP or changed nothing. Above 0.7 none of them was relevant.

Papers close to one the reader liked (cosine at least LIKED_FROM) are explained as "like
papers you marked".

The votes also feed the keyword side when meaning is off: the words most typical of the
liked papers (in at least two of them, by how many liked papers hold them times their IDF;
not the profile's own words) join the profile as a topic of their own, LIKED_WORDS of them at
LIKED_WORD_WEIGHT each. A paper sharing several of them gains keyword evidence; one of them
alone stays far under any min_score, so they lift papers rather than let new ones in.
Measured on tests/rank/judged (next day's MAP, keywords only): +0.03 for full and +0.01 for
short tuning profiles (held out +0.02, +0.08), where the earlier per-keyword weights (a
keyword that matched liked papers weighed more) changed nothing or cost a little, with or
without meaning, and were dropped. With meaning on, the same words cost held-out MAP.

Measured and not kept (python -m tests.rank.judged.vote_variants): moving the blend's
meaning weight towards whichever side agreed with the votes (with two keywords the liked
papers are the keyword matches, so weight went to keywords: tuning short +0.052 -> +0.040),
closeness to the disliked papers as a term (+0.036), an offset for meaning-only papers.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from digest.models import Paper, Profile, Term, Topic
from digest.rank.corpus import CorpusStats
from digest.rank.hits import Floats, Ints
from digest.rank.products import similarities, similarities_to_each
from digest.textmatch import stem

if TYPE_CHECKING:
    from digest.rank.semantic import Matrix, Vector

LIKE = 0.75  # fitted on the tuning interests of tests/rank/judged (0.25-1.0 within 0.02)
DISLIKE = 0.25
HALF_LIFE_DAYS = 30.0
LIKED_FROM = 0.6  # cosine to a liked paper from which a paper is "like papers you marked"
# The liked papers' term of the blend (in the day's standard deviations) and the liked votes
# at which it weighs half of that; tried 0.75-1.5 and 1-4: within 0.01 of each other.
VOTE_WEIGHT = 1.0
VOTES_FOR_HALF = 2.0
LIKED_NEIGHBOURS = 2  # a paper's closeness to the liked papers: the mean over its best two
# (3 measured the same; 1, the closest liked paper alone, hung on the two constants above)
NEAR_DUPLICATE = 0.7  # cosine to a disliked paper above which a paper is nearly that paper
DUPLICATE_PENALTY = 2.0  # similarity lost per unit of cosine above NEAR_DUPLICATE
LIKED_WORDS = 10  # the liked papers' typical words added to the keyword side
LIKED_WORD_WEIGHT = 0.25  # each one's weight (a profile's own keywords weigh 1)
LIKED_IN = 2  # a word must be in this many liked papers (all of them, when fewer)
LIKED_TOPIC = "like papers you marked"
_WORD = re.compile(r"[a-z][a-z\-]{3,}")
# Words of four letters or more that every paper uses: IDF weighs them little, but a liked
# paper's "typical words" should be about its subject.
_COMMON = frozenset([
    "this", "that", "with", "from", "which", "these", "their", "paper", "show", "shows",
    "using", "based", "model", "models", "method", "methods", "approach", "results", "propose",
    "proposed", "both", "such", "also", "than", "into", "more", "while", "when", "where",
    "other", "each", "have", "been", "were", "over", "under", "between", "however", "first",
    "three", "data", "learning",
])  # fmt: skip


@dataclass(frozen=True, slots=True)
class Vote:
    """One vote of one subscriber on one paper."""

    paper_id: str
    liked: bool
    at: dt.datetime


@dataclass(frozen=True, slots=True, eq=False)
class Adjustment:
    """What a subscriber's votes change: the profile's vector; the liked and the disliked
    papers' vectors, each with its vote's weight (its age)."""

    vector: Vector
    liked: Matrix
    liked_weights: Floats
    disliked: Matrix
    disliked_weights: Floats

    @classmethod
    def unchanged(cls, vector: Vector) -> Adjustment:
        """No votes: the profile's own vector."""
        none = np.zeros((0, len(vector)), dtype=np.float32)
        return cls(vector, none, np.zeros(0), none, np.zeros(0))


def decay(votes: Sequence[Vote]) -> list[float]:
    """Each vote's weight: 1 for the newest, halved every HALF_LIFE_DAYS before it."""
    if not votes:
        return []
    newest = max(v.at for v in votes)
    return [0.5 ** ((newest - v.at).total_seconds() / 86_400 / HALF_LIFE_DAYS) for v in votes]


def latest_votes(votes: Sequence[Vote]) -> list[Vote]:
    """One vote per paper: the latest counts."""
    latest: dict[str, Vote] = {}
    for vote in sorted(votes, key=lambda v: v.at):
        latest[vote.paper_id] = vote
    return list(latest.values())


def with_liked_words(
    profile: Profile, votes: Sequence[Vote], papers: Mapping[str, Paper], stats: CorpusStats
) -> Profile:
    """The profile with the liked papers' typical words as one more topic (LIKED_TOPIC);
    unchanged when there are none. `papers` gives the voted papers' texts, `stats` the IDF."""
    latest = latest_votes(votes)
    counts: dict[str, float] = {}
    spelled: dict[str, dict[str, int]] = {}
    liked = 0
    for vote, weight in zip(latest, decay(latest), strict=True):
        paper = papers.get(vote.paper_id)
        if not vote.liked or paper is None:
            continue
        liked += 1
        for key, word in _words(f"{paper.title} {paper.abstract}").items():
            counts[key] = counts.get(key, 0.0) + weight
            forms = spelled.setdefault(key, {})
            forms[word] = forms.get(word, 0) + 1
    own = {k for term in profile.all_terms for k in _words(term.text)}
    enough = min(LIKED_IN, liked) - 0.5 * (liked > 0)  # decayed counts: a little slack
    ranked = sorted(
        ((count * stats.idf(key), key) for key, count in counts.items()),
        key=lambda scored: (-scored[0], scored[1]),
    )
    chosen = [k for score, k in ranked if k not in own and counts[k] >= enough][:LIKED_WORDS]
    if not chosen:
        return profile
    terms = tuple(
        Term(max(spelled[k], key=lambda w: (spelled[k][w], w)), LIKED_WORD_WEIGHT) for k in chosen
    )
    return replace(profile, topics=(*profile.topics, Topic(LIKED_TOPIC, terms)))


def _words(text: str) -> dict[str, str]:
    """Stem -> its first spelling, for the words of `text` worth comparing papers by."""
    found: dict[str, str] = {}
    for word in _WORD.findall(text.lower()):
        if word not in _COMMON:
            found.setdefault(stem(word), word)
    return found


def adjust(
    profile_vector: Vector, votes: Sequence[Vote], vectors: Mapping[str, Vector]
) -> Adjustment:
    """The profile's vector moved by the votes whose papers have vectors (the others are
    ignored: a paper never embedded cannot teach anything)."""
    known = [v for v in latest_votes(votes) if v.paper_id in vectors]
    weights = decay(known)
    moved = np.asarray(profile_vector, dtype=np.float64).copy()
    dims = len(profile_vector)
    sides: dict[bool, tuple[Matrix, Floats]] = {}
    for wanted, factor in ((True, LIKE), (False, -DISLIKE)):
        chosen = [(v, w) for v, w in zip(known, weights, strict=True) if v.liked is wanted]
        rows = [vectors[v.paper_id] for v, _ in chosen]
        matrix = np.stack(rows).astype(np.float32) if rows else np.zeros((0, dims), np.float32)
        weighed = np.array([w for _, w in chosen], dtype=np.float64)
        sides[wanted] = matrix, weighed
        if chosen:
            moved += factor * (weighed @ matrix.astype(np.float64)) / weighed.sum()
    norm = float(np.linalg.norm(moved))
    unit = (moved / norm if norm > 1e-9 else np.asarray(profile_vector)).astype(np.float32)
    return Adjustment(unit, *sides[True], *sides[False])


@dataclass(frozen=True, slots=True, eq=False)
class Closeness:
    """The day's papers against the papers a subscriber voted on: one product (a few
    milliseconds per ten votes over 5,000 papers), read three times."""

    liked: Matrix  # cosine of each paper (row) to each liked paper (column)
    penalty: Floats  # per paper: the similarity it loses as a near copy of a disliked paper


def closeness(adjustment: Adjustment, matrix: Matrix) -> Closeness:
    """The day's papers (rows of `matrix`) against the voted papers. A paper loses
    DUPLICATE_PENALTY times how far its cosine to a disliked paper exceeds NEAR_DUPLICATE
    (weighed by that vote's age): tomorrow's near copy of a paper the reader did not want
    goes down with it."""
    liked = len(adjustment.liked)
    voted = np.concatenate([adjustment.liked, adjustment.disliked])
    both: Matrix = (
        similarities_to_each(matrix, voted)
        if len(voted)
        else np.zeros((len(matrix), 0), np.float32)
    )
    penalty = np.zeros(len(matrix), dtype=np.float64)
    if len(adjustment.disliked):
        excess = np.maximum(both[:, liked:] - NEAR_DUPLICATE, 0.0) * adjustment.disliked_weights
        penalty = DUPLICATE_PENALTY * excess.max(axis=1)
    return Closeness(both[:, :liked], penalty)


def voted_similarity(adjustment: Adjustment, matrix: Matrix, near: Closeness) -> Floats:
    """Each paper's (row of `matrix`) similarity to the moved profile vector, less its near
    copy penalty (`near` = closeness(adjustment, matrix))."""
    similarity: Floats = similarities(matrix, adjustment.vector).astype(np.float64)
    return similarity - near.penalty


def vote_lift(adjustment: Adjustment, near: Closeness, candidates: Ints) -> Floats | None:
    """The liked papers' term of the blend for the day's candidates (rows `candidates` of
    the matrix `near` was made from), on the day's scale and weighed by how many liked
    votes there are; None without any."""
    if not len(adjustment.liked) or len(candidates) < 2:
        return None
    to_liked = near.liked[candidates].astype(np.float64)
    nearest = _mean_of_best(_standardised(to_liked) * adjustment.liked_weights, LIKED_NEIGHBOURS)
    count = float(adjustment.liked_weights.sum())
    lift: Floats = VOTE_WEIGHT * count / (count + VOTES_FOR_HALF) * _standardised(nearest)
    return lift


def _mean_of_best(values: Floats, best: int) -> Floats:
    """Per row, the mean of its `best` largest values (of all of them, when fewer)."""
    if values.shape[1] <= best:
        means: Floats = values.mean(axis=1)
        return means
    largest: Floats = np.partition(values, -best, axis=1)[:, -best:].mean(axis=1)
    return largest


def _standardised(values: Floats) -> Floats:
    """Each column (or the one vector) as z-scores over its rows."""
    spread = values.std(axis=0)
    scaled: Floats = (values - values.mean(axis=0)) / np.where(spread > 1e-9, spread, 1.0)
    return scaled


def liked_neighbours(near: Closeness, ids: Sequence[str]) -> dict[str, float]:
    """Papers (of `ids`, the rows `near` was made from) close to one the reader liked ->
    that cosine."""
    if not near.liked.shape[1]:
        return {}
    closest = near.liked.max(axis=1)
    return {ids[n]: float(closest[n]) for n in np.flatnonzero(closest >= LIKED_FROM).tolist()}
