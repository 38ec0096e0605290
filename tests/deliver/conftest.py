"""Fixtures for delivery tests: a real SMTP server on 127.0.0.1 (the store: tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.smtp_server import SmtpSink


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink()
    yield server
    server.close()
