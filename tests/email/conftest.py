"""Fixtures for the email tests: Jinja environment, render settings, TLS material, golden flag."""

from __future__ import annotations

import os
from collections.abc import Iterator

import jinja2
import pytest
from support.tls import Tls

from digest.compose.render import make_environment
from digest.config.settings import RenderSettings


@pytest.fixture
def regen_golden(request: pytest.FixtureRequest) -> bool:
    flag = request.config.getoption("--regen-golden", default=False)
    return bool(flag) or os.environ.get("DIGEST_REGEN_GOLDEN") == "1"


@pytest.fixture(scope="session")
def env() -> jinja2.Environment:
    return make_environment()


@pytest.fixture(scope="session")
def settings() -> RenderSettings:
    return RenderSettings(
        subject_template="{papers} for you - {date:%a %d %b}",
        intro_markdown="Good morning! Today's picks from **arXiv** and Hugging Face.",
        footer_markdown="Sent by the [ML lab digest](https://lab.example.org).",
    )


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tls]:
    yield Tls(tmp_path_factory.mktemp("tls"))
