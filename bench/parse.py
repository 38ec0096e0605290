"""Parser throughput and peak memory on the real captures.

    python bench/parse.py [--fixtures DIR] [--repeat N]

Parses the 1,504-item all-archives arXiv RSS capture, the arXiv API captures and every
Hugging Face capture N times each; prints items/s (best run) and peak memory (tracemalloc,
one extra run) per format. For comparison it also times feedparser alone on the RSS file.
It checks the announce-type counts of the full RSS file (926 new, 9 cross, 569 replace).
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from digest.collect.sources import get_parser
from digest.models import AnnounceType, Paper

DEFAULT_FIXTURES = REPO.parent / "shared" / "fixtures"
RSS_FILE = "arxiv_rss/arxiv_rss_new_allarchives_2024-11-28.xml"
EXPECTED_RSS = {AnnounceType.NEW: 926, AnnounceType.CROSS: 9, AnnounceType.REPLACE: 569}


def best_time(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def peak_memory(run: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def bench(label: str, kind: str, files: list[Path], repeat: int) -> tuple[int, float]:
    parser = get_parser(kind)
    blobs = [(f.read_bytes(), f.as_uri()) for f in files]

    def run() -> list[tuple[Paper, ...]]:
        return [parser(data, url) for data, url in blobs]

    items = sum(len(papers) for papers in run())  # also warms caches and imports
    seconds = best_time(run, repeat)
    peak = peak_memory(run)
    size = sum(len(data) for data, _ in blobs)
    print(
        f"{label:<34} {items:>6} items {size / 1e6:>6.2f} MB  "
        f"{items / seconds:>10,.0f} items/s  {seconds * 1000:>8.1f} ms  "
        f"peak {peak / 1e6:>6.1f} MB"
    )
    return items, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    root: Path = args.fixtures
    rss = root / RSS_FILE
    if not rss.exists():
        sys.exit(f"no capture at {rss}: pass --fixtures DIR")

    papers = get_parser("arxiv_rss")(rss.read_bytes(), rss.as_uri())
    counts = Counter(p.announce_type for p in papers)
    verdict = "ok" if counts == EXPECTED_RSS else f"MISMATCH, expected {EXPECTED_RSS}"
    print(f"RSS announce types: { {k.value: v for k, v in counts.items()} } {verdict}")
    print(f"{'format':<34} {'n':>6}       {'size':>9}  {'throughput':>16}  {'best':>11}")

    bench("arxiv_rss (lxml, 1504 items)", "arxiv_rss", [rss], args.repeat)
    api_files = sorted((root / "arxiv_api").glob("*.xml"))
    api_files = [f for f in api_files if "error" not in f.name]
    bench(f"arxiv_api (lxml, {len(api_files)} files)", "arxiv_api", api_files, args.repeat)
    hf_files = sorted((root / "hf_daily_papers").glob("*.json"))
    bench(f"hf_daily (json, {len(hf_files)} files)", "hf_daily", hf_files, args.repeat)
    list_files = sorted((root / "arxiv_list").glob("*.html"))
    bench(f"arxiv_list (lxml.html, {len(list_files)} file)", "arxiv_list", list_files, args.repeat)
    bench("feed (feedparser) on the RSS file", "feed", [rss], max(1, args.repeat // 3))

    try:
        import feedparser
    except ImportError:
        return
    data = rss.read_bytes()
    seconds = best_time(lambda: feedparser.parse(data), max(1, args.repeat // 3))
    print(
        f"{'feedparser.parse alone, RSS file':<34} {1504:>6} items {'':>9}  "
        f"{1504 / seconds:>10,.0f} items/s  {seconds * 1000:>8.1f} ms"
    )


if __name__ == "__main__":
    main()
