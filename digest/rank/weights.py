"""The constants of the score model (see digest.rank.lexical for how a score is made)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from digest.models import Field

K1 = 2.0  # saturation: chosen on the evaluation set (1.2-3.0 all within 0.02 nDCG)
# Field boost and length-normalisation strength (b): titles are short and say what a paper
# is about; AI keywords are a curated summary; abstracts are long and wander.
FIELD_BOOST: Mapping[Field, float] = MappingProxyType(
    {Field.TITLE: 3.0, Field.ABSTRACT: 1.0, Field.KEYWORDS: 1.5}
)
FIELD_B: Mapping[Field, float] = MappingProxyType(
    {Field.TITLE: 0.3, Field.ABSTRACT: 0.75, Field.KEYWORDS: 0.3}
)
AUTHOR_BONUS = 8.0
CATEGORY_BONUS = 1.0
CROSS_LIST_FACTOR = 0.5
