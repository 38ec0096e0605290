"""Persistent state: the role protocols (digest.store.roles) and the backends behind them.

`open_store(url)` is the one way in: `sqlite:///path/to/digest.sqlite3`, or a plain path, is
the embedded default; `postgresql://user@host/db` is the shared store (PostgresStore) that
workers on many machines use, its password from the environment ($PGPASSWORD) or the URL.
A backend is one class that implements every role (SqliteStore, with
its schema, connection and row modules beside it); adding one is a new module and a branch
here, not edits elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from digest.errors import StoreError
from digest.store.roles import Store

SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql", "postgres")


def open_store(url: str | Path, *, readonly: bool = False) -> Store:
    """Open (and migrate, unless `readonly`) the store `url` names.

    `readonly` is for previews and status: the backend refuses every write, so nothing can
    be marked as seen by accident.
    """
    text = str(url)
    scheme, sep, _ = text.partition("://")
    if not sep or scheme == "sqlite":
        # Imported here: opening a store is the only moment a backend's driver is needed.
        from digest.store.sqlite import SqliteStore

        path = Path(text[len(SQLITE_PREFIX) :]) if text.startswith(SQLITE_PREFIX) else Path(text)
        if sep and not text.startswith(SQLITE_PREFIX):
            raise StoreError(f"{text}: a SQLite URL is sqlite:///path/to/file.sqlite3")
        return SqliteStore.open_readonly(path) if readonly else SqliteStore.open(path)
    if scheme in POSTGRES_SCHEMES:
        from digest.store.postgres import PostgresStore

        return PostgresStore.open_readonly(text) if readonly else PostgresStore.open(text)
    raise StoreError(
        f"{text}: unknown database URL scheme {scheme!r} "
        "(expected sqlite:///PATH or postgresql://USER@HOST/DATABASE)"
    )


__all__ = ["Store", "StoreError", "open_store"]
