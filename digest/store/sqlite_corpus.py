"""The CorpusCounts role (digest.store.roles) on SQLite: corpus statistics per day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

from digest.store import sqlite_rows as rows
from digest.store.corpus_rows import changed_days, decode, encode, summed
from digest.store.roles import SeenPaper, TermCounts
from digest.store.sqlite_connection import Connection


class SqliteCorpus:
    """Mixed into SqliteStore, which provides `_db`."""

    _db: Connection

    def counted_days(self, paper_ids: Iterable[str]) -> dict[str, dt.date]:
        found = self._db.rows_in(
            "SELECT paper_id, day FROM corpus_papers WHERE paper_id IN ({marks})", paper_ids
        )
        return {paper_id: rows.day(day) for paper_id, day in found}

    def count_papers(
        self,
        day: dt.date,
        paper_ids: Sequence[str],
        counts: TermCounts,
        *,
        uncounted: Mapping[dt.date, TermCounts] | None = None,
    ) -> None:
        taken = dict(uncounted or {})
        touched = [d.isoformat() for d in {day, *taken}]
        with self._db.transaction() as tx:
            marks = ", ".join("?" * len(touched))
            found = tx.execute(
                f"SELECT day, documents, words, doc_freq FROM corpus_days WHERE day IN ({marks})",
                touched,
            ).fetchall()
            stored = {rows.day(d): decode(n, w, f) for d, n, w, f in found}
            for changed, new in changed_days(stored, day, counts, taken).items():
                tx.execute(
                    "INSERT INTO corpus_days (day, documents, words, doc_freq) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (day) DO UPDATE SET documents = excluded.documents,"
                    " words = excluded.words, doc_freq = excluded.doc_freq",
                    (changed.isoformat(), *encode(new)),
                )
            tx.executemany(
                "INSERT INTO corpus_papers (paper_id, day) VALUES (?, ?)"
                " ON CONFLICT (paper_id) DO UPDATE SET day = excluded.day",
                [(paper_id, day.isoformat()) for paper_id in paper_ids],
            )

    def corpus_counts(self, since: dt.date) -> TermCounts:
        found = self._db.all(
            "SELECT documents, words, doc_freq FROM corpus_days WHERE day >= ? ORDER BY day",
            (since.isoformat(),),
        )
        return summed(decode(n, w, f) for n, w, f in found)

    def uncounted_papers(self, since: dt.datetime) -> list[SeenPaper]:
        found = self._db.all(
            "SELECT data, first_seen, last_seen FROM papers WHERE last_seen >= ? AND NOT EXISTS"
            " (SELECT 1 FROM corpus_papers AS c WHERE c.paper_id = papers.id)"
            " ORDER BY first_seen, rowid",
            (rows.stamp(since),),
        )
        return [rows.seen_paper(row) for row in found]
