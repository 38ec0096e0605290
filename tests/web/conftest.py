"""A whole installation with its pages: listings on 127.0.0.1, a real SMTP sink, a real
SQLite file, and `digest serve`'s app under uvicorn, its [web] base_url pointing at itself."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from support.http_server import ScriptedServer
from support.installation import Installation, write_config
from support.smtp_server import Received, SmtpSink, free_port
from support.web_server import WebServer

from digest.config.load import load_settings
from digest.config.settings import Settings
from digest.web.app import create_app

# The moment the pages and the runs act at: tests never read the real clock.
NOW = dt.datetime(2024, 11, 28, 12, 0, tzinfo=dt.UTC)  # a Thursday: arXiv announces
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Site:
    installation: Installation
    server: WebServer
    settings: Settings

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def mails(self) -> list[Received]:
        return self.installation.smtp.handler.received

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=10)

    def links_to(self, address: str, path: str, *, at_least: int = 1) -> list[str]:
        """Links of this site under `path` in the mails sent to `address`, in order. The
        pages mail after answering, so this waits (a few seconds at most) for `at_least`."""
        pattern = re.escape(self.url + path) + r"[A-Za-z0-9_.\-]+"

        def found() -> list[str]:
            links = []
            for mail in self.installation.smtp.handler.to(address):
                text = mail.message.get_body(("plain",))
                assert text is not None
                links += re.findall(pattern, text.get_content())
            return links

        self._arrival(lambda: len(found()) >= at_least)
        return found()

    def wait_for_mails(self, address: str, count: int) -> list[Received]:
        self._arrival(lambda: len(self.installation.smtp.handler.to(address)) >= count)
        return self.installation.smtp.handler.to(address)

    def _arrival(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until `condition` holds, woken by each message the server accepts; after
        `timeout` seconds return anyway (the caller's assertion then says what is missing)."""
        handler = self.installation.smtp.handler
        with handler.lock:
            handler.lock.wait_for(condition, timeout)

    def run(self) -> None:
        """`digest run`: fetch the day's listings and mail every active subscriber."""
        report = self.installation.run(NOW)
        assert report.ok, report


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def serve_today(installation: Installation) -> None:
    today = NOW.date()
    for offset in (0, 1, 2):
        installation.serve_day(today - dt.timedelta(days=offset), "hf_day1.json", "arxiv_day1.xml")


def make_site(tmp_path: Path, extra: str = "") -> Iterator[Site]:
    http, smtp = ScriptedServer(), SmtpSink()
    port = free_port()
    web = f'\n[web]\nbase_url = "http://127.0.0.1:{port}"\n{extra}\n'
    config = write_config(tmp_path, http.port, smtp.port, extra=web)
    # [web] base_url gives the pages' own links; the shared test config names another URL.
    text = config.read_text().replace(
        'unsubscribe_url = "https://example.org/unsubscribe?token={token}"\n', ""
    )
    config.write_text(text)
    installation = Installation(tmp_path, config, http, smtp)
    serve_today(installation)
    installation.run(NOW)  # the store holds today's papers
    settings = load_settings(config, env={})
    server = WebServer(create_app(settings, clock=lambda: NOW), port)
    try:
        yield Site(installation, server, settings)
    finally:
        server.close()
        http.close()
        smtp.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path)
