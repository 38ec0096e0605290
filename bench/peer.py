"""digest beside rss2email on the same job, measured in one run, alternately.

    python bench/peer.py [--rounds 5] [--feed FILE] [--venv DIR] [--sink aiosmtpd|lean]

The job a user would otherwise give rss2email: one arXiv RSS listing (by default the 1,504-item
capture of 28 Nov 2024 from ../shared/fixtures) served on 127.0.0.1, one reader, one digest
mail to a local SMTP sink, fresh state each time. rss2email (installed into a temporary
virtual environment from the package index, or the one `--venv` names) runs with `digest =
True`, which sends all new entries in one message; digest runs `digest run` with a config
that reads the same URL. Only the job command is timed (`r2e run`, `digest run`): the
one-time set-up (`r2e new` + `r2e add`, `digest subscribe`) is not. Each command's wall
time and peak resident memory come from os.wait4, per process. The sink (bench/sink.py:
aiosmtpd, or --sink lean) runs in its own process and must receive exactly one message per
job.

Prints each round, then the medians and the ratio rss2email / digest, and the physical limits
beside them: Python's start, importing what digest's run cannot do without (numpy, httpx,
jinja2, lxml), lxml's parse of the feed alone, and the sink's CPU per message. No target is
asserted: the figures are for the README and the issue notes. The machine's speed drifts,
which is why both tools run alternately in the same invocation.

Both tools run with compiled bytecode cached (PYTHONDONTWRITEBYTECODE is removed from their
environment and each runs once before the rounds), as an installed package does.
"""

from __future__ import annotations

import argparse
import configparser
import http.server
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from deliver import speed_check
from sink import KINDS, Sink

DEFAULT_FEED = REPO.parent / "shared" / "fixtures" / "arxiv_rss"
FEED_FILE = "arxiv_rss_new_allarchives_2024-11-28.xml"
READER = "reader@example.org"
KEYWORDS = ("diffusion model", "reinforcement learning", "graph neural network")

DIGEST_CONFIG = """
[digest]
data_dir = "{data}"
semantic = false

[[source]]
name = "arxiv"
kind = "arxiv_rss"
url = "{url}"
catchup_url = ""

[fetch]
contact = "bench@example.org"
min_interval = 0
[fetch.host_intervals]
"127.0.0.1" = 0

[email]
from = "Paper Digest <digest@example.org>"

[smtp]
host = "127.0.0.1"
port = {port}
security = "plain"

[logging]
level = "warning"
"""

R2E_SETTINGS = {
    "from": "digest@example.org",
    "digest": "True",
    "email-protocol": "smtp",
    "smtp-server": "127.0.0.1",
    "smtp-auth": "False",
    "smtp-ssl": "False",
    "same-server-fetch-interval": "0",
}


@dataclass(frozen=True, slots=True)
class Measured:
    seconds: float
    peak_mb: float


def serve(feed: bytes) -> tuple[http.server.ThreadingHTTPServer, str]:
    """The capture on 127.0.0.1, for any path, as arXiv serves it."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(feed)))
            self.end_headers()
            self.wfile.write(feed)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/rss/cs"


def cached_bytecode(env: dict[str, str]) -> dict[str, str]:
    """`env` without PYTHONDONTWRITEBYTECODE: an installed package has its .pyc files."""
    return {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(command: list[str], env: dict[str, str]) -> Measured:
    """Run `command`; its own wall time and peak RSS (os.wait4 gives them per process)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.returncode not in (0,):
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}:\n{errors[-2000:]}")
    return Measured(seconds, usage.ru_maxrss / 1024)  # ru_maxrss is in KiB on Linux


def rss2email_venv(chosen: Path | None, scratch: Path) -> Path:
    if chosen is not None:
        return chosen
    venv = scratch / "rss2email-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "rss2email"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return venv


def run_rss2email(venv: Path, url: str, port: int, work: Path) -> Measured:
    config, data = work / "r2e.cfg", work / "r2e.json"
    r2e = [str(venv / "bin" / "r2e"), "-c", str(config), "-d", str(data)]
    env = cached_bytecode({**os.environ, "HOME": str(work)})
    subprocess.run([*r2e, "new", READER], check=True, env=env, capture_output=True)
    subprocess.run([*r2e, "add", "arxiv", url], check=True, env=env, capture_output=True)
    # `r2e new` wrote its defaults; send over SMTP to the sink, all entries in one message.
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(config, encoding="utf-8")
    parser["DEFAULT"].update({**R2E_SETTINGS, "smtp-port": str(port)})
    with config.open("w", encoding="utf-8") as file:
        parser.write(file)
    return measure([*r2e, "run"], env)


