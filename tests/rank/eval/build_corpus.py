"""Rebuild corpus.json from the seed listings (run by hand; tests read only corpus.json).

    python -m tests.rank.eval.build_corpus [SEEDS_DIR]

A seed file is the text of a Hugging Face listing page: a title line is followed by its
abstract line (the only long lines). Papers seen on several pages are kept once, by title.
Ids are stable ("e" + the first 8 hex digits of the title's SHA-1) so judgements survive a
rebuild.
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


def _title_key(title: str) -> str:
    return " ".join(title.lower().split())


def extract(text: str) -> list[tuple[str, str]]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    pairs: list[tuple[str, str]] = []
    for previous, line in itertools.pairwise(lines):
        if len(line) >= MIN_ABSTRACT and len(previous) < MAX_TITLE:
            title = previous.removeprefix("Subscribe").strip()
            pairs.append((title, line))
    return pairs


def main(argv: list[str]) -> None:
    seeds = Path(argv[0]) if argv else DEFAULT_SEEDS
    papers: dict[str, dict[str, str]] = {}
    for file in sorted(seeds.glob("*.txt")):
        for title, abstract in extract(file.read_text(encoding="utf-8")):
            key = _title_key(title)
            if key in papers:
                continue
            digest = hashlib.sha1(key.encode()).hexdigest()[:8]
            papers[key] = {"id": f"e{digest}", "title": title, "abstract": abstract}
    rows = sorted(papers.values(), key=lambda p: p["id"])
    out = HERE / "corpus.json"
    out.write_text(json.dumps(rows, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"{len(rows)} papers -> {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
