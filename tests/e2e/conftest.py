"""Fixtures for end-to-end tests: a whole installation on 127.0.0.1 (see support/installation)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.http_server import ScriptedServer
from support.installation import Installation, write_config
from support.smtp_server import SmtpSink


@pytest.fixture
def installation(tmp_path: Path) -> Iterator[Installation]:
    http = ScriptedServer()
    smtp = SmtpSink()
    try:
        config = write_config(tmp_path, http.port, smtp.port)
        yield Installation(tmp_path, config, http, smtp)
    finally:
        http.close()
        smtp.close()
