"""The Transfer role (digest.store.transfer) on PostgreSQL: whole tables in the neutral shape.

PostgreSQL's types are the neutral ones already; what is left is moments read back in UTC,
paper ids as tuples, and moving each identity sequence past the ids a copy brought in.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from digest.store.postgres_connection import Pool
from digest.store.postgres_rows import utc
from digest.store.postgres_schema import version
from digest.store.transfer import BATCH, Kind, Row, Table

# Tables whose id a copy brings in, and whose identity must then continue above it.
IDENTITIES = ("subscribers", "outbox", "runs")


def _out(value: Any, kind: Kind) -> Any:
    if value is None:
        return None
    if kind is Kind.MOMENT:
        return utc(value)
    if kind is Kind.IDS:
        return tuple(value)
    if kind is Kind.BYTES:
        return bytes(value)
    return value


def _in(value: Any, kind: Kind) -> Any:
    return list(value) if kind is Kind.IDS and value is not None else value


class PostgresTransfer:
    """Mixed into PostgresStore, which provides `_db`."""

    _db: Pool

    def schema_version(self) -> int:
        return version(self._db)

    def table_rows(self, table: Table, batch: int = BATCH) -> Iterator[list[Row]]:
        sql = f"SELECT {', '.join(table.names)} FROM {table.name} ORDER BY {table.order}"
        # A server-side cursor (inside a transaction): a big table is never in memory whole.
        with self._db.transaction() as tx, tx.cursor(name=f"copy_{table.name}") as cursor:
            cursor.execute(sql.encode())
            while chunk := cursor.fetchmany(batch):
                yield [
                    tuple(_out(v, k) for v, k in zip(row, table.kinds, strict=True))
                    for row in chunk
                ]

    def insert_rows(self, table: Table, rows: Sequence[Row]) -> None:
        marks = ", ".join(["%s"] * len(table.columns))
        sql = (
            f"INSERT INTO {table.name} ({', '.join(table.names)}) VALUES ({marks}) "
            "ON CONFLICT DO NOTHING"
        )
        values = [tuple(_in(v, k) for v, k in zip(row, table.kinds, strict=True)) for row in rows]
        with self._db.transaction() as tx, tx.cursor() as cursor:
            cursor.executemany(sql.encode(), values)
            if table.name in IDENTITIES:
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"greatest(coalesce(max(id), 0), 1), max(id) IS NOT NULL) "
                    f"FROM {table.name}".encode()
                )

    def row_count(self, table: Table) -> int:
        row = self._db.one(f"SELECT count(*) FROM {table.name}")
        return int(row[0]) if row else 0
