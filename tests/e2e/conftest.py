"""Fixtures for end-to-end tests: a whole installation on 127.0.0.1 (see support/installation)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.installation import Installation, installed


@pytest.fixture
def installation(tmp_path: Path) -> Iterator[Installation]:
    with installed(tmp_path) as ready:
        yield ready
