"""The subscriber's pages under load, and the preview's cost on a 2,000-paper day.

    python bench/web.py [--fixtures DIR] [--papers 2000] [--requests 4000] [--seconds 15]
                        [--connections 16]

1. Builds a store from the real captures (the 1,504-item arXiv RSS of 2024-11-28, the arXiv
   API and list captures, every Hugging Face list), topped up with copies of those papers
   to --papers when the captures hold fewer; times "today's digest for this profile"
   (digest.jobs.storepreview, the page's own code) for the example profiles: the first call
   (which builds the day index) and the following ones (which reuse it).
2. Starts `digest serve`'s app under uvicorn in a subprocess on 127.0.0.1 and, from this
   process, sends keep-alive HTTP/1.1 requests over --connections connections until
   --requests answers or --seconds have passed: GET / (the landing page), then one-click
   unsubscribe POSTs, each for another subscriber. Prints requests/s and latency percentiles.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from digest.collect.sources import get_parser
from digest.compose.tokens import make_unsubscribe_token
from digest.config.load import load_settings
from digest.config.profiles import load_profile
from digest.jobs.context import signing_keys
from digest.jobs.storepreview import StorePreviewer
from digest.models import Paper, Subscriber
from digest.store import open_store

DEFAULT_FIXTURES = REPO.parent / "shared" / "fixtures"
CAPTURES = {
    "arxiv_rss": ["arxiv_rss/arxiv_rss_new_allarchives_2024-11-28.xml"],
    "arxiv_api": [
        "arxiv_api/arxiv_api_query_all_testing_max100_2026-04-12_newformat.xml",
        "arxiv_api/arxiv_api_query_cat_cs.AI_LG_CL_max25_2026-08-02_newformat.xml",
        "arxiv_api/arxiv_api_query_transformer_cs.LG_2026-06-14_newformat.xml",
    ],
    "arxiv_list": ["arxiv_list/arxiv_list_cs.CL_recent_2026-07-28.html"],
    "hf_daily": [
        f"hf_daily_papers/hf_api_daily_papers_{d}.json"
        for d in ("2024-10-25", "2026-05-08", "2026-06-12", "2026-07-31")
    ],
}
PROFILES = sorted((REPO / "config" / "profiles").glob("*.toml"))


def day_of_papers(fixtures: Path, wanted: int) -> tuple[list[Paper], int]:
    papers: dict[str, Paper] = {}
    for kind, files in CAPTURES.items():
        parse = get_parser(kind)
        source = "huggingface" if kind == "hf_daily" else "arxiv"  # as collect names them
        for name in files:
            path = fixtures / name
            for paper in parse(path.read_bytes(), path.as_uri()):
                papers.setdefault(paper.id, dataclasses.replace(paper, sources=(source,)))
    real = list(papers.values())
    day = list(real)
    copy = 0
    while len(day) < wanted:  # copies keep the real text, under another id
        source = real[copy % len(real)]
        day.append(dataclasses.replace(source, id=f"url:copy{copy}-{source.id}"))
        copy += 1
    return day[:wanted], len(real)


def write_config(root: Path, port: int) -> Path:
    config = root / "digest.toml"
    config.write_text(
        f'[digest]\ndata_dir = "{root}"\nsemantic = false\n\n'
        '[[source]]\nname = "huggingface"\nkind = "hf_daily"\n'
        'url = "https://huggingface.co/api/daily_papers?date={date}"\n\n'
        '[[source]]\nname = "arxiv"\nkind = "arxiv_rss"\nurl = "https://rss.arxiv.org/rss/{categories}"\n\n'
        f'[web]\nport = {port}\nbase_url = "http://127.0.0.1:{port}"\n'
        "client_limit = 100000\naddress_limit = 1000\n",
        encoding="utf-8",
    )
    return config


def time_preview(config: Path, count: int) -> None:
    settings = load_settings(config, env={})
    previewer = StorePreviewer(settings)
    now = dt.datetime.now(dt.UTC)
    with closing(open_store(settings.database)) as store:
        for path in PROFILES:
            subscriber = Subscriber("preview@example.org", load_profile(path))
            started = time.perf_counter()
            previewer.day_index(store, subscriber, now) if path == PROFILES[0] else None
            cold = time.perf_counter() - started
            runs = []
            for _ in range(count):
                started = time.perf_counter()
                result = previewer.preview(store, subscriber, now)
                runs.append(time.perf_counter() - started)
            cold_text = f"index built once in {cold * 1000:6.0f} ms; " if cold > 0.001 else ""
            print(
                f"  {path.stem:18} {cold_text}preview median {statistics.median(runs) * 1000:5.1f}"
                f" ms, max {max(runs) * 1000:5.1f} ms ({len(result.papers)} papers shown, "
                f"{result.digest.matched_count} matched)"
            )
    fresh = StorePreviewer(settings)
    with closing(open_store(settings.database)) as store:
        subscriber = Subscriber("preview@example.org", load_profile(PROFILES[0]))
        started = time.perf_counter()
        fresh.preview(store, subscriber, now)
        print(
            f"  first preview after a start (index + ranking): "
            f"{(time.perf_counter() - started) * 1000:.0f} ms"
        )


# --- load generator -----------------------------------------------------------------------


async def one_connection(
    port: int, requests: list[bytes], budget: list[int], deadline: float, latencies: list[float]
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done, position = 0, 0
    try:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            started = time.perf_counter()
            writer.write(requests[position % len(requests)])
            position += 1
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
            latencies.append(time.perf_counter() - started)
            done += 1
    finally:
        writer.close()
    return done


async def load(port: int, per_connection: list[list[bytes]], total: int, seconds: float) -> None:
    budget = [total]
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds
    counts = await asyncio.gather(
        *(one_connection(port, reqs, budget, deadline, latencies) for reqs in per_connection)
    )
    elapsed = time.perf_counter() - started
    done = sum(counts)
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    print(
        f"  {done} requests in {elapsed:.2f} s: {done / elapsed:.0f}/s "
        f"(p50 {p50:.1f} ms, p99 {p99:.1f} ms)"
    )


def get(path: str, port: int) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: bench\r\n\r\n").encode()


def one_click(token: str, port: int) -> bytes:
    body = b"List-Unsubscribe=One-Click"
    return (
        f"POST /unsubscribe/{token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def wait_for(port: int, server: subprocess.Popen[bytes]) -> None:
    import socket

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--previews", type=int, default=20)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)  # the subprocess
    args = parser.parse_args()
    if args.serve:
        import uvicorn

        from digest.web.app import create_app

        settings = load_settings(args.serve, env={})
        uvicorn.run(
            create_app(settings),
            host="127.0.0.1",
            port=settings.web.port,
            log_level="warning",
            access_log=False,
            log_config=None,
        )
        return

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        port = _free_port()
        config = write_config(root, port)
        settings = load_settings(config, env={})
        papers, real = day_of_papers(args.fixtures, args.papers)
        now = dt.datetime.now(dt.UTC)
        with closing(open_store(settings.database)) as store:
            store.save_papers(papers, now)
            key = signing_keys(settings, store)[0]
            profile = load_profile(PROFILES[0])
            tokens = []
            for number in range(min(args.requests, 20_000)):
                email = f"reader{number}@example.org"
                store.save_subscriber(Subscriber(email, profile))
                tokens.append(make_unsubscribe_token(key, email))
        print(
            f"Store: {len(papers)} papers on one day ({real} distinct from the captures, "
            f"{len(papers) - real} copies), {len(tokens)} subscribers"
        )
        print("Today's digest for a profile (the preview the landing page shows):")
        time_preview(config, args.previews)

        env = {**os.environ, "PYTHONPATH": str(REPO)}
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(config)], env=env)
        try:
            wait_for(port, server)
            connections = args.connections
            print(f"Landing page, GET / ({connections} connections, uvicorn in another process):")
            asyncio.run(load(port, [[get("/", port)]] * connections, args.requests, args.seconds))
            print(
                f"One-click unsubscribe, POST ({connections} connections, a new subscriber each):"
            )
            shares = [
                [one_click(t, port) for t in tokens[i::connections]] for i in range(connections)
            ]
            asyncio.run(load(port, shares, len(tokens), args.seconds))
        finally:
            server.terminate()
            server.wait(timeout=10)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


if __name__ == "__main__":
    main()
