"""Options shared by every test folder."""

from __future__ import annotations

import pytest
from support.semantic import require_semantic_extra


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regen-golden",
        action="store_true",
        default=False,
        help="rewrite golden files (parsed papers, rendered emails) from the current output",
    )


@pytest.fixture
def semantic_extra() -> None:
    """numpy and the rest of the [semantic] extra are importable (no model is loaded)."""
    require_semantic_extra()
