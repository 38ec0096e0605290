"""Fixtures for the fetch tests: a scripted local HTTP server, a fake clock, Fetcher factory."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from support.http_server import TEST_USER_AGENT, FakeTime, MakeFetcher, ScriptedServer

from digest.collect.fetch import Fetcher
from digest.config.settings import FetchSettings


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    yield scripted
    scripted.close()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_fetcher(fake_time: FakeTime) -> Iterator[MakeFetcher]:
    """Build Fetchers on the fake clock; settings default to quick, interval-free ones."""
    made: list[Fetcher] = []

    def make(**overrides: Any) -> Fetcher:
        options: dict[str, Any] = {
            "user_agent": TEST_USER_AGENT,
            "timeout": 2.0,
            "max_attempts": 4,
            "backoff_base": 1.0,
            "default_interval": 0.0,
        }
        options.update(overrides)
        fetcher = Fetcher(
            FetchSettings(**options),
            sleep=fake_time.sleep,
            clock=fake_time.clock,
            rng=random.Random(20240501),
        )
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        fetcher.close()
