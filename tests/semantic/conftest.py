"""Fixtures for tests that need the semantic extra (numpy, torch, the model package).

Without the extra these tests are skipped, visibly, with the install command; with
DIGEST_REQUIRE_SEMANTIC=1 (CI sets it) a missing extra fails them instead, so CI can never
pass by skipping them. Tests of the fusion logic need none of this and always run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.semantic import require_semantic_extra

from digest.rank.semantic import Embedder


@pytest.fixture(scope="session")
def embedder() -> Iterator[Embedder]:
    """The real model, loaded once for the whole session (several seconds on 2 cores)."""
    require_semantic_extra()
    model = Embedder()
    model.load()
    yield model
