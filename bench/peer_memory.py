"""Where digest's peak memory goes on bench/peer.py's job, phase by phase.

    python bench/peer_memory.py [--feed FILE]

The same job as bench/peer.py (one arXiv RSS capture of 1,504 items on 127.0.0.1, one reader
subscribed to three keywords, one digest to a local SMTP sink), run once as `digest run` in a
child process that notes its peak resident memory (VmHWM: lxml's and numpy's C heaps
included) after each phase: Python's start, the libraries a run cannot do without (numpy,
httpx, jinja2, lxml), digest's own modules, fetching and parsing the listing, storing the
papers, counting them into the day's corpus (the tokeniser, whose tokens the day's index
then shares), the day's index, and the end (composed and sent). The child imports the
libraries first, in that order, so each line is what that step added; the total is the
figure bench/peer.py reports as digest's peak.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(arguments: list[str]) -> int:
    """`digest run` in this process, a peak noted after each phase."""
    marks = [("Python's start", peak_mb())]
    import httpx
    import jinja2
    import lxml.etree
    import numpy

    del httpx, jinja2, lxml, numpy
    marks.append(("numpy, httpx, jinja2, lxml imported", peak_mb()))
    import digest.jobs.corpus as corpus
    import digest.jobs.fanout as fanout
    import digest.jobs.ingest as ingest
    import digest.jobs.service
    from digest.cli import main

    del digest.jobs.service
    marks.append(("digest's modules for a run", peak_mb()))

    def noted(module: Any, name: str, label: str, *, before: str = "") -> None:
        step: Callable[..., Any] = getattr(module, name)

        def run(*args: Any, **kwargs: Any) -> Any:
            if before:
                marks.append((before, peak_mb()))
            result = step(*args, **kwargs)
            marks.append((label, peak_mb()))
            return result

        setattr(module, name, run)

    noted(ingest, "read_all", "listing fetched and parsed")
    noted(corpus, "term_counts", "counted (the tokeniser)", before="papers stored")
    noted(fanout, "build_day_index", "the day's index (tokens shared)")
    code = main(arguments)
    marks.append(("composed and sent", peak_mb()))
    last = 0.0
    for label, peak in marks:
        print(f"  {label:38} peak {peak:6.1f} MB  (+{peak - last:5.1f})")
        last = peak
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--feed", type=Path)
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        return child(args.child)

    import peer
    from deliver import Sink

    feed = args.feed or peer.DEFAULT_FEED / peer.FEED_FILE
    server, url = peer.serve(feed.read_bytes())
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        sink = Sink()
        try:
            config = work / "digest.toml"
            config.write_text(
                peer.DIGEST_CONFIG.format(data=work, url=url, port=sink.port), encoding="utf-8"
            )
            env = peer.cached_bytecode({**os.environ, "DIGEST_SECRET": "bench-" * 8})
            digest = [sys.executable, "-m", "digest.cli", "--config", str(config)]
            words = [arg for word in peer.KEYWORDS for arg in ("-k", word)]
            subprocess.run(
                [*digest, "subscribe", peer.READER, *words],
                check=True,
                env=env,
                capture_output=True,
            )
            print(f"feed {feed.name}; digest run, peak resident memory after each phase:")
            command = [sys.executable, __file__, "--child", "--config", str(config), "run"]
            done = subprocess.run(command, env=env, check=False, stdout=subprocess.PIPE, text=True)
            print("\n".join(line for line in done.stdout.splitlines() if "peak" in line))
        finally:
            count, size, _ = sink.finish()
            server.shutdown()
    print(f"the sink received {count} message(s), {size / 1000:.0f} kB")
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
