"""The Transfer role (digest.store.transfer) on SQLite: whole tables in the neutral row shape.

SQLite keeps moments, days and delivery times as text, flags as 0/1 and a digest's paper ids
as a JSON list; these functions turn them into the neutral values and back.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from digest.store import sqlite_rows as rows
from digest.store.sqlite_connection import Connection
from digest.store.sqlite_schema import SCHEMA_VERSION
from digest.store.transfer import BATCH, Kind, Row, Table


def _clock_out(text: str) -> dt.time:
    hours, minutes = text.split(":")[:2]
    return dt.time(int(hours), int(minutes))


_OUT: dict[Kind, Callable[[Any], Any]] = {
    Kind.MOMENT: rows.moment,
    Kind.DAY: rows.day,
    Kind.CLOCK: _clock_out,
    Kind.FLAG: bool,
    Kind.BYTES: bytes,
    Kind.IDS: lambda text: tuple(json.loads(text)),
}
_IN: dict[Kind, Callable[[Any], Any]] = {
    Kind.MOMENT: rows.stamp,
    Kind.DAY: lambda day: day.isoformat(),
    Kind.CLOCK: lambda clock: clock.strftime("%H:%M"),
    Kind.FLAG: int,
    Kind.IDS: lambda ids: json.dumps(list(ids)),
}


def _convert(row: Row, kinds: Sequence[Kind], table: dict[Kind, Callable[[Any], Any]]) -> Row:
    return tuple(
        value if value is None or kind not in table else table[kind](value)
        for value, kind in zip(row, kinds, strict=True)
    )


def _column(table: Table, name: str) -> str:
    """How a neutral column is read: an outbox row's message lives in outbox_bodies."""
    return rows.MESSAGE if (table.name, name) == ("outbox", "message") else name


class SqliteTransfer:
    """Mixed into SqliteStore, which provides `_db`."""

    _db: Connection

    def schema_version(self) -> int:
        return SCHEMA_VERSION

    def table_rows(self, table: Table, batch: int = BATCH) -> Iterator[list[Row]]:
        columns = ", ".join(_column(table, name) for name in table.names)
        sql = f"SELECT {columns} FROM {table.name} ORDER BY {table.order}"
        with self._db.errors():
            cursor = self._db.raw.execute(sql)
            while chunk := cursor.fetchmany(batch):
                yield [_convert(row, table.kinds, _OUT) for row in chunk]

    def insert_rows(self, table: Table, rows: Sequence[Row]) -> None:
        marks = ", ".join("?" * len(table.columns))
        sql = (
            f"INSERT INTO {table.name} ({', '.join(table.names)}) VALUES ({marks}) "
            "ON CONFLICT DO NOTHING"
        )
        with self._db.transaction() as tx:
            tx.executemany(sql, [_convert(row, table.kinds, _IN) for row in rows])
            if table.name == "outbox":
                # The bodies go to their own table (migration 9), as the store writes them.
                tx.execute(
                    "INSERT INTO outbox_bodies (outbox_id, message) "
                    "SELECT id, message FROM outbox WHERE length(message) > 0 "
                    "ON CONFLICT DO NOTHING"
                )
                tx.execute("UPDATE outbox SET message = x'' WHERE length(message) > 0")

    def row_count(self, table: Table) -> int:
        row = self._db.one(f"SELECT count(*) FROM {table.name}")
        return int(row[0]) if row else 0
