"""The store contract on the shared backend: a real PostgreSQL 15, a fresh database per test."""

from __future__ import annotations

import pytest
from contract import StoreContract


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store_url(self, postgres_url: str) -> str:
        return postgres_url
