"""The CorpusCounts role (digest.store.roles) on PostgreSQL: corpus statistics per day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

from digest.store import postgres_rows as rows
from digest.store.corpus_rows import changed_days, decode, encode, summed
from digest.store.postgres_connection import Pool
from digest.store.roles import SeenPaper, TermCounts


class PostgresCorpus:
    """Mixed into PostgresStore, which provides `_db`."""

    _db: Pool

    def counted_days(self, paper_ids: Iterable[str]) -> dict[str, dt.date]:
        found = self._db.all(
            "SELECT paper_id, day FROM corpus_papers WHERE paper_id = ANY(%s)",
            (list(set(paper_ids)),),
        )
        return {paper_id: day for paper_id, day in found}

    def count_papers(
        self,
        day: dt.date,
        paper_ids: Sequence[str],
        counts: TermCounts,
        *,
        uncounted: Mapping[dt.date, TermCounts] | None = None,
    ) -> None:
        taken = dict(uncounted or {})
        touched = sorted({day, *taken})
        with self._db.transaction() as tx, tx.cursor() as cursor:
            # the touched days' rows are locked until commit: two writers add up, in turn
            found = cursor.execute(
                b"SELECT day, documents, words, doc_freq FROM corpus_days WHERE day = ANY(%s)"
                b" FOR UPDATE",
                (touched,),
            ).fetchall()
            stored = {d: decode(n, w, f) for d, n, w, f in found}
            for changed, new in changed_days(stored, day, counts, taken).items():
                cursor.execute(
                    b"INSERT INTO corpus_days (day, documents, words, doc_freq)"
                    b" VALUES (%s, %s, %s, %s) ON CONFLICT (day) DO UPDATE SET"
                    b" documents = excluded.documents, words = excluded.words,"
                    b" doc_freq = excluded.doc_freq",
                    (changed, *encode(new)),
                )
            if paper_ids:
                cursor.executemany(
                    b"INSERT INTO corpus_papers (paper_id, day) VALUES (%s, %s)"
                    b" ON CONFLICT (paper_id) DO UPDATE SET day = excluded.day",
                    [(paper_id, day) for paper_id in paper_ids],
                )

    def corpus_counts(self, since: dt.date) -> TermCounts:
        found = self._db.all(
            "SELECT documents, words, doc_freq FROM corpus_days WHERE day >= %s ORDER BY day",
            (since,),
        )
        return summed(decode(n, w, f) for n, w, f in found)

    def uncounted_papers(self, since: dt.datetime) -> list[SeenPaper]:
        found = self._db.all(
            "SELECT data, first_seen, last_seen FROM papers AS p WHERE last_seen >= %s AND"
            " NOT EXISTS (SELECT 1 FROM corpus_papers AS c WHERE c.paper_id = p.id)"
            " ORDER BY first_seen, seq",
            (rows.utc(since),),
        )
        return [rows.seen_paper(row) for row in found]
