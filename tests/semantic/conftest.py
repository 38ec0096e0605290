"""Fixtures for tests that need the semantic extra (numpy, torch, the model package).

Without the extra these tests are skipped, visibly, with the install command; with
DIGEST_REQUIRE_SEMANTIC=1 (CI sets it) a missing extra fails them instead, so CI can never
pass by skipping them. Tests of the fusion logic need none of this and always run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from digest.semantic import Embedder, available

INSTALL_HINT = "the semantic extra is not installed: pip install -e '.[semantic]'"


def _require_extra() -> None:
    if available():
        return
    if os.environ.get("DIGEST_REQUIRE_SEMANTIC") == "1":
        pytest.fail(f"DIGEST_REQUIRE_SEMANTIC=1 but {INSTALL_HINT}", pytrace=False)
    pytest.skip(INSTALL_HINT)


@pytest.fixture
def semantic_extra() -> None:
    """numpy and the rest of the extra are importable (no model is loaded)."""
    _require_extra()


@pytest.fixture(scope="session")
def embedder() -> Iterator[Embedder]:
    """The real model, loaded once for the whole session (several seconds on 2 cores)."""
    _require_extra()
    model = Embedder()
    model.load()
    yield model
