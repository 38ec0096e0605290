"""Running `digest` in child processes against an installation on 127.0.0.1 (ops tests)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from support.http_server import Reply
from support.installation import ARXIV_PATH, HF_PATH, Installation

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "ops" / "data"
# The moment a child `digest run --now` acts at (tests never read the real clock; only the
# scheduler service, which runs on the wall clock by design, is given real-today listings).
NOW = dt.datetime(2024, 11, 28, 12, 0, tzinfo=dt.UTC)  # a Thursday: arXiv announces
# A claim held by a crashed child expires this fast, so a rerun can take its message over.
TEST_LEASE_SECONDS = 1.0


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child `digest`: this checkout importable, no stray DIGEST_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def digest_command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "digest.cli", "--config", str(config), *args]


def run_digest(
    config: Path, *args: str, timeout: float = 30, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        digest_command(config, *args),
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_digest(config: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        digest_command(config, *args),
        env=child_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_all(
    procs: Sequence[subprocess.Popen[str]], timeout: float, logs: Callable[[], str]
) -> None:
    """Wait for every child within `timeout` seconds in all and check each exited 0; on a
    hang kill them all. Failures show `logs()` (what the children wrote)."""
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for other in procs:
                other.kill()
            raise AssertionError(f"a worker did not finish:\n{logs()}") from None
        assert proc.returncode == 0, logs()


def serve_small(installation: Installation, day: dt.date) -> None:
    """Short real listings (a few papers each, see data/) for `day` and the day before: a run
    ranks only these, so a child process spends its time on what the test is about."""
    hf = Reply(200, (DATA / "hf_small.json").read_bytes(), [("Content-Type", "application/json")])
    for offset in (0, 1):
        installation.http.script(HF_PATH.format(date=day - dt.timedelta(days=offset)), hf)
    arxiv = (DATA / "arxiv_small.xml").read_bytes()
    installation.http.script(
        ARXIV_PATH, Reply(200, arxiv, [("Content-Type", "application/rss+xml")])
    )


def serve_today(installation: Installation) -> None:
    """Listings for the real today, for the scheduler service (it runs on the real clock)."""
    serve_small(installation, dt.datetime.now(dt.UTC).date())
