"""Bulk reading and writing of whole tables, for moving an installation between backends
(`digest db copy`): a role of its own, apart from `Store`, since nothing else needs it.

Rows cross in one neutral shape: `TABLES` names each table's columns in a fixed order and
the kind of value each holds (an aware UTC datetime, a date, a time, a bool, bytes, a tuple
of paper ids, text or a whole number); each backend turns its own columns into these and
back. Ids are kept, so the ledger still points at the same outbox rows and subscribers.
What only a running worker holds is left behind: claims on outbox rows and job leases, and
the per-second pace; the sending window's counts per minute go along.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

Row = tuple[Any, ...]


class Kind(StrEnum):
    TEXT = "text"  # str (or None where the column allows it)
    INT = "int"
    MOMENT = "moment"  # aware UTC datetime
    DAY = "day"  # date
    CLOCK = "clock"  # time of day, minutes
    FLAG = "flag"  # bool
    BYTES = "bytes"
    IDS = "ids"  # tuple of paper ids


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[tuple[str, Kind], ...]
    order: str  # the column(s) rows are read in, so ids and insertion order survive

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    @property
    def kinds(self) -> tuple[Kind, ...]:
        return tuple(kind for _, kind in self.columns)


T, N, M, D = Kind.TEXT, Kind.INT, Kind.MOMENT, Kind.DAY  # short names for the table

# In the order they are copied: a row's references are copied before it.
TABLES: tuple[Table, ...] = (
    Table(
        "subscribers",
        (
            ("id", N),
            ("email", T),
            ("profile", T),
            ("deliver_at", Kind.CLOCK),
            ("timezone", T),
            ("active", Kind.FLAG),
            ("created_at", M),
            ("updated_at", M),
            ("email_key", T),
            ("state", T),
            ("confirm_nonce", T),
            ("pending_until", M),
            ("confirmed_at", M),
        ),
        "id",
    ),
    Table(
        "papers",
        (("id", T), ("data", T), ("version", N), ("first_seen", M), ("last_seen", M)),
        "first_seen, id",
    ),
    Table(
        "sources",
        (
            ("name", T),
            ("url", T),
            ("etag", T),
            ("last_modified", T),
            ("last_state", T),
            ("last_detail", T),
            ("last_ok_day", D),
            ("updated_at", M),
        ),
        "name",
    ),
    Table(
        "outbox",
        (
            ("id", N),
            ("subscriber_id", N),
            ("recipient", T),
            ("day", D),
            ("message_id", T),
            ("message", Kind.BYTES),
            ("paper_ids", Kind.IDS),
            ("state", T),
            ("attempts", N),
            ("last_error", T),
            ("created_at", M),
            ("updated_at", M),
            ("sent_at", M),
        ),
        "id",
    ),
    Table(
        "ledger",
        (("subscriber_id", N), ("paper_id", T), ("version", N), ("outbox_id", N), ("sent_at", M)),
        "subscriber_id, paper_id",
    ),
    Table(
        "runs",
        (
            ("id", N),
            ("started", M),
            ("finished", M),
            ("day", D),
            ("ok", Kind.FLAG),
            ("report", T),
            ("kind", T),
            ("alert", T),
            ("state", T),
            ("host", T),
            ("pid", N),
        ),
        "id",
    ),
    Table("meta", (("key", T), ("value", T)), "key"),
    Table(
        "votes",
        (("subscriber_id", N), ("paper_id", T), ("vote", T), ("at", M)),
        "subscriber_id, paper_id",
    ),
    Table("embeddings", (("paper_id", T), ("model", T), ("vector", Kind.BYTES)), "paper_id, model"),
    Table("corpus_days", (("day", D), ("documents", N), ("words", T), ("doc_freq", T)), "day"),
    Table("corpus_papers", (("paper_id", T), ("day", D)), "paper_id"),
    # The provider's daily cap counts what was sent in the last 24 hours, wherever it was
    # recorded: a move mid-day keeps it. (The per-second pace, a moment just ahead, is not.)
    Table("send_counts", (("start", M), ("sent", N)), "start"),
)

BATCH = 1000  # rows per read and per write transaction


@runtime_checkable
class Transfer(Protocol):
    """Whole tables in and out, in the neutral row shape of `TABLES`."""

    def schema_version(self) -> int: ...
    def table_rows(self, table: Table, batch: int = BATCH) -> Iterator[list[Row]]: ...
    def insert_rows(self, table: Table, rows: Sequence[Row]) -> None:
        """Insert rows whose key is not there yet; a row already there is left as it is."""
        ...

    def row_count(self, table: Table) -> int: ...
