"""Corpus statistics kept per day (digest.jobs.corpus) equal the statistics recomputed from
the window's papers, on a real SQLite store: with papers stored again (their text changed),
and with papers stored before counts were kept."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from support.stores import opened_store, sqlite_url

from digest.jobs.corpus import corpus_background, count_stored
from digest.models import HFSignals, Paper
from digest.rank.lexical import corpus_stats
from digest.store.roles import Store
from tests.rank.evaluate import load_corpus

START = dt.datetime(2026, 3, 1, 6, 0, tzinfo=dt.UTC)


def store_day(store: Store, papers: list[Paper], moment: dt.datetime) -> None:
    """What ingest does: save the papers, then count them on the day."""
    before = store.papers_by_id(p.id for p in papers)
    store.save_papers(papers, moment)
    count_stored(store, papers, before, moment.date())


def recomputed(store: Store, since: dt.datetime) -> object:
    return corpus_stats(s.paper for s in store.recent_papers(since))


def test_summed_days_equal_the_recomputed_window(tmp_path: Path) -> None:
    corpus = list(load_corpus())
    with opened_store(sqlite_url(tmp_path / "d.sqlite3")) as store:
        for day in range(5):
            todays = corpus[day * 50 : day * 50 + 60]  # ten papers of the day before again
            if day == 3:  # one of them with another abstract and HF keywords now
                todays[0] = dataclasses.replace(
                    todays[0],
                    abstract="Sinkhorn distances for optimal transport.",
                    hf=HFSignals(ai_keywords=("optimal transport",)),
                )
            store_day(store, todays, START + dt.timedelta(days=day))
        for first in range(5):
            since = dt.datetime.combine(
                (START + dt.timedelta(days=first)).date(), dt.time(), tzinfo=dt.UTC
            )
            assert corpus_background(store, since) == recomputed(store, since)
        assert store.uncounted_papers(START) == []


def test_papers_stored_before_counts_are_counted_once(tmp_path: Path) -> None:
    corpus = list(load_corpus())
    url = sqlite_url(tmp_path / "d.sqlite3")
    with opened_store(url) as store:
        store.save_papers(corpus[:80], START)  # an older digest saved without counting
        store.save_papers(corpus[80:120], START + dt.timedelta(days=1))
        since = START.replace(hour=0)
        expected = recomputed(store, since)
    with opened_store(url, readonly=True) as reader:
        assert corpus_background(reader, since, write=False) == expected
        assert len(reader.uncounted_papers(since)) == 120  # nothing written
    with opened_store(url) as store:
        assert corpus_background(store, since) == expected
        assert store.uncounted_papers(since) == []
        assert store.counted_days([corpus[0].id, corpus[100].id]) == {
            corpus[0].id: START.date(),
            corpus[100].id: (START + dt.timedelta(days=1)).date(),
        }
        assert corpus_background(store, since) == expected
        extra = corpus[200:210]
        with_extra = corpus_background(store, since, write=False, extra=extra)
        assert with_extra == corpus_stats([*(s.paper for s in store.recent_papers(since)), *extra])
