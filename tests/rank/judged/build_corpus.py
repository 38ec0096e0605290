"""Rebuild corpus.json from the seed listings (run by hand; tests read only corpus.json).

    python -m tests.rank.judged.build_corpus [SEEDS_DIR]

Same extraction as tests/rank/eval/build_corpus.py (copied, so this set does not change
when that one does): a seed file is the text of one Hugging Face listing page, where a
title line is followed by its abstract line (the only long lines). Papers are kept once,
by normalised title, with a stable id ("e" + the first 8 hex digits of the title's SHA-1).

Each seed file is one "day": files are taken in name order and numbered 1..5, and a
paper's `day` is the first file it appears in; `seeds` lists every file it appears in.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
DEFAULT_SEEDS = HERE.parents[2] / ".." / "shared" / "seeds"
MIN_ABSTRACT = 300
MAX_TITLE = 300


def title_key(title: str) -> str:
    return " ".join(title.lower().split())


def paper_id(title: str) -> str:
    return "e" + hashlib.sha1(title_key(title).encode()).hexdigest()[:8]


def extract(text: str) -> list[tuple[str, str]]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    pairs: list[tuple[str, str]] = []
    for previous, line in itertools.pairwise(lines):
        if len(line) >= MIN_ABSTRACT and len(previous) < MAX_TITLE:
            title = previous.removeprefix("Subscribe").strip()
            pairs.append((title, line))
    return pairs


def build(seeds: Path) -> list[dict[str, object]]:
    papers: dict[str, dict[str, object]] = {}
    for day, file in enumerate(sorted(seeds.glob("*.txt")), start=1):
        for title, abstract in extract(file.read_text(encoding="utf-8")):
            key = title_key(title)
            if key not in papers:
                papers[key] = {
                    "id": paper_id(title),
                    "title": title,
                    "abstract": abstract,
                    "day": day,
                    "seeds": [],
                }
            found_in = papers[key]["seeds"]
            assert isinstance(found_in, list)
            if file.name not in found_in:
                found_in.append(file.name)
    return sorted(papers.values(), key=lambda p: (int(str(p["day"])), str(p["id"])))


def main(argv: list[str]) -> None:
    seeds = Path(argv[0]) if argv else DEFAULT_SEEDS
    rows = build(seeds)
    out = HERE / "corpus.json"
    out.write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(rows)} papers -> {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
