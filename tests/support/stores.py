"""The one way tests open a store: `open_store`, as production code does, closed afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from digest.store import Store, open_store


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@contextmanager
def opened_store(where: str | Path, *, readonly: bool = False) -> Iterator[Store]:
    """The store at `where` (a URL or a SQLite file), migrated unless `readonly`."""
    store = open_store(where, readonly=readonly)
    try:
        yield store
    finally:
        store.close()
