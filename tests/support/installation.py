"""A whole installation on one machine: listings served over HTTP on 127.0.0.1, a real SMTP
server, a real SQLite file, and a config file that points the tool at them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.http_server import Reply, ScriptedServer
from support.smtp_server import Received, SmtpSink
from support.stores import opened_store

from digest.collect.fetch import Fetcher
from digest.config.load import load_settings
from digest.config.profiles import profile_from_options
from digest.config.settings import Settings
from digest.jobs.context import RunContext
from digest.jobs.run import run_once
from digest.jobs.wiring import fetcher_reader, sender_factory
from digest.models import RunReport, Subscriber

DATA = Path(__file__).resolve().parents[1] / "data"
HF_PATH = "/api/daily_papers?date={date}"
ARXIV_PATH = "/rss/cs.LG"
ARXIV_API_PATH = "/api/query"  # catch-up of missed arXiv days

ALICE = "alice@example.org"
BOB = "bob@example.org"
ALICE_WORDS = ("time series", "forecasting")
BOB_WORDS = ("reinforcement learning", "policy optimization", "reward model")
# What the ranker's stemming reduces those words to, to check each paper really matches.
ALICE_STEMS = ("time series", "time-series", "forecast")
BOB_STEMS = ("reinforcement learning", "policy optimi", "reward model")


def arxiv_ids(received: Received) -> set[str]:
    """The papers an email lists, read from the arXiv links of its text part."""
    text = received.message.get_body(("plain",))
    assert text is not None
    return set(re.findall(r"arxiv\.org/abs/(\d{4}\.\d{4,5})", text.get_content()))


def matched_lines(mail: Received) -> dict[str, str]:
    """Paper id -> its "matched: ..." line, read from each entry of the HTML part."""
    html = mail.message.get_body(("html",))
    assert html is not None
    entries = re.split(r'<p class="paper-title"', html.get_content())[1:]
    found = {}
    for entry in entries:
        link = re.search(r'href="https://arxiv\.org/abs/([0-9.]+)"', entry)
        matched = re.search(r'<p class="matched"[^>]*>(.*?)</p>', entry, re.S)
        assert link is not None and matched is not None, entry[:300]
        found[link.group(1)] = " ".join(re.sub(r"<[^>]+>", "", matched.group(1)).split())
    return found


@dataclass
class Installation:
    root: Path
    config: Path
    http: ScriptedServer
    smtp: SmtpSink

    @property
    def settings(self) -> Settings:
        return load_settings(self.config, env={})

    @property
    def database(self) -> Path:
        return self.settings.database

    def serve_day(self, day: dt.date, hf_file: str, arxiv_file: str) -> None:
        """What the sources answer on `day`: that day's HF list, the day before's, and arXiv."""
        hf_body = (DATA / hf_file).read_bytes()
        self.http.script(HF_PATH.format(date=day.isoformat()), Reply(200, hf_body, _json()))
        self.http.script(ARXIV_PATH, Reply(200, (DATA / arxiv_file).read_bytes(), _xml()))

    def subscribe(self, email: str, words: tuple[str, ...]) -> Subscriber:
        with opened_store(self.database) as store:
            return store.save_subscriber(Subscriber(email, profile_from_options(list(words))))

    def run(self, now: dt.datetime) -> RunReport:
        settings = self.settings
        with opened_store(settings.database) as store, Fetcher(settings.fetch) as fetcher:
            context = RunContext(settings, store, sender_factory(settings), clock=lambda: now)
            return run_once(context, fetcher_reader(fetcher))


def _json() -> list[tuple[str, str]]:
    return [("Content-Type", "application/json; charset=utf-8")]


def _xml() -> list[tuple[str, str]]:
    return [("Content-Type", "application/rss+xml; charset=utf-8")]


def write_config(root: Path, http_port: int, smtp_port: int, *, extra: str = "") -> Path:
    config = root / "digest.toml"
    config.write_text(
        f"""
[digest]
data_dir = "state"
semantic = false  # the model takes seconds per run; tests/e2e/test_e2e_semantic.py turns it on

[fetch]
contact = "tests@example.org"
min_interval = 0
max_attempts = 1
timeout = 5
[fetch.host_intervals]
"127.0.0.1" = 0

[[source]]
name = "huggingface"
kind = "hf_daily"
url = "http://127.0.0.1:{http_port}{HF_PATH}"

[[source]]
name = "arxiv"
kind = "arxiv_rss"
url = "http://127.0.0.1:{http_port}/rss/{{categories}}"
categories = ["cs.LG"]
catchup_url = "http://127.0.0.1:{http_port}{ARXIV_API_PATH}"

[email]
from = "Paper Digest <digest@example.org>"
list_id = "digest.example.org"
unsubscribe_url = "https://example.org/unsubscribe?token={{token}}"
unsubscribe_mailto = "unsubscribe@example.org"

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "plain"
timeout = 5
{extra}
""",
        encoding="utf-8",
    )
    return config


@contextmanager
def installed(root: Path, *, extra: str = "") -> Iterator[Installation]:
    """A whole installation under `root`, its servers stopped on the way out."""
    http, smtp = ScriptedServer(), SmtpSink()
    try:
        yield Installation(root, write_config(root, http.port, smtp.port, extra=extra), http, smtp)
    finally:
        http.close()
        smtp.close()
