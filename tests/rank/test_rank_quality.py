"""The ranker must stay good on the hand-judged evaluation set (see tests/rank/evaluate.py).

Measured when written: mean nDCG@10 0.933 and P@10 0.93 (baseline 0.859 and 0.89).
The floors sit a little under that so tuning can move but not regress.

Measured again since (inflection matching, phrase gaps): nDCG@10 0.924, P@10 0.929, worst
profile 0.844. With IDF off 0.873 / 0.857 / 0.566, title weighting off 0.907 / 0.900 / 0.804,
both 0.897 / 0.900 / 0.753: the nDCG floor fails in each case (the title one by 0.003 only).
The ranker was tuned on this set; tests/rank/judged holds the floors that count.
"""

from __future__ import annotations

from tests.rank.evaluate import evaluate, mean

NDCG_FLOOR = 0.91
PRECISION_FLOOR = 0.90


def test_ranker_quality_floor_and_beats_baseline() -> None:
    results = evaluate()
    assert len(results) >= 6
    ours = [o for o, _ in results.values()]
    base = [b for _, b in results.values()]
    assert mean([s.ndcg for s in ours]) >= NDCG_FLOOR
    assert mean([s.precision for s in ours]) >= PRECISION_FLOOR
    assert mean([s.ndcg for s in ours]) > mean([s.ndcg for s in base]) + 0.03
    assert mean([s.precision for s in ours]) >= mean([s.precision for s in base])
    assert all(s.ndcg >= 0.8 for s in ours)  # no profile left badly served
