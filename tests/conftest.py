"""Options and fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.postgres import Cluster, start_cluster
from support.semantic import require_semantic_extra
from support.stores import opened_store

from digest.store import Store


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regen-golden",
        action="store_true",
        default=False,
        help="rewrite golden files (parsed papers, rendered emails) from the current output",
    )


@pytest.fixture(autouse=True)
def private_vector_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Previews keep paper vectors in the user's cache folder: in tests, a folder of the
    test's own, never the real one (nor one shared between tests)."""
    monkeypatch.setenv("DIGEST_CACHE_DIR", str(tmp_path / "vector-cache"))


@pytest.fixture
def semantic_extra() -> None:
    """numpy and the rest of the [semantic] extra are importable (no model is loaded)."""
    require_semantic_extra()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """Where `store` keeps its SQLite file (for a test that opens it a second time)."""
    return tmp_path / "state" / "digest.sqlite3"


@pytest.fixture
def store(store_path: Path) -> Iterator[Store]:
    """An empty store on a real SQLite file, opened the way production code opens one."""
    with opened_store(store_path) as opened:
        yield opened


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """A throwaway PostgreSQL 15 cluster for the session (support/postgres.py)."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop("immediate")
        cluster.remove()


@pytest.fixture
def postgres_url(postgres: Cluster) -> str:
    """A fresh, migrated database of that cluster for one test (its URL, password included)."""
    return postgres.fresh_database()
