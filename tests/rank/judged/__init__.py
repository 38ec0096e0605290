"""A judged evaluation set for ranking: papers, reader interests and graded relevance.

The files beside this module (see README.md there):

- corpus.json      the papers (id, title, abstract, day 1..5, seed files)
- interests.toml   reader interests: description, keyword profile, short query, held_out
- grades.toml      graded relevance per interest: 2 = squarely on it, 1 = plausibly wanted,
                   absent = 0

Interests with ``held_out = True`` must never be used for tuning; report them separately.
This module only reads the files; it does not rank anything.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

HERE = Path(__file__).parent
CORPUS = HERE / "corpus.json"
INTERESTS = HERE / "interests.toml"
GRADES = HERE / "grades.toml"

GRADE_VALUES = (0, 1, 2)


@dataclass(frozen=True)
class Paper:
    id: str
    title: str
    abstract: str
    day: int
    """1..5: the seed listing (one per "day") the paper first appears in."""
    seeds: tuple[str, ...]
    """Every seed file the paper appears in, in day order."""


@dataclass(frozen=True)
class Keyword:
    text: str
    weight: float = 1.0

    @classmethod
    def parse(cls, spec: str) -> Keyword:
        """Parse 'score matching^2' as Keyword('score matching', 2.0), as in config/profiles."""
        text, caret, weight = spec.rpartition("^")
        if caret:
            try:
                return cls(text.strip(), float(weight))
            except ValueError:
                pass
        return cls(spec.strip())


@dataclass(frozen=True)
class Interest:
    name: str
    description: str
    keywords: tuple[str, ...]
    """The reader's full keyword profile, as written ("term^2" carries a weight)."""
    short: tuple[str, ...]
    """The first two keywords without weights: what a newcomer types."""
    exclude: tuple[str, ...]
    held_out: bool

    @property
    def weighted_keywords(self) -> tuple[Keyword, ...]:
        return tuple(Keyword.parse(k) for k in self.keywords)


@dataclass(frozen=True)
class Judgements:
    """The graded papers of one interest; every other paper is graded 0."""

    interest: str
    grades: Mapping[str, int]

    def grade(self, paper_id: str) -> int:
        return self.grades.get(paper_id, 0)

    def relevant(self, min_grade: int = 1) -> frozenset[str]:
        return frozenset(p for p, g in self.grades.items() if g >= min_grade)


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: expected a list of strings")
    return tuple(value)


def load_corpus(path: Path = CORPUS) -> tuple[Paper, ...]:
    rows = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(rows, list):
        raise ValueError(f"{path}: expected a list of papers")
    papers: list[Paper] = []
    for row in rows:
        if not isinstance(row, dict):
            raise ValueError(f"{path}: expected objects, got {row!r}")
        papers.append(
            Paper(
                id=str(row["id"]),
                title=str(row["title"]),
                abstract=str(row["abstract"]),
                day=int(row["day"]),
                seeds=_strings(row.get("seeds", []), f"{path}: {row['id']} seeds"),
            )
        )
    return tuple(papers)


def load_interests(path: Path = INTERESTS) -> tuple[Interest, ...]:
    with path.open("rb") as f:
        data = tomllib.load(f)
    tables = data.get("interest", {})
    if not isinstance(tables, dict):
        raise ValueError(f"{path}: expected [interest.NAME] tables")
    interests: list[Interest] = []
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise ValueError(f"{path}: [interest.{name}] is not a table")
        held_out = table.get("held_out", False)
        if not isinstance(held_out, bool):
            raise ValueError(f"{path}: [interest.{name}] held_out must be true or false")
        interests.append(
            Interest(
                name=name,
                description=str(table["description"]),
                keywords=_strings(table["keywords"], f"{path}: {name} keywords"),
                short=_strings(table["short"], f"{path}: {name} short"),
                exclude=_strings(table.get("exclude", []), f"{path}: {name} exclude"),
                held_out=held_out,
            )
        )
    return tuple(interests)


def load_grades(path: Path = GRADES) -> dict[str, Judgements]:
    with path.open("rb") as f:
        data = tomllib.load(f)
    judged: dict[str, Judgements] = {}
    for name, table in data.items():
        if not isinstance(table, dict):
            raise ValueError(f"{path}: [{name}] is not a table")
        grades: dict[str, int] = {}
        for paper_id, grade in table.items():
            if not isinstance(grade, int) or isinstance(grade, bool):
                raise ValueError(f"{path}: [{name}] {paper_id} = {grade!r} is not an integer")
            grades[paper_id] = grade
        judged[name] = Judgements(name, MappingProxyType(grades))
    return judged
