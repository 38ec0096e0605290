"""Moving an installation from one store to another (`digest db copy SRC DST`), e.g. from the
embedded SQLite file to a shared PostgreSQL.

Every table a digest's state lives in (subscribers, papers, source records, outbox, ledger,
runs, meta, embeddings) is read in batches through the Transfer role and written to the
destination with its ids, a row already there left as it is: copying twice changes nothing
the second time. Claims and job leases belong to running workers and are not copied. The
copy is verified by counting each table on both sides.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass

from digest.errors import StoreError
from digest.store import open_store
from digest.store.transfer import TABLES, Transfer
from digest.util.dburl import display_url


@dataclass(frozen=True, slots=True)
class TableCopy:
    table: str
    source_rows: int
    destination_rows: int
    copied: int  # rows the destination did not have before

    @property
    def matches(self) -> bool:
        return self.source_rows == self.destination_rows


@dataclass(frozen=True, slots=True)
class CopyReport:
    source: str
    destination: str
    tables: tuple[TableCopy, ...]

    @property
    def ok(self) -> bool:
        return all(t.matches for t in self.tables)


def copy_store(
    source: str, destination: str, *, progress: Callable[[str, int], None] | None = None
) -> CopyReport:
    """Copy every table of `source` into `destination` (migrated first); verify by counts.

    Raises StoreError when both name the same database or the schemas differ in version
    beyond what the destination's migrations bring (the source must be current: `digest db
    upgrade SRC`).
    """
    if source == destination:
        raise StoreError(f"{display_url(source)}: source and destination are the same database")
    with (
        closing(open_store(source, readonly=True)) as src_store,
        closing(open_store(destination)) as dst_store,
    ):
        src, dst = _transfer(src_store, source), _transfer(dst_store, destination)
        copies = []
        for table in TABLES:
            before = dst.row_count(table)
            for rows in src.table_rows(table):
                dst.insert_rows(table, rows)
                if progress is not None:
                    progress(table.name, len(rows))
            after = dst.row_count(table)
            copies.append(TableCopy(table.name, src.row_count(table), after, after - before))
    return CopyReport(display_url(source), display_url(destination), tuple(copies))


def upgrade_store(url: str) -> int:
    """Apply the migrations `url` lacks (opening does); the schema version it is now at."""
    with closing(open_store(url)) as store:
        return _transfer(store, url).schema_version()


def _transfer(store: object, url: str) -> Transfer:
    if not isinstance(store, Transfer):
        raise StoreError(f"{display_url(url)}: this backend cannot copy tables")
    return store
