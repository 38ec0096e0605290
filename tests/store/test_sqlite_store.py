"""The store contract on the embedded default: a real SQLite file in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from contract import StoreContract
from support.stores import sqlite_url


class TestSqliteStore(StoreContract):
    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return sqlite_url(tmp_path / "state" / "digest.sqlite3")
