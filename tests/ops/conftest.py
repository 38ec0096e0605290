"""Fixtures for operations tests: an installation on 127.0.0.1 and `digest` in a child process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.children import TEST_LEASE_SECONDS
from support.http_server import ScriptedServer
from support.installation import Installation, write_config
from support.smtp_server import SmtpSink


@pytest.fixture
def ops_installation(tmp_path: Path) -> Iterator[Installation]:
    http = ScriptedServer()
    smtp = SmtpSink()
    try:
        config = write_config(
            tmp_path,
            http.port,
            smtp.port,
            extra=f"\n[schedule]\nlease_seconds = {TEST_LEASE_SECONDS}\ntick_minutes = 1\n",
        )
        yield Installation(tmp_path, config, http, smtp)
    finally:
        http.close()
        smtp.close()
