"""Fixtures for operations tests: an installation on 127.0.0.1 and `digest` in a child process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.children import TEST_LEASE_SECONDS
from support.http_server import ScriptedServer
from support.installation import Installation, write_config
from support.smtp_server import SmtpSink

# For tests of normal operation on several machines: a claim outlives any send, even on a
# loaded machine, so a second machine never takes over a message that is still being sent
# (the crash tests use TEST_LEASE_SECONDS to see a takeover happen).
UNHURRIED_LEASE_SECONDS = 60.0


def _installation(tmp_path: Path, lease_seconds: float) -> Iterator[Installation]:
    http = ScriptedServer()
    smtp = SmtpSink()
    try:
        config = write_config(
            tmp_path,
            http.port,
            smtp.port,
            extra=f"\n[schedule]\nlease_seconds = {lease_seconds}\ntick_minutes = 1\n",
        )
        yield Installation(tmp_path, config, http, smtp)
    finally:
        http.close()
        smtp.close()


@pytest.fixture
def ops_installation(tmp_path: Path) -> Iterator[Installation]:
    yield from _installation(tmp_path, TEST_LEASE_SECONDS)


@pytest.fixture
def unhurried_ops_installation(tmp_path: Path) -> Iterator[Installation]:
    yield from _installation(tmp_path, UNHURRIED_LEASE_SECONDS)
