"""Fixtures for delivery tests: a real SMTP server on 127.0.0.1 and a store in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.smtp_server import SmtpSink

from digest.store.sqlite import SqliteStore


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink()
    yield server
    server.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore.open(tmp_path / "state" / "digest.sqlite3")
    yield opened
    opened.close()
