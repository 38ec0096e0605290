"""Decide whether a followed author wrote a paper, tolerant of how listings spell names.

"Yang Song", "Y. Song", "song, yang" and "Yáng Sòng" are one person; "Yang Song" and
"Yi Song" are not, but "Y. Song" (the follower only knows the initial) matches both.
Rule: same surname (accent/case-insensitive) and a compatible first given name: equal when
both are spelled out, equal initials when either is an initial. Particles ("van", "de") and
suffixes ("Jr.") are ignored; a name given as a bare surname matches any given name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from digest.textmatch import fold

_PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "la", "le"}
)
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
_NAME_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")


@dataclass(frozen=True, slots=True)
class NameKey:
    surname: str
    given: str  # the first given name, folded ("yang"), or its initial ("y"), or ""

    def compatible(self, other: NameKey) -> bool:
        if self.surname != other.surname:
            return False
        if not self.given or not other.given:
            return True
        if len(self.given) > 1 and len(other.given) > 1:
            return self.given == other.given
        return self.given[0] == other.given[0]


def name_key(name: str) -> NameKey | None:
    """The comparable form of an author name, or None if it holds no letters."""
    if "," in name:
        last, _, first = name.partition(",")
        name = f"{first} {last}"
    words = [fold(w) for w in _NAME_WORD.findall(name)]
    words = [w for w in words if w not in _SUFFIXES]
    if not words:
        return None
    surname = words[-1]
    given = [w for w in words[:-1] if w not in _PARTICLES]
    return NameKey(surname, given[0] if given else "")
