"""Learning from a subscriber's votes ("more like this" / "not for me")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Vote:
    """One vote of one subscriber on one paper."""

    paper_id: str
    liked: bool
    at: dt.datetime
