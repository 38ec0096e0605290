"""Parser throughput and peak memory on the real captures.

    python bench/parse.py [--fixtures DIR] [--repeat N]

Parses the 1,504-item all-archives arXiv RSS capture, the arXiv API captures, every
Hugging Face API capture, the arXiv listing page and a Hugging Face papers page N times
each; prints items/s (best run) and resident memory per format, measured in a fresh process
(VmHWM, Linux, which counts lxml's and libxml2's C heap, unlike tracemalloc): how far a first
parse raises the high-water mark over the imports and the normaliser's one-time setup, and
the process's peak in all. For comparison it also times feedparser alone
on the RSS file. It checks the announce-type counts of the full RSS file (926 new, 9 cross,
569 replace).

No capture of huggingface.co/papers exists: its page is built from the full 2026-05-08 API
capture the way the page embeds it (HTML-escaped JSON in a `data-props` attribute), like
tests/sources/trim_fixtures.py does for the test fixture. A live page also carries the
rendered paper cards, so it is larger than this one.
"""

from __future__ import annotations

import argparse
import gc
import html
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from digest.collect.normalise import clean_text, tex_text
from digest.collect.sources import get_parser
from digest.models import AnnounceType, Paper

DEFAULT_FIXTURES = REPO.parent / "shared" / "fixtures"
RSS_FILE = "arxiv_rss/arxiv_rss_new_allarchives_2024-11-28.xml"
HF_PAGE_SOURCE = "hf_daily_papers/hf_api_daily_papers_2026-05-08.json"
EXPECTED_RSS = {AnnounceType.NEW: 926, AnnounceType.CROSS: 9, AnnounceType.REPLACE: 569}

Blobs = list[tuple[bytes, str]]


def files(paths: list[Path]) -> Blobs:
    return [(path.read_bytes(), path.as_uri()) for path in paths]


def hf_page(root: Path) -> Blobs:
    """The papers page as huggingface.co serves it, minus the rendered cards."""
    items = json.loads((root / HF_PAGE_SOURCE).read_bytes())
    props = html.escape(json.dumps({"dailyPapers": items, "date": "2026-05-08"}), quote=True)
    page = (
        "<!DOCTYPE html>\n<html><head><title>Daily Papers - Hugging Face</title></head><body>\n"
        '<main><div class="SVELTE_HYDRATER contents" data-target="DailyPapers" '
        f'data-props="{props}"><h1>Daily Papers</h1></div></main>\n</body></html>\n'
    )
    return [(page.encode("utf-8"), "https://huggingface.co/papers?date=2026-05-08")]


@dataclass(frozen=True)
class Case:
    label: str
    kind: str
    blobs: Callable[[Path], Blobs]
    repeat_divisor: int = 1


def api_files(root: Path) -> list[Path]:
    return [p for p in sorted((root / "arxiv_api").glob("*.xml")) if "error" not in p.name]


CASES: dict[str, Case] = {
    "arxiv_rss": Case("arxiv_rss (lxml, 1504 items)", "arxiv_rss", lambda r: files([r / RSS_FILE])),
    "arxiv_api": Case("arxiv_api (lxml, 7 files)", "arxiv_api", lambda r: files(api_files(r))),
    "hf_daily": Case(
        "hf_daily (json, 4 files)",
        "hf_daily",
        lambda r: files(sorted((r / "hf_daily_papers").glob("*.json"))),
    ),
    "arxiv_list": Case(
        "arxiv_list (bs4 + lxml, 1 file)",
        "arxiv_list",
        lambda r: files(sorted((r / "arxiv_list").glob("*.html"))),
    ),
    "hf_page": Case("hf_page (bs4 + lxml, built page)", "hf_page", hf_page),
    "feed": Case("feed (feedparser) on the RSS file", "feed", lambda r: files([r / RSS_FILE]), 3),
}


