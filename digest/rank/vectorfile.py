"""Paper and profile vectors kept on disk between previews, for previews without a database.

A preview reads listings from a snapshot or from today's feeds and stores nothing of them;
without this file every preview embedded every paper again (tens of seconds). The file is
a SQLite database under the user's cache folder ($DIGEST_CACHE_DIR, else
$XDG_CACHE_HOME/digest, else ~/.cache/digest), 0600 like every private file: a vector is
keyed by the model, the paper id and a hash of the text that was embedded, so a paper whose
abstract changed is embedded again and two models never mix. Losing the file loses nothing
but time.

`LayeredEmbeddingCache` puts a store's vectors (a run's, read-only in a preview) in front
of this file.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Collection, Mapping
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from digest.util.private import private_file, private_folder

if TYPE_CHECKING:
    from digest.rank.semantic import EmbeddingCache, Vector

FILE_NAME = "vectors.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL,
    id TEXT NOT NULL,
    digest TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, id)
)
"""
_BATCH = 500  # ids per query: under SQLite's limit on bound parameters


def text_digest(text: str) -> str:
    """The hash a vector is kept under with its id: changes when the embedded text does."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


class FileEmbeddingCache:
    """Vectors by (model, id, text digest) in one SQLite file; opened per call, so a
    preview holds no connection and two previews at once only wait on each other's write."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / FILE_NAME
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            private_folder(self.path.parent)
            private_file(self.path)
        connection = sqlite3.connect(self.path, timeout=30)
        if not self._ready:
            connection.execute(_SCHEMA)
            self._ready = True
        return connection

    def get(
        self, ids: Collection[str], model: str, digests: Mapping[str, str] | None = None
    ) -> dict[str, Vector]:
        from digest.rank.semantic import vector_from_blob

        wanted = list(dict.fromkeys(ids))
        found: dict[str, Vector] = {}
        with closing(self._connect()) as connection:
            for start in range(0, len(wanted), _BATCH):
                chunk = wanted[start : start + _BATCH]
                marks = ",".join("?" * len(chunk))
                rows = connection.execute(
                    f"SELECT id, digest, vector FROM vectors WHERE model = ? AND id IN ({marks})",
                    [model, *chunk],
                )
                for item, digest, blob in rows:
                    if digests is None or digests.get(item, digest) == digest:
                        found[item] = vector_from_blob(blob)
        return found

    def put(
        self, items: Mapping[str, Vector], model: str, digests: Mapping[str, str] | None = None
    ) -> None:
        from digest.rank.semantic import vector_to_blob

        if not items:
            return
        known = digests or {}
        rows = [(model, k, known.get(k, ""), vector_to_blob(v)) for k, v in items.items()]
        with closing(self._connect()) as connection, connection:
            connection.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", rows)


class LayeredEmbeddingCache:
    """Read the first cache, then the second for what it lacked; write to both (a
    read-only store cache keeps nothing)."""

    def __init__(self, first: EmbeddingCache, second: EmbeddingCache) -> None:
        self._first = first
        self._second = second

    def get(
        self, ids: Collection[str], model: str, digests: Mapping[str, str] | None = None
    ) -> dict[str, Vector]:
        found = self._first.get(ids, model, digests)
        missing = [i for i in ids if i not in found]
        if missing:
            later = self._second.get(missing, model, digests)
            found.update(later)
        return found

    def put(
        self, items: Mapping[str, Vector], model: str, digests: Mapping[str, str] | None = None
    ) -> None:
        self._first.put(items, model, digests)
        self._second.put(items, model, digests)
