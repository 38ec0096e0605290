"""Fixtures for the source-parser tests: paths and golden-file comparison.

`pytest tests/sources --regen-golden` rewrites the golden files from the parsers' current
output; review the diff before committing it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from digest.collect.sources import get_parser
from digest.errors import ParseError
from digest.models import Paper

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"


def paper_to_json(paper: Paper) -> dict[str, Any]:
    """A Paper as plain JSON values (dates as ISO strings, enums as their values). The cap
    mark appears only on a paper that was cut (none of the real fixtures is)."""
    data = dataclasses.asdict(paper)
    if not data["shortened"]:
        del data["shortened"]
    return json.loads(json.dumps(data, default=str, ensure_ascii=False))


ParseFixture = Callable[[str, str, str], dict[str, Any]]


@pytest.fixture
def parse_fixture() -> ParseFixture:
    """Run the parser of `kind` on a fixture: {"papers": [...]} or {"error", "message"}."""

    def run(kind: str, name: str, url: str) -> dict[str, Any]:
        data = (FIXTURES / name).read_bytes()
        try:
            papers = get_parser(kind)(data, url)
        except ParseError as err:
            return {"kind": kind, "url": url, "error": type(err).__name__, "message": str(err)}
        return {"kind": kind, "url": url, "papers": [paper_to_json(p) for p in papers]}

    return run


@pytest.fixture
def fixture_bytes() -> Callable[[str], bytes]:
    def read(name: str) -> bytes:
        return (FIXTURES / name).read_bytes()

    return read


@pytest.fixture
def check_golden(request: pytest.FixtureRequest) -> Callable[[str, dict[str, Any]], None]:
    """Compare `actual` with fixtures/<name>.golden.json (next to the fixture it describes),
    or write that file under --regen-golden."""
    regen = bool(request.config.getoption("--regen-golden", default=False))

    def check(name: str, actual: dict[str, Any]) -> None:
        path = FIXTURES / f"{name}.golden.json"
        if regen:
            path.write_text(
                json.dumps(actual, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
            )
            return
        assert path.exists(), f"no golden file {path.name}: run pytest tests/sources --regen-golden"
        expected = json.loads(path.read_text(encoding="utf-8"))
        assert actual == expected

    return check
