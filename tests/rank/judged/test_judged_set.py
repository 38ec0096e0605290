"""Integrity of the judged evaluation set: the files agree with each other and with the rules
in README.md. These tests read the files only; they rank nothing."""

from __future__ import annotations

import json

import pytest

from . import (
    CORPUS,
    GRADE_VALUES,
    Interest,
    Judgements,
    Keyword,
    Paper,
    load_corpus,
    load_grades,
    load_interests,
)
from .build_corpus import paper_id

MIN_PAPERS = 300
MIN_INTERESTS = 12
MIN_HELD_OUT = 4
MIN_SQUARELY = 5
MIN_DAYS = 2
DAYS = range(1, 6)


@pytest.fixture(scope="module")
def corpus() -> tuple[Paper, ...]:
    return load_corpus()


@pytest.fixture(scope="module")
def interests() -> tuple[Interest, ...]:
    return load_interests()


@pytest.fixture(scope="module")
def grades() -> dict[str, Judgements]:
    return load_grades()


def test_corpus_size_and_unique_ids(corpus: tuple[Paper, ...]) -> None:
    assert len(corpus) >= MIN_PAPERS
    ids = [p.id for p in corpus]
    assert len(set(ids)) == len(ids)
    titles = [" ".join(p.title.lower().split()) for p in corpus]
    assert len(set(titles)) == len(titles), "a paper is kept once"


def test_corpus_rows_are_complete(corpus: tuple[Paper, ...]) -> None:
    for p in corpus:
        assert p.id == paper_id(p.title), p.id
        assert p.title and len(p.abstract) >= 300, p.id
        assert p.day in DAYS, p.id
        assert p.seeds, p.id
    assert {p.day for p in corpus} == set(DAYS)


def test_corpus_file_has_exactly_the_documented_fields() -> None:
    rows = json.loads(CORPUS.read_text(encoding="utf-8"))
    for row in rows:
        assert set(row) == {"id", "title", "abstract", "day", "seeds"}, row["id"]


def test_interests(interests: tuple[Interest, ...]) -> None:
    assert len(interests) >= MIN_INTERESTS
    assert len({i.name for i in interests}) == len(interests)
    for i in interests:
        assert i.description.startswith("I "), i.name
        assert 5 <= len(i.keywords) <= 10, i.name
        texts = [k.text for k in i.weighted_keywords]
        assert all(texts), i.name
        assert list(i.short) == texts[:2], f"{i.name}: short is the first two keywords"
        assert all(0 < k.weight <= 10 for k in i.weighted_keywords), i.name


def test_enough_interests_are_held_out(interests: tuple[Interest, ...]) -> None:
    held = [i for i in interests if i.held_out]
    assert len(held) >= MIN_HELD_OUT
    assert len(held) < len(interests)


def test_grades_cover_exactly_the_interests(
    interests: tuple[Interest, ...], grades: dict[str, Judgements]
) -> None:
    assert set(grades) == {i.name for i in interests}


def test_graded_ids_exist_and_grades_are_valid(
    corpus: tuple[Paper, ...], grades: dict[str, Judgements]
) -> None:
    ids = {p.id for p in corpus}
    for name, judged in grades.items():
        for pid, grade in judged.grades.items():
            assert pid in ids, f"{name}: {pid} is not in the corpus"
            assert grade in GRADE_VALUES, f"{name}: {pid} = {grade}"


def test_every_interest_has_squarely_relevant_papers_on_several_days(
    corpus: tuple[Paper, ...], grades: dict[str, Judgements]
) -> None:
    day = {p.id: p.day for p in corpus}
    for name, judged in grades.items():
        assert len(judged.relevant(2)) >= MIN_SQUARELY, name
        days = {day[p] for p in judged.relevant(1)}
        assert len(days) >= MIN_DAYS, f"{name}: relevant papers only on days {sorted(days)}"


def test_ungraded_papers_are_zero(corpus: tuple[Paper, ...], grades: dict[str, Judgements]) -> None:
    judged = next(iter(grades.values()))
    ungraded = [p.id for p in corpus if p.id not in judged.grades]
    assert ungraded
    assert all(judged.grade(p) == 0 for p in ungraded)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("diffusion model^2", Keyword("diffusion model", 2.0)),
        ("quantiz*^1.5", Keyword("quantiz*", 1.5)),
        ("SE(3)", Keyword("SE(3)", 1.0)),
        ("a^b", Keyword("a^b", 1.0)),
    ],
)
def test_keyword_parse(spec: str, expected: Keyword) -> None:
    assert Keyword.parse(spec) == expected