def run_digest(url: str, port: int, work: Path) -> Measured:
    config = work / "digest.toml"
    config.write_text(DIGEST_CONFIG.format(data=work, url=url, port=port), encoding="utf-8")
    digest = [sys.executable, "-m", "digest.cli", "--config", str(config)]
    env = cached_bytecode({**os.environ, "DIGEST_SECRET": "bench-" * 8})
    words = [arg for word in KEYWORDS for arg in ("-k", word)]
    subprocess.run([*digest, "subscribe", READER, *words], check=True, env=env, capture_output=True)
    return measure([*digest, "run"], env)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--sink", choices=KINDS, default="aiosmtpd", help="the SMTP server (bench/sink.py)"
    )
    parser.add_argument("--feed", type=Path, default=DEFAULT_FEED / FEED_FILE)
    parser.add_argument("--venv", type=Path, help="an existing virtual env with rss2email")
    args = parser.parse_args()

    server, url = serve(args.feed.read_bytes())
    results: dict[str, list[Measured]] = {"rss2email": [], "digest": []}
    print(f"feed {args.feed.name} ({args.feed.stat().st_size / 1e6:.1f} MB); {os.cpu_count()} CPUs")
    print(f"speed check: {speed_check():.2f} s (sum(range(10**7)); about 0.20 s at normal speed)")
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        venv = rss2email_venv(args.venv, scratch)
        sink_cpu: list[float] = []
        for number in range(-1, args.rounds):  # round -1 (not counted) writes the bytecode
            for tool in ("rss2email", "digest") if number % 2 == 0 else ("digest", "rss2email"):
                work = scratch / f"{tool}-{number}"
                work.mkdir()
                sink = Sink(args.sink)
                try:
                    if tool == "rss2email":
                        measured = run_rss2email(venv, url, sink.port, work)
                    else:
                        measured = run_digest(url, sink.port, work)
                finally:
                    count, size, cpu = sink.finish()
                if count != 1:
                    raise SystemExit(f"{tool} sent {count} messages, not one digest")
                if number < 0:
                    continue
                results[tool].append(measured)
                if tool == "digest":
                    sink_cpu.append(cpu)
                print(
                    f"  round {number + 1} {tool:9}: {measured.seconds:5.2f} s, "
                    f"peak {measured.peak_mb:5.1f} MB, one message of {size / 1e3:.0f} kB"
                )
    server.shutdown()

    medians = {
        tool: (
            statistics.median(m.seconds for m in runs),
            statistics.median(m.peak_mb for m in runs),
        )
        for tool, runs in results.items()
    }
    for tool, (seconds, peak) in medians.items():
        print(f"{tool:9} median {seconds:.2f} s, peak {peak:.1f} MB")
    (r2e_s, r2e_mb), (dig_s, dig_mb) = medians["rss2email"], medians["digest"]
    speed, memory = r2e_s / dig_s, dig_mb / r2e_mb
    print(f"digest is {speed:.2f}x as fast as rss2email, with {memory:.2f}x the memory")
    print("physical limits (best of 5):")
    print(f"  python -c pass                          {python_start('pass'):.3f} s")
    print(f"  python -c 'import {LIBRARIES}'  {python_start('import ' + LIBRARIES):.3f} s")
    print(f"  lxml parse of the feed alone            {lxml_parse(args.feed):.3f} s")
    print(f"  the {args.sink} sink's CPU for digest's message {statistics.median(sink_cpu):.3f} s")
    return 0


LIBRARIES = "numpy, httpx, jinja2, lxml.etree"  # what digest's run cannot do without


def python_start(code: str) -> float:
    """Wall seconds of the fastest of five `python -c code`, bytecode cached."""
    best = float("inf")
    env = cached_bytecode(dict(os.environ))
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        best = min(best, time.perf_counter() - start)
    return best


def lxml_parse(feed: Path) -> float:
    """Wall seconds of the fastest of five parses of the feed's bytes into a tree."""
    from lxml import etree

    data, best = feed.read_bytes(), float("inf")
    for _ in range(5):
        start = time.perf_counter()
        etree.fromstring(data, etree.XMLParser(resolve_entities=False, huge_tree=True))
        best = min(best, time.perf_counter() - start)
    return best


if __name__ == "__main__":
    raise SystemExit(main())