def best_time(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def reset_peak_rss() -> int:
    """Lower the resident high-water mark to the current resident size; return it (bytes).

    ru_maxrss cannot serve here: a child's starts at its parent's high-water mark (Linux
    carries it across fork and exec), and the imports alone peak above a small parse.
    """
    Path("/proc/self/clear_refs").write_text("5")  # Linux: reset VmHWM to VmRSS
    return _status_kib("VmRSS") * 1024


def rss_probe(name: str, root: Path) -> None:
    """In a fresh process: how far one parse raises the resident high-water mark.

    tracemalloc sees only Python's allocator; lxml and libxml2 allocate with malloc. A
    process that parsed before would reuse the memory it freed, so this must be the first.
    """
    case = CASES[name]
    parser = get_parser(case.kind)  # imports the parser and its libraries
    blobs = case.blobs(root)
    tex_text(r"Schr\"odinger $\Lambda$CDM \'e")  # the TeX converter builds its tables once
    clean_text(" a  b ")
    gc.collect()
    before = reset_peak_rss()
    papers = [parser(data, url) for data, url in blobs]
    peak = _status_kib("VmHWM") * 1024
    print(peak - before, peak, sum(map(len, papers)))


def rss_growth(name: str, root: Path) -> tuple[int, int]:
    """(growth of the high-water mark over one parse, the process's peak), in bytes."""
    command = [sys.executable, __file__, "--fixtures", str(root), "--rss-probe", name]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    growth, peak, _items = out.split()
    return int(growth), int(peak)


def bench(name: str, root: Path, repeat: int) -> tuple[int, float]:
    case = CASES[name]
    parser = get_parser(case.kind)
    blobs = case.blobs(root)
    repeat = max(1, repeat // case.repeat_divisor)

    def run() -> list[tuple[Paper, ...]]:
        return [parser(data, url) for data, url in blobs]

    items = sum(len(papers) for papers in run())  # also warms caches and imports
    seconds = best_time(run, repeat)
    growth, peak = rss_growth(name, root)
    size = sum(len(data) for data, _ in blobs)
    print(
        f"{case.label:<34} {items:>6} items {size / 1e6:>6.2f} MB  "
        f"{items / seconds:>10,.0f} items/s  {seconds * 1000:>8.1f} ms  "
        f"rss +{growth / 1e6:>5.1f} MB  peak {peak / 1e6:>6.1f} MB"
    )
    return items, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rss-probe", choices=sorted(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    root: Path = args.fixtures
    if args.rss_probe:
        rss_probe(args.rss_probe, root)
        return
    rss = root / RSS_FILE
    if not rss.exists():
        sys.exit(f"no capture at {rss}: pass --fixtures DIR")

    papers = get_parser("arxiv_rss")(rss.read_bytes(), rss.as_uri())
    counts = Counter(p.announce_type for p in papers)
    verdict = "ok" if counts == EXPECTED_RSS else f"MISMATCH, expected {EXPECTED_RSS}"
    print(f"RSS announce types: { {k.value: v for k, v in counts.items()} } {verdict}")
    print(
        f"{'format':<34} {'n':>6}       {'size':>9}  {'throughput':>16}  {'best':>11}  "
        f"{'parse RSS':>11}  {'process RSS':>11}"
    )
    for name in CASES:
        bench(name, root, args.repeat)

    from lxml import etree  # the physical limit of the RSS parse: libxml2 building the tree

    data = rss.read_bytes()
    seconds = best_time(lambda: etree.fromstring(data), args.repeat)
    print(
        f"{'lxml etree.fromstring alone, RSS':<34} {1504:>6} items {'':>9}  "
        f"{1504 / seconds:>10,.0f} items/s  {seconds * 1000:>8.1f} ms"
    )

    try:
        import feedparser
    except ImportError:
        return
    seconds = best_time(lambda: feedparser.parse(data), max(1, args.repeat // 3))
    print(
        f"{'feedparser.parse alone, RSS file':<34} {1504:>6} items {'':>9}  "
        f"{1504 / seconds:>10,.0f} items/s  {seconds * 1000:>8.1f} ms"
    )


if __name__ == "__main__":
    main()
