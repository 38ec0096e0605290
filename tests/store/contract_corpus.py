"""The CorpusCounts role's part of the store contract (mixed into StoreContract): counts
kept per day add up over a window, move with a paper counted again, survive reopening, and
papers stored without counts are found."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager

from digest.models import Paper
from digest.store.roles import Store, TermCounts

D1, D2, D3 = dt.date(2026, 11, 18), dt.date(2026, 11, 19), dt.date(2026, 11, 20)


def counts(documents: int, **freq: int) -> TermCounts:
    return TermCounts(documents, freq, {"title": 3 * documents, "abstract": 10 * documents})


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


class CorpusCountsContract:
    def test_an_empty_store_counts_nothing(self, store: Store) -> None:
        assert store.corpus_counts(D1) == TermCounts()
        assert store.counted_days(["a"]) == {}
        assert store.uncounted_papers(at(D1)) == []

    def test_days_add_up_from_the_first_day_asked(self, store: Store) -> None:
        store.count_papers(D1, ["a", "b"], counts(2, model=2, galaxi=1))
        store.count_papers(D2, ["c"], counts(1, model=1, sinkhorn=1))
        store.count_papers(D3, ["d"], counts(1, galaxi=1))

        assert store.corpus_counts(D2) == TermCounts(
            2, {"model": 1, "sinkhorn": 1, "galaxi": 1}, {"title": 6, "abstract": 20}
        )
        everything = store.corpus_counts(D1)
        assert everything.documents == 4
        assert dict(everything.doc_freq) == {"model": 3, "galaxi": 2, "sinkhorn": 1}
        assert store.corpus_counts(D3 + dt.timedelta(days=1)) == TermCounts()
        assert store.counted_days(["a", "c", "d", "zzz"]) == {"a": D1, "c": D2, "d": D3}

    def test_a_paper_counted_again_moves_to_its_new_day(
        self, store: Store, reopen: Callable[..., AbstractContextManager[Store]]
    ) -> None:
        store.count_papers(D1, ["a", "b"], counts(2, model=2, galaxi=1))
        # "a" is stored again on D3 (its abstract changed): what it added to D1 leaves D1
        store.count_papers(D3, ["a"], counts(1, model=1), uncounted={D1: counts(1, galaxi=1)})

        assert store.corpus_counts(D2) == counts(1, model=1)
        assert store.corpus_counts(D1) == TermCounts(2, {"model": 3}, {"title": 6, "abstract": 20})
        with reopen() as again:
            assert again.counted_days(["a", "b"]) == {"a": D3, "b": D1}
            assert again.corpus_counts(D1) == store.corpus_counts(D1)

    def test_papers_stored_without_counts_are_found_within_the_window(self, store: Store) -> None:
        papers = [Paper(id=i, title=f"T {i}", abstract="x") for i in ("old", "new", "counted")]
        store.save_papers(papers[:1], at(D1))
        store.save_papers(papers[1:], at(D3))
        store.count_papers(D3, ["counted"], counts(1, t=1))

        assert [s.paper.id for s in store.uncounted_papers(at(D2))] == ["new"]
        assert [s.paper.id for s in store.uncounted_papers(at(D1))] == ["old", "new"]
        assert store.uncounted_papers(at(D3, 13)) == []
