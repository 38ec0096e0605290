"""vote_variants.py wraps parts of the shipped ranker by name; a rename or a moved import
(as when the meaning side became imported on use) must fail here, not at its next reading."""

from typing import Any, cast

import pytest

from digest.rank import personal
from tests.rank.judged.vote_variants import VARIANTS


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_each_variant_wraps_parts_the_ranker_has_and_puts_them_back(name: str) -> None:
    shipped = {part: getattr(personal, part) for part in ("ranked_with_meaning", "blend_top")}
    with VARIANTS[name](cast(Any, None)):  # entering only: no ranking runs
        pass
    assert {part: getattr(personal, part) for part in shipped} == shipped
