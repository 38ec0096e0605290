"""A whole installation with its pages: listings on 127.0.0.1, a real SMTP sink, a real
SQLite file, and `digest serve`'s app under uvicorn, its [web] base_url pointing at itself."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
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
        deadline = time.monotonic() + 5
        while True:
            found = []
            for mail in self.installation.smtp.handler.to(address):
                text = mail.message.get_body(("plain",))
                assert text is not None
                found += re.findall(pattern, text.get_content())
            if len(found) >= at_least or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def wait_for_mails(self, address: str, count: int) -> list[Received]:
        deadline = time.monotonic() + 5
        while len(self.installation.smtp.handler.to(address)) < count:
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        return self.installation.smtp.handler.to(address)

    def run(self) -> None:
        """`digest run`: fetch the day's listings and mail every active subscriber."""
        report = self.installation.run(dt.datetime.now(dt.UTC))
        assert report.ok, report


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def serve_today(installation: Installation) -> None:
    today = dt.datetime.now(dt.UTC).date()
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
    installation.run(dt.datetime.now(dt.UTC))  # the store holds today's papers
    settings = load_settings(config, env={})
    server = WebServer(create_app(settings), port)
    try:
        yield Site(installation, server, settings)
    finally:
        server.close()
        http.close()
        smtp.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path)
