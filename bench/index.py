"""How long does building the day's index take, and how far is it from the physical limit?

    python bench/index.py [--sizes 500,1000,2000] [--repeat 5] [--against ../main]

Papers are real (bench/realpapers.py: every capture in ../shared/fixtures and the seed
pages, about 2,100 distinct papers). For each size, best of --repeat, wall and CPU:

- index: `build_index` with a background (what a run does: term weights from the store),
  tokenising the papers each time (the tokeniser keeps the last texts' tokens, which a run's
  index shares with the day's counting: "index, texts just counted" is that case);
- index + own stats: without a background (a preview without a store, the judged set),
  which also counts the day's stems;
- author table: built on the first followed-author look-up (not part of the above);
- limits: one pass of the word regular expression (textmatch.CHAIN_RE.findall) over the
  same text, and PyStemmer's stemWords over its distinct lower-cased words (no cache).

With --against CHECKOUT, the tokeniser of that checkout (its digest/rank/tokenise.py) and
this one tokenise the same papers in this process, alternately, --repeat times each: the
steadiest comparison on a loaded machine (best and median CPU).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import Stemmer
from realpapers import day_of, real_papers

from digest.models import Paper
from digest.rank import tokenise
from digest.rank.lexical import CorpusStats, build_index, corpus_stats
from digest.rank.tokenise import author_table
from digest.textmatch import CHAIN_RE


def best(run: Callable[[], object], repeat: int, *, fresh: bool = True) -> tuple[float, float]:
    """(wall, CPU) seconds, the best of `repeat` runs each; `fresh`: without the tokeniser's
    last result."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        if fresh:
            tokenise._last = None
        w, c = time.perf_counter(), time.process_time()
        run()
        wall = min(wall, time.perf_counter() - w)
        cpu = min(cpu, time.process_time() - c)
    return wall, cpu


def text_of(papers: list[Paper]) -> str:
    keywords = (", ".join(p.hf.ai_keywords) if p.hf else "" for p in papers)
    return "\n".join(f"{p.title}\n{p.abstract}\n{k}" for p, k in zip(papers, keywords, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,1000,2000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--against", type=Path, help="another checkout, to compare tokenisers")
    args = parser.parse_args()
    real = real_papers()
    print(
        f"{len(real)} distinct real papers; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}; best of {args.repeat}, wall / CPU"
    )
    background = corpus_stats(real)
    for size in (int(s) for s in args.sizes.split(",")):
        papers = list(real[:size]) if size <= len(real) else day_of(size)
        measure(papers, background, args.repeat)
        if args.against is not None:
            compare(papers, args.against, args.repeat)


def compare(papers: list[Paper], checkout: Path, repeat: int) -> None:
    """This tokeniser against `checkout`'s, alternately, on the same papers."""
    path = checkout / "digest" / "rank" / "tokenise.py"
    spec = importlib.util.spec_from_file_location("other_tokenise", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"no tokeniser at {path}")
    other = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = other  # (its dataclasses look their module up)
    spec.loader.exec_module(other)
    cpu: dict[str, list[float]] = {"this checkout": [], str(checkout): []}
    for _ in range(repeat):
        for label, module in (("this checkout", tokenise), (str(checkout), other)):
            start = time.process_time()
            module._tokenise(papers)
            cpu[label].append(time.process_time() - start)
    for label, times in cpu.items():
        print(
            f"  tokeniser of {label:20} best {min(times) * 1000:6.1f} ms CPU, "
            f"median {statistics.median(times) * 1000:6.1f} ms"
        )


def measure(papers: list[Paper], background: CorpusStats, repeat: int) -> None:
    text = text_of(papers)
    words = CHAIN_RE.findall(text)
    distinct = sorted({w.lower() for w in words})
    figures = {
        "index": best(lambda: build_index(papers, background=background), repeat),
        "index, texts just counted": best(
            lambda: build_index(papers, background=background), repeat, fresh=False
        ),
        "index + own stats": best(lambda: build_index(papers), repeat),
        "author table": best(lambda: author_table(papers), repeat),
        "limit: one regex pass": best(lambda: CHAIN_RE.findall(text), repeat),
        "limit: stemWords": best(lambda: Stemmer.Stemmer("english", 0).stemWords(distinct), repeat),
    }
    print(
        f"{len(papers)} papers ({len(text) / 1e6:.1f} M characters, {len(words)} words, "
        f"{len(distinct)} distinct):"
    )
    for label, (wall, cpu) in figures.items():
        print(f"  {label:26} {wall * 1000:7.1f} ms wall {cpu * 1000:7.1f} ms CPU")


if __name__ == "__main__":
    main()
