"""One SQLite connection, used the few ways the store needs, every sqlite3 error a StoreError.

All SQL of the SQLite backend goes through `Connection`: reads (`one`, `all`, `rows_in`) and
write transactions (`transaction`). Each runs under `errors()`, the one place a sqlite3.Error
becomes a StoreError that names the file, so no method of the store can forget to.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from digest.errors import ConfigError, StoreError

# How long a command waits for another process's write lock before giving up, in seconds.
BUSY_TIMEOUT = 30.0
BUSY_TIMEOUT_ENV = "DIGEST_BUSY_TIMEOUT"
# Bound parameters per statement in `rows_in`: far below SQLite's limit (999 before 3.32).
CHUNK = 500
# Free space below which a failed write is put down to a full disk.
FULL_BELOW = 1 << 20
# RETURNING (claims, enqueue) came with SQLite 3.35.
MIN_SQLITE = (3, 35, 0)

Row = tuple[Any, ...]


def busy_timeout_from_env(env: Mapping[str, str] = os.environ) -> float:
    """The wait for a locked database: $DIGEST_BUSY_TIMEOUT seconds, else BUSY_TIMEOUT."""
    text = env.get(BUSY_TIMEOUT_ENV, "").strip()
    if not text:
        return BUSY_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise ConfigError(f"{text!r} is not a number of seconds (>= 0)", key=BUSY_TIMEOUT_ENV)
    return seconds


class Connection:
    """A sqlite3 connection in autocommit mode, the file it is on, and its patience for locks."""

    def __init__(self, raw: sqlite3.Connection, path: Path | None, busy_timeout: float) -> None:
        self.raw = raw
        self.path = path
        self.busy_timeout = busy_timeout
        # Write transactions begun and reads run outside them, for benchmarks to print.
        self.transactions = 0
        self.reads = 0

    @property
    def name(self) -> str:
        """The database as messages name it."""
        return str(self.path) if self.path is not None else "in-memory database"

    @classmethod
    def connect(
        cls, file: Path, *, busy_timeout: float | None = None, readonly: bool = False
    ) -> Connection:
        """Connect to `file`; `busy_timeout` None means $DIGEST_BUSY_TIMEOUT, else 30 s."""
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StoreError(
                f"{file}: digest needs SQLite {'.'.join(map(str, MIN_SQLITE))} or newer; this "
                f"Python has {sqlite3.sqlite_version}"
            )
        wait = busy_timeout_from_env() if busy_timeout is None else busy_timeout
        if readonly:
            # mode=ro: SQLite itself refuses every write, whatever the code above it does.
            target, uri = f"{file.resolve().as_uri()}?mode=ro", True
        else:
            target, uri = str(file), False
        with translated(str(file), wait, "cannot open database"):
            # isolation_level=None: no implicit transactions; `transaction()` says BEGIN.
            raw = sqlite3.connect(target, uri=uri, isolation_level=None, timeout=wait)
            try:
                if not readonly:
                    raw.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
                    raw.execute("PRAGMA foreign_keys=ON")
                    raw.execute("PRAGMA synchronous=NORMAL")
            except BaseException:
                raw.close()
                raise
        return cls(raw, file, wait)

    def close(self) -> None:
        with self.errors():
            self.raw.close()

    def errors(self, doing: str = "") -> AbstractContextManager[None]:
        return translated(self.name, self.busy_timeout, doing)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed when the block ends, rolled back when it raises."""
        with self.errors():
            # IMMEDIATE takes the write lock up front: two processes never interleave a
            # read-then-write of the outbox.
            self.transactions += 1
            self.raw.execute("BEGIN IMMEDIATE")
            try:
                yield self.raw
                self.raw.execute("COMMIT")
            except BaseException:
                # Some errors (a full disk) end the transaction themselves.
                if self.raw.in_transaction:
                    self.raw.execute("ROLLBACK")
                raise

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        self.reads += 1
        with self.errors():
            row: Row | None = self.raw.execute(sql, params).fetchone()
            return row

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self.reads += 1
        with self.errors():
            return self.raw.execute(sql, params).fetchall()

    def rows_in(self, sql: str, values: Iterable[Any], params: Sequence[Any] = ()) -> list[Row]:
        """The rows of `sql` for every one of `values`, which fill its `IN ({marks})`.

        Run once per chunk of values, so any number of ids stays under SQLite's limit on bound
        parameters; `params` bind before the list, in every chunk.
        """
        wanted = list(dict.fromkeys(values))
        found: list[Row] = []
        with self.errors():
            for start in range(0, len(wanted), CHUNK):
                chunk = wanted[start : start + CHUNK]
                query = sql.format(marks=",".join("?" * len(chunk)))
                self.reads += 1
                found.extend(self.raw.execute(query, (*params, *chunk)))
        return found


@contextmanager
def translated(name: str, busy_timeout: float, doing: str = "") -> Iterator[None]:
    """Turn a sqlite3.Error raised inside into a StoreError naming the database."""
    try:
        yield
    except sqlite3.Error as err:
        raise StoreError(f"{name}: {_describe(err, name, busy_timeout, doing)}") from err


def _describe(err: sqlite3.Error, name: str, busy_timeout: float, doing: str) -> str:
    # The primary result code is the low byte of the extended one (SQLITE_BUSY_SNAPSHOT, ...).
    code = (getattr(err, "sqlite_errorcode", None) or 0) & 0xFF
    if code == sqlite3.SQLITE_BUSY:
        return (
            f"the database is locked by another process (waited {busy_timeout:g} s); "
            "try again when the other digest process has finished"
        )
    if code == sqlite3.SQLITE_READONLY:
        return f"the database is open read-only here, nothing was written ({err})"
    if code in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN):
        full = disk_full(name)
        if full:
            # SQLite says "disk I/O error" for a full disk as often as "disk is full".
            return f"{full}; nothing half-done was kept: free some space and run it again"
    return f"{doing or 'database error'}: {err}"


def disk_full(name: str) -> str:
    """ "the disk ... is full" when the folder of database `name` has (almost) no space left."""
    folder = Path(name).parent
    try:
        found = os.statvfs(folder)
    except OSError:
        return ""
    free = found.f_bavail * found.f_frsize
    if free >= FULL_BELOW:
        return ""
    return f"the disk is full ({free // 1024} KiB free in {folder})"
